"""Three nodes on one machine (addresses 127.0.0.2-4, all on `lo`), sharing a real
PostgreSQL and a real Redis: placement across nodes, one console seeing every node, calls
reaching the node that holds the attempt, a node killed, Redis restarted.

The nodes run as the README's "Running on several machines" configures them."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis_client
from sqlalchemy import select

from cluster.streams import stream_key
from storage.db import create_engine, session_factory
from storage.models import Alert
from tests.clips import CandidateClient, Clip, ClipVideoTrack
from tests.server_process import ADMIN, ServerProcess
from tests.services import Postgres, Redis
from tests.test_console_watch import Viewer

pytestmark = pytest.mark.webrtc

SECRET = "cluster-test-secret-key-" + "s" * 24
EMPTY_ROOM = ((0, 120, "empty"),)
RULES = {"no_face": {"start_after": 0.5}}


@dataclass
class Cluster:
    nodes: dict[str, ServerProcess]
    database_url: str
    redis: Redis


def node_env(database_url: str, redis: Redis, name: str, cap: int) -> dict[str, str]:
    """A node's configuration: the same database, Redis and secret key on every node."""
    return {
        "PROCTOR_DATABASE_URL": database_url,
        "PROCTOR_REDIS_URL": redis.url,
        "PROCTOR_SECRET_KEY": SECRET,
        "PROCTOR_NODE_ID": name,
        "PROCTOR_MAX_LIVE_SESSIONS": str(cap),
        "PROCTOR_LIVE_WORKERS": "0",
        "PROCTOR_ANALYSIS_PROCESSES": "1",
        "PROCTOR_STREAM_LOST_GRACE_SECONDS": "3",
        # Placement is what is tested: only the caps refuse (admission by load and loop lag
        # has tests of its own, and this machine is shared).
        "PROCTOR_MAX_LOOP_LAG_SECONDS": "5",
        "PROCTOR_MAX_ANALYSIS_LOAD": "5",
    }


@pytest.fixture
def cluster(tmp_path: Path, postgres: Postgres, redis_server: Redis) -> Iterator[Cluster]:
    """Nodes a (holds 1 candidate at most), b (1) and c (2)."""
    database_url = postgres.new_database()
    nodes = {
        name: ServerProcess(
            tmp_path / name,
            host=f"127.0.0.{i + 2}",
            **node_env(database_url, redis_server, name, cap),
        )  # fmt: skip
        for i, (name, cap) in enumerate((("a", 1), ("b", 1), ("c", 2)))
    }
    try:
        for node in nodes.values():
            node.start()
        yield Cluster(nodes, database_url, redis_server)
    finally:
        for node in nodes.values():
            if node.process is not None:
                node.kill()


class Rest:
    """Calls to one node."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def call(
        self, method: str, path: str, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(
            method, self.base + path, json=body, headers=headers
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.read()

    async def ok(self, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        status, answer = await self.call(method, path, token, body)
        assert status < 300, (path, status, answer)
        return answer

    async def login(self, username: str, password: str) -> str:
        body = {"username": username, "password": password}
        return str((await self.ok("POST", "/login", body=body))["access_token"])


async def setup_exam(rest: Rest, candidates: int) -> tuple[str, int, list[tuple[str, int]]]:
    """(proctor token, exam id, [(candidate token, session id)]) created through `rest`."""
    admin = await rest.login(*ADMIN)
    await rest.ok("POST", "/api/users", admin, {
        "username": "pat", "password": "pat-password-1", "role": "proctor",
    })  # fmt: skip
    proctor = await rest.login("pat", "pat-password-1")
    exam = await rest.ok("POST", "/api/exams", proctor, {
        "title": "Spread", "duration_minutes": 30, "rules_overrides": RULES,
    })  # fmt: skip
    attempts = []
    for n in range(candidates):
        name = f"cand{n}"
        await rest.ok("POST", "/register", body={"username": name, "password": "cand-password-1"})
        token = await rest.login(name, "cand-password-1")
        notice = await rest.ok("GET", "/api/consent", token)
        await rest.ok("POST", "/api/me/consent", token, {"version": notice["version"]})
        body = {"usernames": [name]}
        await rest.ok("POST", f"/api/exams/{exam['id']}/candidates", proctor, body)
        session = await rest.ok("POST", f"/api/exams/{exam['id']}/sessions", token)
        attempts.append((token, int(session["session_id"])))
    return proctor, int(exam["id"]), attempts


def answer_address(sdp: str) -> str:
    """The host address of the answer's ICE candidates: the node the media goes to."""
    addresses = set(re.findall(r"a=candidate:\S+ \d+ udp \d+ (\S+) \d+ typ host", sdp))
    assert len(addresses) == 1, sdp
    return addresses.pop()


async def stream(rest: Rest, token: str, session_id: int) -> tuple[int, Any, CandidateClient]:
    """Offer an empty room through `rest`'s node; (status, answer body, the client)."""
    client = CandidateClient(ClipVideoTrack(Clip(EMPTY_ROOM, fps=10), loop=True))
    body = {"sdp": await client.offer(), "type": "offer"}
    status, answer = await rest.call("POST", f"/api/sessions/{session_id}/offer", token, body)
    if status == 200:
        await client.accept_answer(answer["sdp"])
    return status, answer, client


