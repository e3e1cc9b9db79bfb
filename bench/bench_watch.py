"""What one watched stream costs the server: full live video of a candidate to 0-4 proctors.

    python bench/bench_watch.py                 # 0, 1, 2, 4 viewers, 15 s each
    python bench/bench_watch.py --window 30

Starts the real server (`server.py`) as a subprocess on 127.0.0.1 with WebRTC pinned to
loopback, streams one candidate (a clip of real photos, 640x480 VP8 at 15 fps, from an aiortc
peer in this process) and adds receive-only viewers through `POST /api/sessions/{id}/watch`.
For each viewer count it reports the server process's CPU (from /proc, all threads) over the
window. It also times, in this process, the one VP8 encode per frame that a watched candidate
costs (`live.watch`) against aiortc's own encoder, which a `MediaRelay` proxy per viewer would
run once per viewer. Everything is bounded in time; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiortc import RTCSessionDescription  # noqa: E402
from aiortc.codecs.vpx import Vp8Encoder as AiortcVp8Encoder  # noqa: E402
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402

from bench.procstats import tree_sample  # noqa: E402
from media.vp8 import Vp8Encoder  # noqa: E402
from signaling.ice import IceSettings  # noqa: E402
from tests.clips import DATA, CandidateClient, Clip, ClipVideoTrack  # noqa: E402

ADMIN = ("root", "bench-admin-password")
SCENE = ((0, 10, "candidate"),)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Viewer:
    def __init__(self) -> None:
        self.ice = IceSettings(hosts=("127.0.0.1",))
        self.pc = self.ice.new_peer_connection()
        self.pc.addTransceiver("video", direction="recvonly")
        self.frames = 0
        self.task: asyncio.Task[None] | None = None
        self.pc.on("track", self.on_track)

    def on_track(self, track: MediaStreamTrack) -> None:
        self.task = asyncio.ensure_future(self.read(track))

    async def read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                await track.recv()
                self.frames += 1
        except MediaStreamError:
            pass

    async def watch(self, http: aiohttp.ClientSession, base: str, token: str, sid: int) -> None:
        offer_sdp = await self.pc.createOffer()
        self.ice.prepare_gathering(self.pc)  # loopback only
        await self.pc.setLocalDescription(offer_sdp)
        offer = {"sdp": self.pc.localDescription.sdp, "type": "offer"}
        async with http.post(
            f"{base}/api/sessions/{sid}/watch",
            json=offer,
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            answer = await response.json()
            assert response.status == 200, answer
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    async def close(self) -> None:
        await self.pc.close()
        if self.task is not None:
            self.task.cancel()


def encode_cost(frames: int = 150) -> dict[str, float]:
    """Milliseconds per 640x480 frame: our shared encoder and aiortc's (per viewer)."""
    clip = Clip(SCENE, fps=15)
    ours = Vp8Encoder(600_000)
    theirs = AiortcVp8Encoder()
    out = {}
    for name, encode in (
        ("shared_vp8_ms", lambda i, f: ours.encode(f, i * 6000, i == 0)),
        ("aiortc_vp8_ms", lambda i, f: theirs.encode(f, i == 0)),
    ):
        started = time.process_time()
        for index in range(frames):
            encode(index, clip.video_frame(index))
        out[name] = (time.process_time() - started) * 1000 / frames
    return out


async def cpu_percent(pid: int, seconds: float) -> float:
    first, t0 = tree_sample(pid), time.monotonic()
    await asyncio.sleep(seconds)
    last, t1 = tree_sample(pid), time.monotonic()
    assert first is not None and last is not None, "the server died"
    return 100.0 * (last.cpu_s - first.cpu_s) / (t1 - t0)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        PROCTOR_DATA_DIR=str(workdir),
        PROCTOR_SECRET_KEY=secrets.token_urlsafe(32),
        PROCTOR_ICE_HOSTS="127.0.0.1",
        PROCTOR_ADMIN_USERNAME=ADMIN[0],
        PROCTOR_ADMIN_PASSWORD=ADMIN[1],
        PROCTOR_LOG_LEVEL="WARNING",
    )
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "server.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
        cwd=ROOT,
    )
    viewers: list[Viewer] = []
    client: CandidateClient | None = None
    results: dict[str, Any] = {"window_s": args.window, "viewers": {}}
    try:
        async with aiohttp.ClientSession() as http:

            async def call(method: str, path: str, token: str | None = None, **kw: Any) -> Any:
                headers = kw.pop("headers", {})
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                async with http.request(method, base + path, headers=headers, **kw) as r:
                    body = await r.json()
                    assert r.status < 300, (path, body)
                    return body

            async with asyncio.timeout(30):
                while True:
                    try:
                        await call("GET", "/api/openapi.json")
                        break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.2)
            login = {"username": ADMIN[0], "password": ADMIN[1]}
            admin = (await call("POST", "/login", json=login))["access_token"]
            exam = await call(
                "POST", "/api/exams", admin, json={"title": "bench", "duration_minutes": 60}
            )
            who = {"username": "cand", "password": "candidate-pass-1"}
            await call("POST", "/register", json=who)
            token = (await call("POST", "/login", json=who))["access_token"]
            notice = await call("GET", "/api/consent", token)
            await call("POST", "/api/me/consent", token, json={"version": notice["version"]})
            await call(
                "PUT",
                "/api/me/reference-photo",
                token,
                data=(DATA / "obama2.jpg").read_bytes(),
                headers={"Content-Type": "image/jpeg"},
            )
            await call(
                "POST", f"/api/exams/{exam['id']}/candidates", admin, json={"usernames": ["cand"]}
            )
            sid = (await call("POST", f"/api/exams/{exam['id']}/sessions", token))["session_id"]
            client = CandidateClient(ClipVideoTrack(Clip(SCENE, fps=15), loop=True))
            answer = await call(
                "POST",
                f"/api/sessions/{sid}/offer",
                token,
                json={"sdp": await client.offer(), "type": "offer"},
            )
            await client.accept_answer(answer["sdp"])
            await asyncio.sleep(args.warmup)
            for count in args.counts:
                while len(viewers) < count:
                    viewer = Viewer()
                    await viewer.watch(http, base, admin, sid)
                    viewers.append(viewer)
                await asyncio.sleep(3)  # connected and streaming
                before = [v.frames for v in viewers]
                cpu = await cpu_percent(server.pid, args.window)
                fps = [(v.frames - b) / args.window for v, b in zip(viewers, before, strict=True)]
                results["viewers"][count] = {"server_cpu_percent": round(cpu, 2), "viewer_fps": fps}
                print(f"{count} viewer(s): server CPU {cpu:5.1f}% of a core, viewers at {fps} fps")
    finally:
        for viewer in viewers:
            await viewer.close()
        if client is not None:
            await client.close()
        server.terminate()
        try:
            await asyncio.wait_for(server.wait(), 15)
        except TimeoutError:
            server.kill()
    results["encode"] = encode_cost()
    print("VP8 encode per 640x480 frame (ms):", results["encode"])
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=float, default=15.0, help="seconds measured per level")
    parser.add_argument("--warmup", type=float, default=6.0)
    parser.add_argument("--counts", type=int, nargs="+", default=[0, 1, 2, 4])
    args = parser.parse_args()
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
