"""Once a second during a run: CPU and memory from /proc (the servers' process trees, the
generators, the machine) and the servers' live counters (GET /api/stats/live)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import procstats
from nodes import Node


@dataclass
class Sample:
    at: float
    server: procstats.TreeSample | None
    generators: float
    machine_busy: float
    machine_total: float
    stats: dict[str, Any] | None = None
    stats_rtt: float | None = None
    """Round trip of the stats request: the server's event loop lag shows in it."""
    roles: dict[str, float] = field(default_factory=dict)
    """Server CPU seconds by kind of process (`procstats.ROLES`), all servers together."""
    processes: list[tuple[int, procstats.ProcessSample]] | None = None
    """Every `DETAIL_EVERY` samples: each server process (with its server's index) and its
    memory, threads and open files."""


DETAIL_EVERY = 10


def _servers_tree(nodes: list[Node]) -> procstats.TreeSample | None:
    """The servers' process trees added up; None once any server is gone."""
    trees = [procstats.tree_sample(node.server.process.pid) for node in nodes]
    present = [tree for tree in trees if tree is not None]
    if len(present) < len(trees):
        return None
    return procstats.TreeSample(
        sum(t.cpu_s for t in present),
        sum(t.rss_bytes for t in present),
        sum(t.processes for t in present),
    )


def _process_sample(nodes: list[Node], generator_pids: list[int], detail: bool) -> Sample:
    busy, total = procstats.machine_cpu()
    generators = 0.0
    for pid in generator_pids:
        tree = procstats.tree_sample(pid)
        generators += 0.0 if tree is None else tree.cpu_s
    sample = Sample(time.monotonic(), _servers_tree(nodes), generators, busy, total)
    for node in nodes:
        for role, seconds in procstats.cpu_by_role(node.server.process.pid).items():
            sample.roles[role] = sample.roles.get(role, 0.0) + seconds
    if detail:
        sample.processes = [
            (index, process)
            for index, node in enumerate(nodes)
            for process in procstats.process_samples(node.server.process.pid)
        ]
    return sample


async def _live_stats(nodes: list[Node]) -> dict[str, Any]:
    """The servers' live counters merged, session ids made unique with each node's offset."""
    merged: dict[str, Any] = {"now": 0.0, "peers": 0, "executor_queue": 0, "sessions": []}
    replies = await asyncio.gather(
        *(n.api.call("GET", "/api/stats/live", n.setup.admin) for n in nodes)
    )
    for node, reply in zip(nodes, replies, strict=True):
        merged["now"] = reply["now"]
        merged["peers"] += reply["peers"]
        merged["executor_queue"] += reply.get("executor_queue") or 0
        for key in ("analysis_load", "loop_lag_s"):  # the busiest node's
            merged[key] = max(merged.get(key) or 0.0, reply.get(key) or 0.0)
        for item in reply["sessions"]:
            merged["sessions"].append({**item, "session_id": node.key(item["session_id"])})
    return merged


async def sampler(
    nodes: list[Node],
    generator_pids: list[int],
    stop_at: float,
    out: list[Sample],
    poll_stats: bool,
) -> None:
    """Appends a `Sample` to `out` once a second until `stop_at`; with `poll_stats`, each
    with the live counters and their round trip (a failed poll leaves them None)."""
    next_at = time.monotonic()
    while next_at <= stop_at:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        sample = _process_sample(nodes, generator_pids, len(out) % DETAIL_EVERY == 0)
        if poll_stats:
            sent = time.monotonic()
            with contextlib.suppress(Exception):
                sample.stats = await _live_stats(nodes)
                sample.stats_rtt = time.monotonic() - sent
        out.append(sample)
        next_at = max(next_at + 1.0, time.monotonic() + 0.5)  # no bursts after a slow poll


def window(samples: list[Sample], start: float, end: float) -> list[Sample]:
    return [s for s in samples if start <= s.at <= end]


def cpu_rate(samples: list[Sample]) -> dict[str, Any]:
    """Cores used by the server, the generators and the whole machine over the samples."""
    good = [s for s in samples if s.server is not None]
    if len(good) < 2:
        return {"server_cores": None, "generator_cores": None, "machine_busy": None}
    first, last = good[0], good[-1]
    seconds = last.at - first.at
    assert first.server is not None and last.server is not None
    return {
        "server_cores_by_role": {
            role: round((last.roles.get(role, 0.0) - first.roles.get(role, 0.0)) / seconds, 3)
            for role in procstats.ROLES
        },
        "server_cores": (last.server.cpu_s - first.server.cpu_s) / seconds,
        "generator_cores": (last.generators - first.generators) / seconds,
        "machine_busy": (last.machine_busy - first.machine_busy)
        / max(1e-9, last.machine_total - first.machine_total),
    }