async def next_alert(client: CandidateClient, seconds: float = 15.0) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while True:
            message = json.loads(await client.received.get())
            if message.get("type") == "alert" and message["state"] == "started":
                return dict(message)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def stored_alert_ids(database_url: str) -> set[int]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db:
            return set((await db.execute(select(Alert.id))).scalars())
    finally:
        await engine.dispose()


async def overlays_in_stream(redis: Redis, exam_id: int) -> set[int]:
    """The attempts whose overlays are in the exam's console stream in Redis."""
    client = redis_client.from_url(redis.url)
    try:
        entries = await client.xrange(stream_key(exam_id))
    finally:
        await client.aclose()
    messages = [json.loads(fields[b"m"]) for _, fields in entries]
    return {m["session_id"] for m in messages if m["type"] == "analysis"}


async def open_console(
    http: aiohttp.ClientSession,
    base: str,
    exam_id: int,
    token: str,
    ticket_from: str | None = None,
) -> aiohttp.ClientWebSocketResponse:
    """The exam's console socket on the node at `base`, with a ticket issued by the node at
    `ticket_from` (the same by default; tickets are shared through Redis)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with http.post((ticket_from or base) + "/api/ws-ticket", headers=headers) as response:
        ticket = (await response.json())["ticket"]
    return await http.ws_connect(f"{base}/api/exams/{exam_id}/live?ticket={ticket}")


async def test_offers_through_one_node_spread_over_all_and_one_console_sees_everything(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    a = Rest(http, cluster.nodes["a"].base)
    proctor, exam_id, attempts = await setup_exam(a, candidates=5)
    clients: list[CandidateClient] = []
    try:
        console = await open_console(http, a.base, exam_id, proctor)
        assert (await console.receive_json())["type"] == "snapshot"
        placed: dict[int, str] = {}
        for token, session_id in attempts[:4]:
            status, answer, client = await stream(a, token, session_id)
            clients.append(client)
            assert status == 200, answer
            placed[session_id] = answer_address(answer["sdp"])
        # a holds 1, b 1, c 2: every offer went through a, the media to the node that took it.
        counts = {host: list(placed.values()).count(host) for host in set(placed.values())}
        assert counts == {"127.0.0.2": 1, "127.0.0.3": 1, "127.0.0.4": 2}, placed
        token, session_id = attempts[4]
        status, answer, client = await stream(a, token, session_id)
        clients.append(client)
        assert status == 503 and answer["error"]["code"] == "server_busy", answer

        # The console on a hears, within a second of the page, the alert of a candidate on c.
        on_c = next(sid for sid, host in placed.items() if host == "127.0.0.4")
        page = clients[list(placed).index(on_c)]
        alert = await next_alert(page)
        loop = asyncio.get_running_loop()
        told_page = loop.time()
        async with asyncio.timeout(10):
            while True:
                message = await console.receive_json()
                if message["type"] == "alert" and message["incident_id"] == alert["incident_id"]:
                    break
        assert loop.time() - told_page < 1.0
        # Overlays cross Redis only for the attempt a console focuses on, once it does.
        await asyncio.sleep(2.0)  # ~2 overlays a candidate analysed meanwhile
        assert await overlays_in_stream(cluster.redis, exam_id) == set()
        await console.send_json({"type": "focus", "session_id": on_c})
        async with asyncio.timeout(10):
            while True:
                message = await console.receive_json()
                if message["type"] == "analysis" and message["session_id"] == on_c:
                    break
        assert await overlays_in_stream(cluster.redis, exam_id) == {on_c}
        # Thumbnails, live video and messages reach the node holding the attempt.
        thumb_status, jpeg = await a.call("GET", f"/api/sessions/{on_c}/thumbnail", proctor)
        assert thumb_status == 200 and jpeg[:3] == b"\xff\xd8\xff"
        viewer = Viewer()
        watch = await a.ok("POST", f"/api/sessions/{on_c}/watch", proctor, await viewer.offer())
        assert answer_address(watch["sdp"]) == "127.0.0.4"
        await viewer.accept(watch)
        async with asyncio.timeout(20):
            await viewer.got_frames.wait()  # the candidate's video, relayed by c
        await viewer.close()
        sent = await a.ok("POST", f"/api/sessions/{on_c}/message", proctor, {"text": "hello"})
        assert sent["delivered"] is True
        await console.close()
    finally:
        for client in clients:
            await client.close()
    assert alert["id"] in await stored_alert_ids(cluster.database_url)


async def test_a_killed_node_is_taken_over_and_its_candidate_lands_elsewhere(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    a = Rest(http, cluster.nodes["a"].base)
    proctor, exam_id, attempts = await setup_exam(a, candidates=2)
    told: list[dict[str, Any]] = []
    clients: list[CandidateClient] = []
    try:
        console = await open_console(http, a.base, exam_id, proctor)
        assert (await console.receive_json())["type"] == "snapshot"
        hosts = []
        for token, session_id in attempts:  # a holds one at most: one is on b or c
            status, answer, client = await stream(a, token, session_id)
            assert status == 200, answer
            clients.append(client)
            told.append(await next_alert(client))
            hosts.append(answer_address(answer["sdp"]))
        index = next(i for i, host in enumerate(hosts) if host != cluster.nodes["a"].host)
        victim_token, victim_id = attempts[index]
        victim_host = hosts[index]
        victim = next(n for n in cluster.nodes.values() if n.host == victim_host)
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        victim.kill()  # the whole process group: nothing of its clean-up runs

        # Within the lease, a survivor ends the incident it held, and a's console hears it.
        async with asyncio.timeout(15):
            while True:
                message = await console.receive_json()
                entry = message.get("session") or {}
                closed = entry.get("session_id") == victim_id and entry["open_alerts"] == []
                if closed and entry["alert_count"] >= 1:  # not an entry from before its alert
                    break
        assert loop.time() - killed_at < 10.0
        status, row = await a.call("GET", f"/api/alerts/{told[index]['id']}", proctor)
        assert status == 200 and row["state"] == "ended", row
        assert row["message"].endswith("(monitoring interrupted)")

        # The page offers again (as it does when its connection fails): a live node takes it.
        status, answer, client = await stream(a, victim_token, victim_id)
        clients.append(client)
        assert status == 200, answer
        assert answer_address(answer["sdp"]) != victim_host
        told.append(await next_alert(client))
        await console.close()
    finally:
        for client in clients:
            await client.close()
    # Every alert anyone was told about is in the database.
    assert {alert["id"] for alert in told} <= await stored_alert_ids(cluster.database_url)


async def test_consoles_keep_hearing_alerts_across_a_redis_restart(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    a = Rest(http, cluster.nodes["a"].base)
    proctor, exam_id, attempts = await setup_exam(a, candidates=2)
    clients: list[CandidateClient] = []
    try:
        # The console is on c; the candidates stream to a and b.
        c = cluster.nodes["c"].base
        console = await open_console(http, c, exam_id, proctor)
        assert (await console.receive_json())["type"] == "snapshot"
        token, session_id = attempts[0]
        status, answer, client = await stream(a, token, session_id)
        clients.append(client)
        first = await next_alert(client)
        await heard(console, first["incident_id"])

        cluster.redis.restart(down_seconds=2.0)  # everything Redis held is lost

        token, session_id = attempts[1]
        status, answer, client = await stream(a, token, session_id)
        assert status == 200, answer
        clients.append(client)
        second = await next_alert(client)
        # A reload (snapshot) or the alert itself: either way the console shows it.
        async with asyncio.timeout(15):
            while True:
                message = await console.receive_json()
                if message["type"] == "alert" and message["incident_id"] == second["incident_id"]:
                    break
                if message["type"] == "snapshot":
                    sessions = {s["session_id"]: s for s in message["sessions"]}
                    opened = sessions.get(session_id, {}).get("open_alerts", [])
                    if any(o["incident_id"] == second["incident_id"] for o in opened):
                        break
        await console.close()
    finally:
        for client in clients:
            await client.close()
    assert {first["id"], second["id"]} <= await stored_alert_ids(cluster.database_url)


async def heard(console: aiohttp.ClientWebSocketResponse, incident_id: str) -> None:
    async with asyncio.timeout(10):
        while True:
            message = await console.receive_json()
            if message["type"] == "alert" and message["incident_id"] == incident_id:
                return


async def test_only_nodes_of_the_cluster_may_call_a_node(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    close = {"op": "close", "session_id": 1}
    async with http.post(f"{cluster.nodes['a'].base}/internal/live", json=close) as response:
        assert response.status == 403
    forged = {
        "X-Proctor-Node": "b",
        "X-Proctor-Time": f"{asyncio.get_running_loop().time():.3f}",
        "X-Proctor-Signature": "0" * 64,
    }
    async with http.post(
        f"{cluster.nodes['a'].base}/internal/live", json=close, headers=forged
    ) as response:
        assert response.status == 403


async def test_sign_in_limits_and_socket_tickets_hold_across_nodes(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    nodes = [Rest(http, node.base) for node in cluster.nodes.values()]
    proctor, exam_id, _ = await setup_exam(nodes[0], candidates=0)
    wrong = {"username": "pat", "password": "not-the-password"}
    for attempt in range(5):  # five guesses, spread over the three nodes
        status, _ = await nodes[attempt % 3].call("POST", "/login", body=wrong)
        assert status == 401
    for node in nodes:  # every node now knows: the sixth is refused wherever it goes
        status, body = await node.call("POST", "/login", body=wrong)
        assert status == 429 and body["error"]["code"] == "too_many_attempts", body
    # A ticket issued by a opens a console on b, once.
    a, b = cluster.nodes["a"].base, cluster.nodes["b"].base
    console = await open_console(http, b, exam_id, proctor, ticket_from=a)
    assert (await console.receive_json())["type"] == "snapshot"
    await console.close()
