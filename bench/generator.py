"""A load-generator process: many simulated candidates against the server on 127.0.0.1.

    python bench/generator.py SPEC.json RESULT.json

Started by bench/load.py, never by hand. SPEC holds the mode ("webrtc" or "upload"), the
media file (`load.py` encodes the clip once), and per candidate its server URL, session,
token, start time and key (the name load.py knows it by); every time is an absolute
`time.monotonic()` instant, which all processes on the machine share. The process stops
by itself at `stop_at` (plus a bounded hang-up) and writes what each candidate saw to
RESULT.

webrtc: each candidate is a real aiortc peer pinned to loopback (host candidates on
127.0.0.1 only, no STUN server) replaying pre-encoded VP8 (and Opus) and reading alerts from
its "proctor" data channel. upload: each candidate POSTs the clip's JPEG frames to
/upload-frame at the analysis rate, one request at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp  # noqa: E402
from aiortc import RTCSessionDescription  # noqa: E402
from replay import PacketReplayTrack  # noqa: E402
from scenario import AUDIO_RATE, EVENTS, FPS, PERIOD  # noqa: E402

from signaling.ice import IceSettings  # noqa: E402

VIDEO_KINDS = ("no_face", "multiple_faces", "face_mismatch")
HOST_CANDIDATE = re.compile(r"a=candidate:\S+ \d+ udp \d+ (\S+) \d+ typ host")
HANGUP_SECONDS = 10.0
"""Upper bound on closing all peers at the end."""


@dataclass
class CandidateResult:
    session_id: int
    error: str | None = None
    offer_at: float | None = None
    answered_at: float | None = None
    connected_at: float | None = None
    channel_open_at: float | None = None
    states: list[tuple[float, str]] = field(default_factory=list)
    final_state: str | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    """Each: arrival (monotonic), kind, state, incident_id."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """Each scripted event as sent: kind, at (monotonic instant of its first frame/sample)."""
    refusals: int = 0
    """Offers the server refused with 503 (full or overloaded) before one was taken."""
    media_host: str | None = None
    """The address of the answer's ICE candidates: the node the media goes to."""
    video_sent: int = 0
    video_late: int = 0
    audio_sent: int = 0
    uploads: int = 0
    upload_errors: int = 0
    upload_latency_s: list[float] = field(default_factory=list)


def event_instants(started_at: float | None, sent: int, rate: float, kinds: set[str]) -> list:
    """Monotonic instants of the scripted events a track has played, from its start time.

    The tracks are paced on `started_at + index / rate`; a packet sent late is counted by the
    track (`late`) and reported, so the instants are the ones the candidate meant."""
    if started_at is None:
        return []
    played = sent / rate
    out = []
    loop = 0
    while loop * PERIOD < played:
        for event in EVENTS:
            if event.kind in kinds and loop * PERIOD + event.at < played:
                out.append({"kind": event.kind, "at": started_at + loop * PERIOD + event.at})
        loop += 1
    return out


class WebRtcCandidate:
    def __init__(self, spec: dict[str, Any], media: dict[str, Any], audio: bool) -> None:
        self.result = CandidateResult(spec.get("key", spec["session_id"]))
        self.session_id = spec["session_id"]
        self.base_url = spec["base_url"]
        self.token = spec["token"]
        self.start_at = float(spec["start_at"])
        self.ice = IceSettings(hosts=("127.0.0.1",))
        self.pc = self.ice.new_peer_connection()
        self.fps = float(media.get("video_fps", FPS))
        self.video = PacketReplayTrack("video", media["video"], self.fps, 90_000)
        self.audio = (
            PacketReplayTrack(
                "audio", media["audio"], 1000 / media.get("audio_ptime_ms", 20), AUDIO_RATE
            )
            if audio
            else None
        )
        channel = self.pc.createDataChannel("proctor")
        channel.on("message", self._on_message)
        channel.on("open", self._on_open)
        self.pc.on("connectionstatechange", self._on_state)
        self.pc.addTransceiver(self.video, direction="sendonly")
        if self.audio is not None:
            self.pc.addTransceiver(self.audio, direction="sendonly")
        # The shared screen: the second video track, as the page sends it.
        self.screen = (
            PacketReplayTrack("video", media["screen"], media["screen_fps"], 90_000)
            if "screen" in media
            else None
        )
        if self.screen is not None:
            self.pc.addTransceiver(self.screen, direction="sendonly")

    def _on_message(self, data: str | bytes) -> None:
        now = time.monotonic()
        try:
            message = json.loads(data)
        except ValueError:
            return
        if isinstance(message, dict) and message.get("type") == "alert":
            self.result.alerts.append(
                {
                    "arrival": now,
                    "kind": message.get("kind"),
                    "state": message.get("state"),
                    "incident_id": message.get("incident_id"),
                }
            )

    def _on_open(self) -> None:
        self.result.channel_open_at = time.monotonic()

    def _on_state(self) -> None:
        state = str(self.pc.connectionState)
        now = time.monotonic()
        self.result.states.append((now, state))
        if state == "connected" and self.result.connected_at is None:
            self.result.connected_at = now

    async def connect(
        self, http: aiohttp.ClientSession, stop_at: float, retry_jitter: float = 0.0
    ) -> None:
        """Offers at `start_at`; refused (503), offers again after Retry-After, as the page
        does, plus up to `retry_jitter` s at random (0, like the page: refused together,
        candidates come back together)."""
        await asyncio.sleep(max(0.0, self.start_at - time.monotonic()))
        self.result.offer_at = time.monotonic()
        try:
            offer = await self.pc.createOffer()
            self.ice.prepare_gathering(self.pc)
            await self.pc.setLocalDescription(offer)
            while True:
                async with http.post(
                    f"{self.base_url}/api/sessions/{self.session_id}/offer",
                    json={"sdp": self.pc.localDescription.sdp, "type": "offer"},
                    headers={"Authorization": f"Bearer {self.token}"},
                ) as response:
                    body = await response.json()
                    retry_after = float(response.headers.get("Retry-After", "15"))
                    retry_after += random.uniform(0.0, retry_jitter)
                if response.status == 503:  # like the page: wait as asked, then offer again
                    self.result.refusals += 1
                    if time.monotonic() + retry_after >= stop_at:
                        raise RuntimeError(f"offer refused {self.result.refusals} times: {body}")
                    await asyncio.sleep(retry_after)
                    continue
                if response.status != 200:
                    raise RuntimeError(f"offer: HTTP {response.status} {body}")
                break
            await self.pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "answer"))
            self.result.answered_at = time.monotonic()
            self.result.media_host = next(iter(HOST_CANDIDATE.findall(body["sdp"])), None)
        except Exception as error:  # reported per candidate, the others go on
            self.result.error = f"{type(error).__name__}: {error}"

    async def close(self) -> None:
        self.result.final_state = str(self.pc.connectionState)
        self.result.video_sent, self.result.video_late = self.video.sent, self.video.late
        events = event_instants(self.video.started_at, self.video.sent, self.fps, set(VIDEO_KINDS))
        if self.audio is not None:
            self.result.audio_sent = self.audio.sent
        self.result.events = sorted(events, key=lambda e: e["at"])
        await self.pc.close()


