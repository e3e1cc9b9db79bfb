"""The server processes of one level, each with its accounts and attempts.

With `--servers k` the candidates are spread evenly over k independent servers (one
process per core, emulated); session ids are made unique across them with an offset.
With `--cluster k` the k servers are nodes of one cluster (bench/cluster_mode.py): the
accounts and attempts are made once, and candidate i offers through node i % k (the cluster
places the attempt, maybe on another node).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from rest import Api, Setup, set_up, start_sessions, stored_incidents, submit_all
from server_process import Server

OFFSET = 1_000_000
"""Added to server i's session ids times i: more than any one server hands out in a run."""


@dataclass
class Node:
    """One server process of the run, with its accounts and attempts."""

    server: Server
    api: Api
    setup: Setup
    offset: int
    """Added to this server's session ids to make them unique across servers."""
    sessions: list[int] = field(default_factory=list)

    def key(self, session_id: int) -> int:
        return self.offset + session_id


Attempt = tuple[Node, int, str]
"""(the node, a session id on it, the candidate's token)."""


async def start_servers(
    http: aiohttp.ClientSession,
    tree: Path,
    workdir: Path,
    env: dict[str, str],
    own: list[dict[str, str]],
    cpus: str = "",
) -> list[Server]:
    """One server per item of `own` (its own settings, over `env`). Nodes of a cluster start
    one after the other, the first migrating the shared database and creating the admin."""
    servers: list[Server] = []
    try:
        for index, settings in enumerate(own):
            (workdir / f"server{index}").mkdir()
            host = settings.get("PROCTOR_HOST", "127.0.0.1")
            extra = {**settings, **env}
            servers.append(
                Server.start(tree, workdir / f"server{index}", extra, host=host, cpus=cpus)
            )
            if "PROCTOR_REDIS_URL" in settings:
                await servers[-1].wait_ready(http)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


async def set_up_cluster(http: aiohttp.ClientSession, servers: list[Server], n: int) -> list[Node]:
    """The accounts and attempts made once through the first node; node i gets the
    candidates i, i + k, ... to offer through it."""
    apis = [Api(http, server.url) for server in servers]
    for server in servers:
        await server.wait_ready(http)
    setup = await set_up(apis[0], n, f"n{n}")
    sessions = await start_sessions(apis[0], setup, setup.exams[0])
    count = len(servers)
    return [
        Node(server, api, replace(setup, tokens=setup.tokens[i::count],
                                  usernames=setup.usernames[i::count]),
             offset=0, sessions=sessions[i::count])
        for i, (server, api) in enumerate(zip(servers, apis, strict=True))
    ]  # fmt: skip


async def set_up_nodes(http: aiohttp.ClientSession, servers: list[Server], n: int) -> list[Node]:
    """Waits for each server, gives it its share of the n candidates and starts their
    attempts on the first exam."""
    nodes = []
    count = len(servers)
    for index, server in enumerate(servers):
        api = Api(http, server.url)
        await server.wait_ready(http)
        share = n // count + (1 if index < n % count else 0)
        setup = await set_up(api, share, f"n{n}")
        node = Node(server, api, setup, offset=index * OFFSET)
        node.sessions = await start_sessions(api, setup, setup.exams[0])
        nodes.append(node)
    return nodes


async def start_exam(nodes: list[Node], exam: int) -> None:
    """Every candidate starts an attempt on exam number `exam` (0 or 1) of its server."""
    for node in nodes:
        node.sessions = await start_sessions(node.api, node.setup, node.setup.exams[exam])


def attempts(nodes: list[Node]) -> list[Attempt]:
    """Every current attempt, the servers interleaved (candidate i talks to server i % k)."""
    everyone = [
        (node, sid, token)
        for node in nodes
        for sid, token in zip(node.sessions, node.setup.tokens, strict=True)
    ]
    everyone.sort(key=lambda item: (item[1], item[0].offset))
    return everyone


async def incidents(nodes: list[Node], exam: int, shared: bool) -> dict[int, list[dict[str, Any]]]:
    """The incidents every server stored for exam number `exam`, by unique session key
    (`shared`: one database for all, read once)."""
    stored: dict[int, list[dict[str, Any]]] = {}
    for node in nodes[:1] if shared else nodes:
        found = await stored_incidents(node.api, node.setup.admin, node.setup.exams[exam])
        stored.update({node.key(sid): items for sid, items in found.items()})
    return stored


async def submit_everywhere(nodes: list[Node]) -> None:
    for node in nodes:
        await submit_all(node.api, node.setup, node.sessions)


METRIC = re.compile(r"^proctor_http_request_seconds_count\{(?P<labels>.*)\} (?P<count>\S+)$")
"""A request count of `/metrics`; its labels run to the last brace (routes hold some)."""
LABEL = re.compile(r'(\w+)="([^"]*)"')


async def http_statuses(http: aiohttp.ClientSession, nodes: list[Node]) -> dict[str, Any]:
    """The HTTP answers every server gave since it started, by status (its `/metrics`), the
    routes of every 4xx and 5xx, and of the 5xx other than the 503 that refuses a candidate
    while full."""
    statuses: dict[str, int] = {}
    failed: dict[str, int] = {}
    errors: dict[str, int] = {}
    for node in nodes:
        async with http.get(f"{node.server.url}/metrics") as response:
            text = await response.text()
        for line in text.splitlines():
            if (match := METRIC.match(line)) is None:
                continue
            labels = dict(LABEL.findall(match["labels"]))
            status, count = labels["status"], int(float(match["count"]))
            statuses[status] = statuses.get(status, 0) + count
            route = f"{status} {labels['method']} {labels['route']}"
            if status >= "400":
                failed[route] = failed.get(route, 0) + count
            refusal = status == "503" and labels["route"].endswith("/offer")
            if status.startswith("5") and not refusal:
                errors[route] = errors.get(route, 0) + count
    return {"by_status": dict(sorted(statuses.items())), "failed": failed, "server_errors": errors}
