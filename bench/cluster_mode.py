"""Cluster mode (`--cluster K`): K server processes as the nodes of one cluster, and what
the shared services did while they ran.

The nodes are configured as tests/test_cluster.py and the README's "Running on several
machines" configure them: the same PostgreSQL database, Redis and secret key, each node on
its own loopback address (127.0.0.2, .3, ...) for HTTP and media (PROCTOR_ICE_HOSTS). The
PostgreSQL cluster and Redis are the tests' own (tests/services.py: private, Unix sockets
only), started once per run; each level gets a fresh database and an emptied Redis.

`Counters` are read at the start and the end of the measured window: Redis's
`total_commands_processed` and its calls by command, PostgreSQL's transactions, rows written
(by table) and WAL bytes for the level's database, and the CPU both used (their process
trees, /proc).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import procstats
from redis import Redis as RedisClient

from tests.services import Postgres, Redis

SECRET = secrets.token_urlsafe(48)
"""One key for every node of the run (a cluster refuses to start without a shared one)."""


@dataclass
class Services:
    postgres: Postgres
    redis: Redis

    def node_env(self, database_url: str, index: int, host: str) -> dict[str, str]:
        """Node `index`'s settings: tests/test_cluster.py's `node_env`, with the server's
        default capacity and admission (this measures them)."""
        return {
            "PROCTOR_DATABASE_URL": database_url,
            "PROCTOR_REDIS_URL": self.redis.url,
            "PROCTOR_SECRET_KEY": SECRET,
            "PROCTOR_NODE_ID": f"node{index}",
            "PROCTOR_HOST": host,
            "PROCTOR_ICE_HOSTS": host,
        }

    def fresh_database(self) -> str:
        """A new empty database (the first node to start migrates it) and an empty Redis."""
        with RedisClient(unix_socket_path=str(self.redis.socket)) as client:
            client.flushall()
        return self.postgres.new_database()


@contextlib.contextmanager
def running_services() -> Iterator[Services]:
    postgres = Postgres().start()
    try:
        redis = Redis().start()
        try:
            yield Services(postgres, redis)
        finally:
            redis.close()
    finally:
        postgres.stop()


def node_host(index: int) -> str:
    """Node `index`'s own address: all of 127.0.0.0/8 is on `lo`."""
    return f"127.0.0.{index + 2}"


def _postmaster_pid(postgres: Postgres) -> int:
    return int((postgres.data / "postmaster.pid").read_text().split()[0])


def _tree_cpu(pid: int | None) -> float | None:
    tree = procstats.tree_sample(pid) if pid is not None else None
    return None if tree is None else tree.cpu_s


PG_TOTALS = """
SELECT xact_commit, tup_inserted, tup_updated, tup_deleted,
       pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint
FROM pg_stat_database WHERE datname = current_database()
"""
PG_CONNECTIONS = """
SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
"""
PG_TABLES = """
SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables
"""


def snapshot(services: Services, database_url: str) -> dict[str, Any]:
    """The shared services' counters now (blocking: run it in a thread)."""
    database = database_url.partition("@/")[2].partition("?")[0]
    with RedisClient(unix_socket_path=str(services.redis.socket)) as client:
        stats = client.info("stats")
        commands = client.info("commandstats")
        clients = int(client.info("clients")["connected_clients"]) - 1  # not this one
    # The statistics a backend reports are flushed at most once a second (PostgreSQL 15).
    xacts, inserted, updated, deleted, wal = (
        int(v) for v in services.postgres.psql(PG_TOTALS, database).split("|")
    )
    connections = int(services.postgres.psql(PG_CONNECTIONS, database)) - 1  # not psql's own
    tables = {}
    for line in services.postgres.psql(PG_TABLES, database).splitlines():
        name, _, rows = line.partition("|")
        tables[name] = int(rows)
    redis_process = services.redis.process
    return {
        "redis_commands": int(stats["total_commands_processed"]),
        "redis_bytes_in": int(stats["total_net_input_bytes"]),
        "redis_bytes_out": int(stats["total_net_output_bytes"]),
        "redis_clients": clients,
        "redis_by_command": {
            name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in commands.items()
        },
        "redis_cpu_s": _tree_cpu(redis_process.pid if redis_process else None),
        "pg_xact_commit": xacts,
        "pg_rows_written": inserted + updated + deleted,
        "pg_rows_inserted": inserted,
        "pg_rows_updated": updated,
        "pg_wal_bytes": wal,
        "pg_rows_by_table": tables,
        "pg_connections": connections,
        "pg_cpu_s": _tree_cpu(_postmaster_pid(services.postgres)),
    }


def _delta(a: dict[str, int], b: dict[str, int], seconds: float, n: int) -> dict[str, float]:
    """Per candidate per second, largest first, zeros left out."""
    rates = {k: (b.get(k, 0) - a.get(k, 0)) / seconds / n for k in b}
    return {k: round(v, 4) for k, v in sorted(rates.items(), key=lambda kv: -kv[1]) if v > 0}


def service_figures(
    before: dict[str, Any], after: dict[str, Any], seconds: float, n: int
) -> dict[str, Any]:
    """What Redis and PostgreSQL did per candidate per second over the window (n live
    candidates), and the cores each used."""

    def rate(key: str) -> float:
        return (after[key] - before[key]) / seconds / n

    def cores(key: str) -> float | None:
        if before[key] is None or after[key] is None:
            return None
        return (after[key] - before[key]) / seconds

    return {
        "seconds": seconds,
        "redis_ops_per_candidate_s": rate("redis_commands"),
        "redis_ops_by_command": _delta(
            before["redis_by_command"], after["redis_by_command"], seconds, n
        ),
        "redis_bytes_in_per_candidate_s": rate("redis_bytes_in"),
        "redis_bytes_out_per_candidate_s": rate("redis_bytes_out"),
        "redis_clients": after["redis_clients"],
        "redis_cores": cores("redis_cpu_s"),
        "pg_commits_per_candidate_s": rate("pg_xact_commit"),
        "pg_rows_written_per_candidate_s": rate("pg_rows_written"),
        "pg_rows_inserted_per_candidate_s": rate("pg_rows_inserted"),
        "pg_rows_updated_per_candidate_s": rate("pg_rows_updated"),
        "pg_wal_bytes_per_candidate_s": rate("pg_wal_bytes"),
        "pg_rows_by_table": _delta(
            before["pg_rows_by_table"], after["pg_rows_by_table"], seconds, n
        ),
        "pg_connections": after["pg_connections"],
        "pg_cores": cores("pg_cpu_s"),
    }
