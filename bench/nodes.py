"""The server processes of one level, each with its accounts and attempts.

With `--servers k` the candidates are spread evenly over k independent servers (one
process per core, emulated); session ids are made unique across them with an offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


def start_servers(count: int, tree: Path, workdir: Path, env: dict[str, str]) -> list[Server]:
    servers = []
    for index in range(count):
        (workdir / f"server{index}").mkdir()
        servers.append(Server.start(tree, workdir / f"server{index}", env))
    return servers


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


async def incidents(nodes: list[Node], exam: int) -> dict[int, list[dict[str, Any]]]:
    """The incidents every server stored for exam number `exam`, by unique session key."""
    stored: dict[int, list[dict[str, Any]]] = {}
    for node in nodes:
        found = await stored_incidents(node.api, node.setup.admin, node.setup.exams[exam])
        stored.update({node.key(sid): items for sid, items in found.items()})
    return stored


async def submit_everywhere(nodes: list[Node]) -> None:
    for node in nodes:
        await submit_all(node.api, node.setup, node.sessions)