class UploadCandidate:
    def __init__(self, spec: dict[str, Any], media: dict[str, Any], rate: float) -> None:
        self.result = CandidateResult(spec.get("key", spec["session_id"]))
        self.session_id = spec["session_id"]
        self.base_url = spec["base_url"]
        self.token = spec["token"]
        self.start_at = float(spec["start_at"])
        self.frames: list[bytes] = media["jpeg"][round(rate)]
        self.rate = rate

    async def run(self, http: aiohttp.ClientSession, stop_at: float) -> None:
        await asyncio.sleep(max(0.0, self.start_at - time.monotonic()))
        start = time.monotonic()
        self.result.offer_at = start
        index = 0
        period = 1.0 / self.rate
        headers = {"Authorization": f"Bearer {self.token}"}
        while True:
            due = start + index * period
            now = time.monotonic()
            if due >= stop_at:
                break
            if due > now:
                await asyncio.sleep(due - now)
            else:  # behind (the previous answer was slow): skip to the current frame
                index = int((now - start) / period)
            frame = self.frames[index % len(self.frames)]
            form = aiohttp.FormData()
            form.add_field("session_id", str(self.session_id))
            form.add_field("image", frame, filename="frame.jpg", content_type="image/jpeg")
            sent = time.monotonic()
            try:
                async with http.post(
                    f"{self.base_url}/upload-frame", data=form, headers=headers
                ) as r:
                    body = await r.json()
                    done = time.monotonic()
                    if r.status != 200:
                        raise RuntimeError(f"HTTP {r.status}")
            except Exception as error:
                self.result.upload_errors += 1
                if self.result.error is None:
                    self.result.error = f"{type(error).__name__}: {error}"
                index += 1
                continue
            self.result.uploads += 1
            self.result.upload_latency_s.append(round(done - sent, 4))
            for alert in body.get("alerts", []):
                self.result.alerts.append(
                    {
                        "arrival": done,
                        "kind": alert.get("kind"),
                        "state": alert.get("state"),
                        "incident_id": alert.get("incident_id"),
                    }
                )
            index += 1
        played = time.monotonic() - start
        self.result.events = event_instants(start, round(played * FPS), FPS, set(VIDEO_KINDS))


async def loop_lag(stop_at: float, out: list[float]) -> None:
    """How late the event loop wakes up from a 100 ms sleep: the generator's own health."""
    while time.monotonic() < stop_at:
        before = time.monotonic()
        await asyncio.sleep(0.1)
        out.append(time.monotonic() - before - 0.1)


async def run(spec: dict[str, Any], media: dict[str, Any]) -> dict[str, Any]:
    stop_at = float(spec["stop_at"])
    lags: list[float] = []
    cpu_before = os.times()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        lag_task = asyncio.create_task(loop_lag(stop_at, lags))
        if spec["mode"] == "webrtc":
            peers = [WebRtcCandidate(c, media, spec["audio"]) for c in spec["candidates"]]
            jitter = float(spec.get("retry_jitter", 0.0))
            await asyncio.gather(*(p.connect(http, stop_at, jitter) for p in peers))
            await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
            try:
                async with asyncio.timeout(HANGUP_SECONDS):
                    await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
            except TimeoutError:
                logging.warning("hang-up took more than %.0f s", HANGUP_SECONDS)
            results = [p.result for p in peers]
        else:
            uploaders = [UploadCandidate(c, media, spec["upload_rate"]) for c in spec["candidates"]]
            await asyncio.gather(*(u.run(http, stop_at) for u in uploaders))
            results = [u.result for u in uploaders]
        lag_task.cancel()
    cpu_after = os.times()
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    return {
        "mode": spec["mode"],
        "cpu_s": cpu,
        "loop_lag_p50_ms": 1000 * statistics.median(lags) if lags else None,
        "loop_lag_max_ms": 1000 * max(lags) if lags else None,
        "candidates": [vars(r) for r in results],
    }


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="generator %(levelname)s %(message)s")
    spec = json.loads(Path(sys.argv[1]).read_text())
    media = pickle.loads(Path(spec["media"]).read_bytes())
    result = asyncio.run(run(spec, media))
    Path(sys.argv[2]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
