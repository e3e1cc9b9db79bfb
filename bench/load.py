"""Load benchmark: how many live candidates one server holds on this machine.

    python bench/load.py                       # N = 1, 10, 25, 50, 100
    python bench/load.py --n 25 --measure 60   # one level
    python bench/load.py --n 50 --profile      # with a py-spy profile of the server

For each N, bounded in time and stopping by itself:

1. Starts the real server (bench/serve.py: server.py plus the admin stats route) as a
   subprocess on a free 127.0.0.1 port with a temporary data directory, WebRTC pinned to
   loopback (PROCTOR_ICE_HOSTS=127.0.0.1).
2. Creates a proctor, an exam with `scenario.RULES`, N candidates (each enrols a reference
   photo) and one attempt each.
3. Runs the N candidates as real aiortc peers in 1-2 generator processes (bench/generator.py)
   replaying the clip encoded once (640x480 VP8 at 15 fps, Opus), connections staggered over
   the ramp, each clip starting at its own connection: events are spread in time.
4. Measures over the window after ramp and warm-up: server CPU and RSS (the process and its
   children, /proc), the live counters (GET /api/stats/live, once a second), alerts on each
   candidate's data channel against the scripted events.
5. Then the same candidates, on a second exam, POST the clip's JPEG frames to /upload-frame at
   the analysis rate: CPU per candidate of that path.

Prints one table row per N and writes bench/results/load-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pickle
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import aiohttp  # noqa: E402
import procstats  # noqa: E402
import scenario  # noqa: E402

from core.settings import Settings  # noqa: E402
from media.constraints import CaptureProfile  # noqa: E402

ADMIN = ("bench-admin", "bench-admin-password")
PASSWORD = "candidate-pass-1"
RESULTS = BENCH / "results"
VIDEO_KINDS = ("no_face", "multiple_faces", "face_mismatch")


# --- small helpers ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 3:
        return None
    xs, ys = zip(*points, strict=True)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


def server_tree(choice: str, directory: Path) -> tuple[Path, str]:
    """The source tree the server and generators run from, and its description.

    "head": the last commit, exported with `git archive` (other people edit the working
    tree while benchmarks run), with this benchmark's own files (bench/*.py, api/stats.py)
    copied over it. "work": the working tree as it is."""
    if choice == "work":
        return ROOT, "working tree"
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = directory / "tree"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    for folder in ROOT.iterdir():  # folders git does not track while empty (web/)
        if folder.is_dir() and not folder.name.startswith(".") and folder.name != "data":
            (tree / folder.name).mkdir(exist_ok=True)
    for path in [*BENCH.glob("*.py"), ROOT / "api" / "stats.py"]:
        target = tree / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    return tree, f"commit {commit[:12]} + bench files from the working tree"


def media_file(directory: Path, args: argparse.Namespace) -> Path:
    """Encode the clip once (VP8, Opus, JPEG) for every generator process."""
    path = directory / "media.pkl"
    width, _, height = args.video_size.partition("x")
    upload_rate = args.analysis_fps
    media = {
        "video_fps": args.video_fps,
        "video": scenario.encode_video(
            args.video_fps, (int(width), int(height)), args.video_kbps * 1000
        ),
        "audio_ptime_ms": args.audio_ptime,
        "audio": scenario.encode_audio(args.audio_ptime),
        "jpeg": {round(upload_rate): scenario.jpeg_frames(upload_rate)},
    }
    path.write_bytes(pickle.dumps(media))
    return path


# --- the server -------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path

    @classmethod
    def start(cls, tree: Path, workdir: Path, env_extra: dict[str, str]) -> Server:
        port = free_port()
        data_dir = workdir / "data"
        env = {
            **os.environ,
            "PROCTOR_HOST": "127.0.0.1",
            "PROCTOR_PORT": str(port),
            "PROCTOR_DATA_DIR": str(data_dir),
            "PROCTOR_SECRET_KEY": secrets.token_urlsafe(48),
            "PROCTOR_ADMIN_USERNAME": ADMIN[0],
            "PROCTOR_ADMIN_PASSWORD": ADMIN[1],
            "PROCTOR_ICE_HOSTS": "127.0.0.1",
            "PROCTOR_ICE_SERVERS": "",
            **env_extra,
        }
        log = workdir / "server.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, str(tree / "bench" / "serve.py")],
                cwd=tree,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return cls(process, f"http://127.0.0.1:{port}", data_dir, log)

    async def wait_ready(self, http: aiohttp.ClientSession, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{self.url}/api/openapi.json") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.3)
        raise RuntimeError("server did not start in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class Api:
    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.url + path, headers=headers, **kw) as r:
            body = await r.json()
            if not 200 <= r.status < 300:
                raise RuntimeError(f"{method} {path}: HTTP {r.status} {body}")
            return body

    async def login(self, username: str, password: str) -> str:
        body = await self.call("POST", "/login", json={"username": username, "password": password})
        return str(body["access_token"])


@dataclass
class Setup:
    admin: str
    proctor: str
    exams: list[int]
    tokens: list[str]
    usernames: list[str]
    sessions: list[int] = field(default_factory=list)


async def set_up(api: Api, n: int, tag: str) -> Setup:
    admin = await api.login(*ADMIN)
    await api.call(
        "POST",
        "/api/users",
        admin,
        json={"username": "bench-proctor", "password": "proctor-pass-1", "role": "proctor"},
    )
    proctor = await api.login("bench-proctor", "proctor-pass-1")
    exams = []
    for title in ("webrtc", "upload"):
        exam = await api.call(
            "POST",
            "/api/exams",
            proctor,
            json={
                "title": f"load {title} {tag}",
                "duration_minutes": 120,
                "rules_overrides": scenario.RULES,
                "questions": [{"text": "2+2?", "options": ["3", "4"], "answer": "4"}],
            },
        )
        exams.append(int(exam["id"]))
    usernames = [f"cand{i:03d}" for i in range(n)]
    photo = scenario.reference_photo()
    limit = asyncio.Semaphore(2)  # argon2id costs 64 MiB and ~0.1 s per hash

    async def candidate(username: str) -> str:
        async with limit:
            await api.call("POST", "/register", json={"username": username, "password": PASSWORD})
            token = await api.login(username, PASSWORD)
            await api.call(
                "PUT",
                "/api/me/reference-photo",
                token,
                data=photo,
                headers={"Content-Type": "image/jpeg"},
            )
            return token

    tokens = list(await asyncio.gather(*(candidate(u) for u in usernames)))
    for exam_id in exams:
        await api.call(
            "POST", f"/api/exams/{exam_id}/candidates", proctor, json={"usernames": usernames}
        )
    return Setup(admin, proctor, exams, tokens, usernames)


async def start_sessions(api: Api, setup: Setup, exam_id: int) -> list[int]:
    sessions = []
    for token in setup.tokens:
        body = await api.call("POST", f"/api/exams/{exam_id}/sessions", token)
        sessions.append(int(body["session_id"]))
    return sessions


async def stored_incidents(api: Api, admin: str, exam_id: int) -> dict[int, list[dict[str, Any]]]:
    """Every stored incident of the exam (GET /alerts), per session, with its start on the
    monotonic clock (the server stores wall time; both clocks are this machine's)."""
    offset = time.time() - time.monotonic()
    found: dict[int, list[dict[str, Any]]] = {}
    page = 0
    while page < 100:  # bounded: at most 50,000 incidents
        body = await api.call(
            "GET", f"/alerts?exam_id={exam_id}&limit=500&offset={page * 500}", admin
        )
        for alert in body["alerts"]:
            started = datetime.fromisoformat(alert["started_at"]).timestamp() - offset
            found.setdefault(int(alert["session_id"]), []).append(
                {"incident_id": alert["incident_id"], "kind": alert["kind"], "started": started}
            )
        page += 1
        if page * 500 >= body["total"]:
            break
    return found


async def submit_all(api: Api, setup: Setup, sessions: list[int]) -> None:
    limit = asyncio.Semaphore(8)

    async def submit(token: str, sid: int) -> None:
        async with limit:
            with contextlib.suppress(RuntimeError):
                await api.call("POST", "/submit", token, json={"session_id": sid, "answers": []})

    await asyncio.gather(*(submit(t, s) for t, s in zip(setup.tokens, sessions, strict=True)))


# --- sampling ---------------------------------------------------------------------------


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


async def sampler(
    nodes: list[Node],
    generator_pids: list[int],
    stop_at: float,
    out: list[Sample],
    poll_stats: bool,
) -> None:
    """Once a second until `stop_at`: /proc of the servers, generators, machine; live stats
    (merged over the servers, session ids made unique with each node's offset)."""
    next_at = time.monotonic()
    while next_at <= stop_at:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        busy, total = procstats.machine_cpu()
        gens = 0.0
        for pid in generator_pids:
            tree = procstats.tree_sample(pid)
            gens += 0.0 if tree is None else tree.cpu_s
        trees = [procstats.tree_sample(node.server.process.pid) for node in nodes]
        server = None
        if all(t is not None for t in trees):
            server = procstats.TreeSample(
                sum(t.cpu_s for t in trees if t),
                sum(t.rss_bytes for t in trees if t),
                sum(t.processes for t in trees if t),
            )
        sample = Sample(time.monotonic(), server, gens, busy, total)
        for node in nodes:
            for role, seconds in procstats.cpu_by_role(node.server.process.pid).items():
                sample.roles[role] = sample.roles.get(role, 0.0) + seconds
        if poll_stats:
            sent = time.monotonic()
            merged: dict[str, Any] = {"now": 0.0, "peers": 0, "executor_queue": 0, "sessions": []}
            with contextlib.suppress(Exception):
                replies = await asyncio.gather(
                    *(n.api.call("GET", "/api/stats/live", n.setup.admin) for n in nodes)
                )
                for node, reply in zip(nodes, replies, strict=True):
                    merged["now"] = reply["now"]
                    merged["peers"] += reply["peers"]
                    merged["executor_queue"] += reply.get("executor_queue") or 0
                    for item in reply["sessions"]:
                        merged["sessions"].append(
                            {**item, "session_id": node.key(item["session_id"])}
                        )
                sample.stats = merged
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


# --- generators -------------------------------------------------------------------------


def launch_generators(
    tree: Path, workdir: Path, name: str, groups: list[dict[str, Any]]
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    launched = []
    for index, spec in enumerate(groups):
        spec_path = workdir / f"{name}-{index}.spec.json"
        out_path = workdir / f"{name}-{index}.result.json"
        spec_path.write_text(json.dumps(spec))
        log = open(workdir / f"{name}-{index}.log", "wb")  # noqa: SIM115 (closed by the child)
        process = subprocess.Popen(
            [sys.executable, str(tree / "bench" / "generator.py"), str(spec_path), str(out_path)],
            cwd=tree,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        launched.append((process, out_path))
    return launched


async def wait_generators(
    launched: list[tuple[subprocess.Popen[bytes], Path]], deadline: float
) -> list[dict[str, Any]]:
    results = []
    for process, out_path in launched:
        try:
            await asyncio.to_thread(process.wait, max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if out_path.exists():
            results.append(json.loads(out_path.read_text()))
    return results


def split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts) if items[i::parts]]


# --- alert matching ---------------------------------------------------------------------


def match_alerts(
    candidates: list[dict[str, Any]],
    start: float,
    stop: float,
    window_s: float,
    stored: dict[int, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Scripted events against "started" alerts, per candidate.

    An event counts if it started inside [start, stop - debounce - window]; an alert of its
    kind arriving in [event - 0.5 s, event + debounce + window] is its hit, and the delay is
    arrival - (event + debounce). A started alert in [start, stop] that no event explains
    (in or out of the counted range) is spurious."""
    debounce = {e.kind: e.debounce for e in scenario.EVENTS}
    delays: dict[str, list[float]] = {}
    missed: dict[str, int] = {}
    expected = 0
    spurious: dict[str, int] = {}
    details: list[str] = []
    for cand in candidates:
        alerts = [a for a in cand["alerts"] if a["state"] == "started"]
        used: set[int] = set()
        for event in cand["events"]:
            kind, at = event["kind"], event["at"]
            lo, hi = at - 0.5, at + debounce[kind] + window_s
            hit = None
            for index, alert in enumerate(alerts):
                if index not in used and alert["kind"] == kind and lo <= alert["arrival"] <= hi:
                    hit = index
                    break
            if hit is not None:
                used.add(hit)
            counted = at >= start and at + debounce[kind] + window_s <= stop
            if not counted:
                continue
            expected += 1
            if hit is None:
                missed[kind] = missed.get(kind, 0) + 1
                near = [
                    f"{a['state']}@{a['arrival'] - at:+.1f}"
                    for a in cand["alerts"]
                    if a["kind"] == kind and abs(a["arrival"] - at) < 30
                ]
                near += [
                    f"stored@{i['started'] - at:+.1f}"
                    for i in (stored or {}).get(cand["session_id"], [])
                    if i["kind"] == kind and abs(i["started"] - at) < 30
                ]
                details.append(f"missed {kind} s{cand['session_id']} at {at - start:+.1f}: {near}")
            else:
                delays.setdefault(kind, []).append(alerts[hit]["arrival"] - at - debounce[kind])
        for index, alert in enumerate(alerts):
            if index not in used and start <= alert["arrival"] <= stop:
                spurious[alert["kind"]] = spurious.get(alert["kind"], 0) + 1
                details.append(
                    f"spurious {alert['kind']} s{cand['session_id']} at"
                    f" {alert['arrival'] - start:+.1f}"
                )
    # Incidents the server stored that never reached the candidate's data channel.
    undelivered = 0
    if stored is not None:
        for cand in candidates:
            told = {a["incident_id"] for a in cand["alerts"] if a["state"] == "started"}
            for incident in stored.get(cand["session_id"], []):
                if start <= incident["started"] <= stop - 5 and incident["incident_id"] not in told:
                    undelivered += 1
                    details.append(f"undelivered {incident['kind']} s{cand['session_id']}")
    every = [d for values in delays.values() for d in values]
    return {
        "stored_not_on_channel": None if stored is None else undelivered,
        "expected": expected,
        "missed": missed,
        "spurious": spurious,
        "delay_p50_s": percentile(every, 0.5),
        "delay_p95_s": percentile(every, 0.95),
        "delay_max_s": max(every) if every else None,
        "details": details[:40],
        "by_kind": {
            kind: {
                "n": len(values),
                "p50_s": percentile(values, 0.5),
                "p95_s": percentile(values, 0.95),
            }
            for kind, values in sorted(delays.items())
        },
    }


# --- live counters ----------------------------------------------------------------------


HELD_RATE = 0.95
"""Analyses a second (of a wanted min(1, analysis fps)) for a candidate to count as held:
at least once a second, less the counting jitter at the window's edges."""


def live_figures(samples: list[Sample], sessions: list[int], fps: float) -> dict[str, Any]:
    """Frames received and analysed, latency, connections, from the stats polls."""
    polls = [s for s in samples if s.stats is not None]
    if len(polls) < 2:
        return {}
    first, last = polls[0].stats, polls[-1].stats
    assert first is not None and last is not None
    seconds = last["now"] - first["now"]
    by_first = {s["session_id"]: s for s in first["sessions"]}
    by_last = {s["session_id"]: s for s in last["sessions"]}
    received = 0
    rates: list[float] = []
    repeats: list[float] = []
    for sid in sessions:
        a, b = by_first.get(sid), by_last.get(sid)
        if a is None or b is None:
            rates.append(0.0)
            continue
        received += b["frames_received"] - a["frames_received"]
        rates.append((b["frames_analysed"] - a["frames_analysed"]) / seconds)
        # Servers before the still-picture test did not count repeats.
        repeats.append((b.get("frames_repeated", 0) - a.get("frames_repeated", 0)) / seconds)
    latencies: list[float] = []
    executor: list[int] = []
    seen: dict[int, float] = {}
    for poll in polls:
        assert poll.stats is not None
        if poll.stats.get("executor_queue") is not None:
            executor.append(poll.stats["executor_queue"])
        for s in poll.stats["sessions"]:
            ts = s["last_analysed_ts"]
            if ts is not None and seen.get(s["session_id"]) != ts and s["last_latency_s"]:
                seen[s["session_id"]] = ts
                latencies.append(s["last_latency_s"])
    connected = sum(
        1 for sid in sessions if by_last.get(sid, {}).get("connection_state") == "connected"
    )
    return {
        "server_connected": connected,
        "frames_received_per_s": received / seconds,
        "analysed_per_candidate_per_s": {
            "median": statistics.median(rates),
            "min": min(rates),
            "p05": percentile(rates, 0.05),
        },
        "analysed_rates": rates,
        "repeated_per_candidate_per_s": statistics.median(repeats) if repeats else None,
        "held": sum(1 for r in rates if r >= HELD_RATE * min(1.0, fps)),
        "latency_samples": len(latencies),
        "latency_p50_s": percentile(latencies, 0.5),
        "latency_p95_s": percentile(latencies, 0.95),
        "executor_queue_median": statistics.median(executor) if executor else None,
        "executor_queue_max": max(executor) if executor else None,
    }


def timeline(samples: list[Sample], origin: float) -> list[dict[str, Any]]:
    """Second by second: server cores, connected peers, analyses/s, stats round trip."""
    rows = []
    for before, after in zip(samples, samples[1:], strict=False):
        if before.server is None or after.server is None:
            continue
        seconds = after.at - before.at
        item: dict[str, Any] = {
            "t": round(after.at - origin, 1),
            "server_cores": round((after.server.cpu_s - before.server.cpu_s) / seconds, 2),
            "rss_mb": round(after.server.rss_bytes / 2**20, 1),
            "stats_rtt_s": None if after.stats_rtt is None else round(after.stats_rtt, 3),
        }
        if before.stats is not None and after.stats is not None:
            old = {s["session_id"]: s["frames_analysed"] for s in before.stats["sessions"]}
            item["connected"] = sum(
                1 for s in after.stats["sessions"] if s["connection_state"] == "connected"
            )
            item["analysed_per_s"] = round(
                sum(s["frames_analysed"] - old.get(s["session_id"], 0)
                    for s in after.stats["sessions"]) / seconds, 1
            )  # fmt: skip
            item["executor_queue"] = after.stats.get("executor_queue")
        rows.append(item)
    return rows


def memory_figures(
    samples: list[Sample], baseline: int, n: int, start: float, end: float
) -> dict[str, Any]:
    points = [(s.at - start, s.server.rss_bytes / 2**20) for s in samples if s.server]
    if not points:
        return {}
    values = [v for _, v in points]
    # Flatness over the second half: the first minutes hold one-off costs (each detector
    # thread loads its own models on its first job), which are not growth.
    quarter = max(1, len(values) // 4)
    second = values[len(values) // 2 - quarter : len(values) // 2] or values[:quarter]
    growth = statistics.median(values[-quarter:]) - statistics.median(second)
    base_mb = baseline / 2**20
    median = statistics.median(values)
    return {
        "baseline_mb": base_mb,
        "median_mb": median,
        "per_candidate_mb": (median - base_mb) / n,
        "growth_mb": growth,
        "slope_mb_per_min": slope_per_minute(points),
        "slope_second_half_mb_per_min": slope_per_minute(points[len(points) // 2 :]),
        "flat": growth < 5 + 0.02 * median,
        "series_mb": [round(v, 1) for v in values],
    }


# --- profile ----------------------------------------------------------------------------


def start_profile(
    pid: int, seconds: int, path: Path, gil: bool = False
) -> subprocess.Popen[bytes] | None:
    """py-spy on the server: every thread that is not idle, or (`gil`) only the thread
    holding the GIL, which shows what keeps the event loop waiting."""
    try:
        return subprocess.Popen(
            ["py-spy", "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "50",
             "--nonblocking", "--threads", "--format", "raw", "--output", str(path),
             *(["--gil"] if gil else [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
    except FileNotFoundError:
        print("py-spy not found (pip install py-spy): no profile", file=sys.stderr)
        return None


CATEGORIES = (
    # (label, substrings of a frame), matched from the innermost frame outwards.
    ("identity (dlib descriptor)", ("FaceVerifier.describe", "describe_in_child")),
    ("face detection (BlazeFace)", ("detect_full", "face_detector.py")),
    ("face mesh + iris", ("face_mesh.py", "IrisModel", "FaceMesh")),
    ("other frame analysis", ("detectors/pipeline.py", "detectors/camera.py", "face_geometry")),
    ("voice activity (silero)", ("detectors/voice.py",)),
    ("VP8 decode", ("Vp8Decoder.decode", "codecs/vpx.py")),
    ("Opus decode", ("OpusDecoder.decode", "codecs/opus.py")),
    ("frames (plane copy, still test) / audio resample",
     ("VideoSampler._run", "media/audio.py", "media/video.py", "media/still.py")),
    ("SRTP/RTP/jitter buffer", ("pylibsrtp", "rtcrtpreceiver", "rtcdtlstransport", "jitterbuffer",
                                "aiortc/rtp.py", "rtcrtpsender")),
    ("ICE/STUN", ("aioice",)),
    ("SCTP/data channel", ("rtcsctptransport",)),
    ("database", ("sqlalchemy", "aiosqlite", "storage/")),
    ("HTTP/REST", ("aiohttp/web_", "(api/", "multipart")),
    # Not live/worker_process.py: a live worker's event loop runs under it.
    ("alerts/rules", ("alerts/", "live/session.py", "live/sinks.py", "live/hub.py")),
)  # fmt: skip
GENERIC = ("event loop/threads", ("asyncio/", "selectors.py", "threading.py", "concurrent/futures"))
"""Only when no frame of the stack falls in a specific category."""
IDLE_LEAVES = ("Condition.wait (threading.py", "EpollSelector.select", "_worker (concurrent")


def summarise_profile(path: Path, top: int = 20) -> dict[str, Any]:
    """Where the server's time goes, from py-spy's collapsed stacks
    ("thread (tid): name;frame;...;frame count"): shares per thread group, per category of
    work (innermost matching frame) and per innermost function. Samples whose innermost
    frame is a wait (a thread parked on a lock, the loop in select) are left out."""
    groups: dict[str, int] = {}
    categories: dict[str, int] = {}
    leaves: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames[-1].startswith(IDLE_LEAVES):
            continue
        total += count
        name = frames[0].split(": ", 1)[-1]
        group = re.sub(r"[_-]?\d+$", "", name.split(" (")[0]).strip() or name
        group = {"MainThread": "event loop (MainThread)"}.get(group, group)
        groups[group] = groups.get(group, 0) + count
        category = None
        for frame in reversed(frames[1:]):
            category = next(
                (label for label, keys in CATEGORIES if any(k in frame for k in keys)), None
            )
            if category is not None:
                break
        if category is None:
            generic = any(k in frame for frame in frames[1:] for k in GENERIC[1])
            category = GENERIC[0] if generic else "other"
        categories[category] = categories.get(category, 0) + count
        leaves[frames[-1]] = leaves.get(frames[-1], 0) + count
    if total == 0:
        return {"samples": 0}

    def share(table: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(table.items(), key=lambda kv: -kv[1])[:top]
        return [(name, round(100 * count / total, 1)) for name, count in ranked]

    return {
        "samples": total,
        "threads_pct": share(groups),
        "categories_pct": share(categories),
        "functions_pct": share(leaves),
    }


# --- one level ----------------------------------------------------------------------------


async def run_level(n: int, args: argparse.Namespace, media: Path, workdir: Path) -> dict[str, Any]:
    env = {"PROCTOR_ANALYSIS_FPS": str(args.analysis_fps)}
    if args.detector_threads:
        env["PROCTOR_DETECTOR_THREADS"] = str(args.detector_threads)
    for item in args.server_env:
        key, _, value = item.partition("=")
        env[key] = value
    count = max(1, min(args.servers, n))
    servers = []
    for index in range(count):
        (workdir / f"server{index}").mkdir()
        servers.append(Server.start(args.tree_path, workdir / f"server{index}", env))
    result: dict[str, Any] = {"n": n, "servers": count, "server_env": env}
    timeout = aiohttp.ClientTimeout(total=120)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            nodes = []
            began = time.monotonic()
            for index, server in enumerate(servers):
                api = Api(http, server.url)
                await server.wait_ready(http)
                share = n // count + (1 if index < n % count else 0)
                setup = await set_up(api, share, f"n{n}")
                node = Node(server, api, setup, offset=index * 1_000_000)
                node.sessions = await start_sessions(api, setup, setup.exams[0])
                nodes.append(node)
            result["setup_s"] = time.monotonic() - began
            # Idle baseline: the servers with every account, exam and attempt, no stream.
            idle: list[Sample] = []
            await sampler(nodes, [], time.monotonic() + 3, idle, False)
            idle_cpu = cpu_rate(idle)["server_cores"]
            baseline_rss = idle[-1].server.rss_bytes if idle[-1].server else 0

            # WebRTC phase. Candidate i talks to server i % count.
            ramp = min(args.ramp_max, max(1.0, n * args.ramp_per_candidate))
            t0 = time.monotonic() + 4.0  # generator start-up (imports, media)
            measure_start = t0 + ramp + args.warmup
            stop_at = measure_start + args.measure
            everyone = [
                (node, sid, token)
                for node in nodes
                for sid, token in zip(node.sessions, node.setup.tokens, strict=True)
            ]
            everyone.sort(key=lambda item: (item[1], item[0].offset))  # interleave servers
            keys = [node.key(sid) for node, sid, _ in everyone]
            candidates = [
                {"key": node.key(sid), "session_id": sid, "token": token,
                 "base_url": node.server.url, "start_at": t0 + i * ramp / n}
                for i, (node, sid, token) in enumerate(everyone)
            ]  # fmt: skip
            parts = args.generators or (1 if n <= 10 else 2)
            groups = [
                {"mode": "webrtc", "media": str(media), "audio": not args.no_audio,
                 "stop_at": stop_at, "candidates": group}
                for group in split(candidates, parts)
            ]  # fmt: skip
            launched = launch_generators(args.tree_path, workdir, f"webrtc-n{n}", groups)
            samples: list[Sample] = []
            profile_paths = {
                "all": workdir / f"profile-n{n}.txt",
                "gil": workdir / f"profile-gil-n{n}.txt",
            }
            profiles: list[subprocess.Popen[bytes] | None] = []
            first_pid = nodes[0].server.process.pid

            def start_profiles() -> None:
                # The live candidates are in the workers when there are any: profile one.
                workers = procstats.pids_by_role(first_pid)["live workers"]
                target = min(workers) if workers else first_pid
                result["profile_pid_role"] = "live worker" if workers else "front"
                for kind, path in profile_paths.items():
                    seconds = int(args.measure / 2)
                    profiles.append(start_profile(target, seconds, path, gil=kind == "gil"))

            if args.profile:
                delay = measure_start - time.monotonic() + args.measure / 4
                profile_task = asyncio.get_running_loop().call_later(
                    max(0.0, delay), start_profiles
                )
            await sampler(nodes, [p.pid for p, _ in launched], stop_at, samples, True)
            gen_results = await wait_generators(launched, stop_at + 60)
            if args.profile:
                profile_task.cancel()
                for profile in profiles:
                    if profile is not None:
                        profile.wait(60)
                result["profile"] = {}
                for kind, path in profile_paths.items():
                    if path.exists():
                        summary = summarise_profile(path)
                        keep = RESULTS / f"{path.stem}-{args.stamp}.txt"
                        keep.write_bytes(path.read_bytes())
                        summary["raw"] = str(keep.relative_to(ROOT))
                        result["profile"][kind] = summary
            measured = window(samples, measure_start, stop_at)
            cands = [c for g in gen_results for c in g["candidates"]]
            stored: dict[int, list[dict[str, Any]]] = {}
            for node in nodes:
                found = await stored_incidents(node.api, node.setup.admin, node.setup.exams[0])
                stored.update({node.key(sid): items for sid, items in found.items()})
            if args.keep_raw:
                raw = RESULTS / f"raw-n{n}-{args.stamp}.json"
                raw.write_text(json.dumps({"measure_start": measure_start, "stop_at": stop_at,
                                           "candidates": cands}))  # fmt: skip
                result["raw"] = str(raw.relative_to(ROOT))
            rtts = [x.stats_rtt for x in measured if x.stats_rtt is not None]
            result["webrtc"] = {
                "ramp_s": ramp,
                "warmup_s": args.warmup,
                "measure_s": args.measure,
                "generators": len(launched),
                "generator_results": len(gen_results),
                "offer_errors": [c["error"] for c in cands if c["error"]],
                "client_connected": sum(1 for c in cands if c["final_state"] == "connected"),
                # Admission control: candidates the server never took (503 until the end).
                "refused": sum(1 for c in cands if c["refusals"] and c["answered_at"] is None),
                "offers_refused": sum(c["refusals"] for c in cands),
                "video_late_packets": sum(c["video_late"] for c in cands),
                "generator_loop_lag_max_ms": max(
                    (g["loop_lag_max_ms"] or 0 for g in gen_results), default=None
                ),
                **cpu_rate(measured),
                "server_idle_cores": idle_cpu,
                "live": live_figures(measured, keys, args.analysis_fps),
                "stats_rtt_p50_s": percentile(rtts, 0.5),
                "stats_rtt_p95_s": percentile(rtts, 0.95),
                "timeline": timeline(samples, measure_start),
                "memory": memory_figures(measured, baseline_rss, n, measure_start, stop_at),
                "alerts": match_alerts(
                    cands, measure_start, stop_at, scenario.ALERT_WINDOW, stored
                ),
            }
            cores = result["webrtc"]["server_cores"]
            result["webrtc"]["server_cpu_per_candidate_pct"] = (
                None if cores is None else 100 * cores / n
            )
            for node in nodes:
                await submit_all(node.api, node.setup, node.sessions)

            # Upload phase: the same candidates, a second exam, JPEG frames at the same rate.
            if not args.no_upload:
                rate = args.analysis_fps
                everyone = []
                for node in nodes:
                    node.sessions = await start_sessions(node.api, node.setup, node.setup.exams[1])
                    everyone += [
                        (node, sid, token)
                        for sid, token in zip(node.sessions, node.setup.tokens, strict=True)
                    ]
                everyone.sort(key=lambda item: (item[1], item[0].offset))
                await asyncio.sleep(2.0)
                t0 = time.monotonic() + 3.0
                measure_start = t0 + 1.0 / rate + args.upload_warmup
                stop_at = measure_start + args.upload_seconds
                candidates = [
                    {"key": node.key(sid), "session_id": sid, "token": token,
                     "base_url": node.server.url, "start_at": t0 + i / (n * rate)}
                    for i, (node, sid, token) in enumerate(everyone)
                ]  # fmt: skip
                groups = [
                    {"mode": "upload", "media": str(media), "upload_rate": rate,
                     "stop_at": stop_at, "candidates": group}
                    for group in split(candidates, parts)
                ]  # fmt: skip
                launched = launch_generators(args.tree_path, workdir, f"upload-n{n}", groups)
                samples = []
                await sampler(nodes, [p.pid for p, _ in launched], stop_at, samples, False)
                gen_results = await wait_generators(launched, stop_at + 60)
                measured = window(samples, measure_start, stop_at)
                cands = [c for g in gen_results for c in g["candidates"]]
                latencies = [x for c in cands for x in c["upload_latency_s"]]
                rates = [c["uploads"] / (stop_at - c["offer_at"]) for c in cands if c["offer_at"]]
                up = {
                    "seconds": args.upload_seconds,
                    **cpu_rate(measured),
                    "uploads": sum(c["uploads"] for c in cands),
                    "upload_errors": sum(c["upload_errors"] for c in cands),
                    "errors": sorted({c["error"] for c in cands if c["error"]})[:5],
                    "rate_per_candidate_median": statistics.median(rates) if rates else None,
                    "rate_per_candidate_min": min(rates) if rates else None,
                    "latency_p50_s": percentile(latencies, 0.5),
                    "latency_p95_s": percentile(latencies, 0.95),
                    "alerts": match_alerts(cands, measure_start, stop_at, scenario.ALERT_WINDOW),
                }
                up["server_cpu_per_candidate_pct"] = (
                    None if up["server_cores"] is None else 100 * up["server_cores"] / n
                )
                result["upload"] = up
                webrtc_pct = result["webrtc"]["server_cpu_per_candidate_pct"]
                upload_pct = up["server_cpu_per_candidate_pct"]
                result["cpu_ratio_webrtc_to_upload"] = (
                    webrtc_pct / upload_pct if webrtc_pct and upload_pct else None
                )
                for node in nodes:
                    await submit_all(node.api, node.setup, node.sessions)
    finally:
        for server in servers:
            server.stop()
    errors = [
        line
        for server in servers
        for line in server.log.read_text(errors="replace").splitlines()
        if " ERROR " in line or "Traceback" in line
    ]
    result["server_error_lines"] = len(errors)
    result["server_errors_sample"] = errors[:5]
    # The first traceback in full, and how often each kind of error line occurs.
    for server in servers:
        lines = server.log.read_text(errors="replace").splitlines()
        first = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), None)
        if first is not None:
            result["server_first_traceback"] = lines[max(0, first - 1) : first + 30]
            break
    kinds: dict[str, int] = {}
    for line in errors:
        kind = re.sub(r"^\S+ \S+ ", "", line)[:90]
        kinds[kind] = kinds.get(kind, 0) + 1
    result["server_error_kinds"] = dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:10])
    return result


# --- report -----------------------------------------------------------------------------

COLUMNS = (
    ("N", 4), ("held", 5), ("conn", 5), ("refused", 8), ("rx fps", 7), ("an/s med", 9),
    ("an/s min", 9), ("rep/s", 6), ("lat p50", 8), ("lat p95", 8), ("alert p50", 10),
    ("alert p95", 10), ("missed", 7), ("spur", 5), ("cpu/cand", 9), ("MB/cand", 8),
    ("mem flat", 9), ("upl cpu", 8), ("ratio", 6),
)  # fmt: skip


def fmt(value: Any, spec: str = ".2f", suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return format(value, spec) + suffix
    return str(value) + suffix


def row(result: dict[str, Any]) -> list[str]:
    w = result.get("webrtc", {})
    live = w.get("live", {})
    rates = live.get("analysed_per_candidate_per_s", {})
    alerts = w.get("alerts", {})
    memory = w.get("memory", {})
    up = result.get("upload", {})
    return [
        fmt(result["n"]),
        fmt(live.get("held")),
        fmt(live.get("server_connected")),
        fmt(w.get("refused")),
        fmt(live.get("frames_received_per_s"), ".0f"),
        fmt(rates.get("median")),
        fmt(rates.get("min")),
        fmt(live.get("repeated_per_candidate_per_s")),
        fmt(live.get("latency_p50_s"), ".2f", "s"),
        fmt(live.get("latency_p95_s"), ".2f", "s"),
        fmt(alerts.get("delay_p50_s"), "+.2f", "s"),
        fmt(alerts.get("delay_p95_s"), "+.2f", "s"),
        f"{sum(alerts.get('missed', {}).values())}/{alerts.get('expected', 0)}",
        fmt(sum(alerts.get("spurious", {}).values())),
        fmt(w.get("server_cpu_per_candidate_pct"), ".1f", "%"),
        fmt(memory.get("per_candidate_mb"), ".1f"),
        fmt(memory.get("flat")),
        fmt(up.get("server_cpu_per_candidate_pct"), ".1f", "%"),
        fmt(result.get("cpu_ratio_webrtc_to_upload"), ".1f", "x"),
    ]


def print_table(results: list[dict[str, Any]]) -> None:
    header = " ".join(name.rjust(width) for name, width in COLUMNS)
    print(header)
    for result in results:
        print(" ".join(v.rjust(w) for v, (_, w) in zip(row(result), COLUMNS, strict=True)))
    for result in results:
        roles = result.get("webrtc", {}).get("server_cores_by_role") or {}
        split = ", ".join(f"{role} {cores:.2f}" for role, cores in roles.items() if cores)
        print(f"N={result['n']} server cores by process: {split or 'n/a'}")


# --- main -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 10, 25, 50, 100])
    parser.add_argument("--measure", type=float, default=60.0, help="seconds measured per N")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds after the ramp")
    parser.add_argument("--ramp-per-candidate", type=float, default=0.2)
    parser.add_argument("--ramp-max", type=float, default=20.0)
    parser.add_argument("--analysis-fps", type=float, default=Settings().analysis_fps)
    parser.add_argument("--detector-threads", type=int, default=0, help="0: server default")
    parser.add_argument("--generators", type=int, default=0, help="0: 1 for N<=10, else 2")
    # Defaults: what the server's answer asks browsers for, which Chromium follows
    # (tests/test_web_e2e.py). The raw clip: --video-fps 15 --video-kbps 500
    # --audio-ptime 20.
    asked = CaptureProfile()
    parser.add_argument("--video-fps", type=float, default=float(asked.frame_rate),
                        help="frames/s each peer sends (default: as asked)")  # fmt: skip
    parser.add_argument("--video-size", default=f"{asked.width}x{asked.height}",
                        help="WxH each peer sends (default: as asked)")  # fmt: skip
    parser.add_argument("--video-kbps", type=int, default=asked.video_kbps,
                        help="VP8 bitrate each peer sends (default: as asked)")  # fmt: skip
    parser.add_argument(
        "--servers", type=int, default=1,
        help="server processes, candidates spread evenly (one process per core, emulated)",
    )  # fmt: skip
    parser.add_argument("--no-audio", action="store_true", help="video only")
    parser.add_argument("--audio-ptime", type=int, default=asked.audio_ptime_ms,
                        choices=(20, 40, 60, 120), help="ms of audio per Opus packet")  # fmt: skip
    parser.add_argument("--no-upload", action="store_true", help="skip the upload comparison")
    parser.add_argument("--upload-seconds", type=float, default=30.0)
    parser.add_argument("--upload-warmup", type=float, default=5.0)
    parser.add_argument("--profile", action="store_true", help="py-spy the server mid-window")
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="KEY=VALUE",
        help="extra PROCTOR_* setting for the server (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--tree", choices=("head", "work"), default="head",
        help="run the server from the last commit (default) or the working tree",
    )  # fmt: skip
    parser.add_argument("--keep-raw", action="store_true", help="save every alert and event")
    parser.add_argument("--label", default="", help="added to the JSON file name")
    args = parser.parse_args(argv)
    args.stamp = time.strftime("%Y%m%d-%H%M%S")
    return args


async def amain(args: argparse.Namespace) -> list[dict[str, Any]]:
    RESULTS.mkdir(exist_ok=True)
    name = f"load-{args.stamp}{'-' + args.label if args.label else ''}.json"
    out = RESULTS / name
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="proctor-load-") as tmp:
        args.tree_path, args.tree_info = server_tree(args.tree, Path(tmp))
        print(f"server and generators run from {args.tree_info}", file=sys.stderr)
        media = media_file(Path(tmp), args)
        for n in args.n:
            workdir = Path(tmp) / f"n{n}"
            workdir.mkdir()
            print(f"N={n}: running ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            try:
                result = await run_level(n, args, media, workdir)
            except Exception as error:  # one level failing does not lose the others
                result = {"n": n, "error": f"{type(error).__name__}: {error}"}
                log = workdir / "server.log"
                if log.exists():
                    result["server_log_tail"] = log.read_text(errors="replace")[-3000:]
            result["wall_s"] = time.monotonic() - started
            results.append(result)
            out.write_text(
                json.dumps(
                    {"args": vars(args), "scene_period_s": scenario.PERIOD, "results": results},
                    indent=1,
                    default=str,
                )
            )
            print_table([result])
            print(f"N={n}: done in {result['wall_s']:.0f} s -> {out}", file=sys.stderr, flush=True)
    print()
    print_table(results)
    print(f"\nJSON: {out.relative_to(ROOT)}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(amain(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
