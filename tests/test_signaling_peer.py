"""CandidatePeer against a real in-process aiortc client, both pinned to 127.0.0.1.

The analyze function here is a stand-in for the detectors: it recognises which scene of the
clip a frame shows by comparing thumbnails, which proves that real pixels of real photos made
it through VP8, RTP, decoding and sampling. What is under test is the transport and sampler.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np
import pytest

from detectors.base import FrameAnalysis, Observation
from detectors.pipeline import to_bgr
from media.audio import AudioSampler
from media.video import VideoSampler
from signaling.errors import InvalidOffer
from signaling.ice import IceSettings
from signaling.peer import CandidatePeer
from signaling.registry import PeerRegistry
from tests.clips import CandidateClient, Clip, ClipVideoTrack, WavAudioTrack, speech, still

pytestmark = pytest.mark.webrtc

LOOPBACK = IceSettings(hosts=("127.0.0.1",))
SCENE = ((0, 2, "candidate"), (2, 4, "two_faces"))


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="analysis") as pool:
        yield pool


def thumbnail(bgr: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (32, 24), interpolation=cv2.INTER_AREA).astype(np.float32)


class Recorder:
    """Stand-in detector: records what each analysed frame looked like."""

    def __init__(self, contents: tuple[str, ...] = ("candidate", "two_faces", "empty")) -> None:
        self.references = {name: thumbnail(still(name)) for name in contents}
        self.seen: list[tuple[float, str, float, tuple[int, ...]]] = []
        self.delivered: list[FrameAnalysis] = []
        self.ages: list[float] = []
        """How old each frame was when its analysis was delivered."""
        self.delay = 0.0
        self.threads: set[str] = set()

    def analyze(self, frame: np.ndarray, ts: float) -> FrameAnalysis:
        self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        small = thumbnail(to_bgr(frame))
        diffs = {name: float(np.abs(small - ref).mean()) for name, ref in self.references.items()}
        best = min(diffs, key=diffs.__getitem__)
        self.seen.append((ts, best, diffs[best], frame.shape))
        return FrameAnalysis(ts=ts, observations=())

    async def on_analysis(self, analysis: FrameAnalysis) -> None:
        self.delivered.append(analysis)
        self.ages.append(time.monotonic() - analysis.ts)


class Events:
    def __init__(self) -> None:
        self.states: list[str] = []
        self.messages: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    async def on_state(self, state: str) -> None:
        self.states.append(state)
        self.changed.set()

    async def on_message(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.changed.set()

    async def wait_for(self, predicate: Any, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


def candidate_addresses(sdp: str) -> set[str]:
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def connect(peer: CandidatePeer, client: CandidateClient) -> str:
    """Offer/answer between the two; checks no candidate leaves loopback; returns the answer."""
    offer = await client.offer()
    assert candidate_addresses(offer) == {"127.0.0.1"}
    answer = await peer.accept_offer(offer, "offer")
    assert answer.type == "answer"
    assert candidate_addresses(answer.sdp) == {"127.0.0.1"}
    await client.accept_answer(answer.sdp)
    return answer.sdp


@pytest.fixture
async def cleanup() -> AsyncIterator[list[Any]]:
    """Things with an async close(), closed even when the test fails."""
    items: list[Any] = []
    yield items
    for item in reversed(items):
        await item.close()


async def test_unusable_offers_raise_invalid_offer(cleanup: list[Any]) -> None:
    no_media = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    for sdp, message in [
        ("garbage", "not an SDP"),
        (no_media, "no media section"),
        (no_media + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n", "ICE"),
    ]:
        peer = CandidatePeer(1, LOOPBACK)
        cleanup.append(peer)
        with pytest.raises(InvalidOffer, match=message):
            await peer.accept_offer(sdp, "offer")
        assert peer.send_json({"type": "hello"}) is False
        await peer.close()
        assert peer.closed


async def test_offer_with_only_private_candidates_is_refused(cleanup: list[Any]) -> None:
    client = CandidateClient(ClipVideoTrack(Clip(SCENE)))
    cleanup.append(client)
    offer = await client.offer()
    private = offer.replace(" 127.0.0.1 ", " 192.0.2.10 ")  # TEST-NET-1: never contacted
    peer = CandidatePeer(1, LOOPBACK)
    cleanup.append(peer)
    with pytest.raises(InvalidOffer, match="no ICE candidate this server may use"):
        await peer.accept_offer(private, "offer")


async def test_streams_real_clip_sampled_at_analysis_rate(
    executor: ThreadPoolExecutor, cleanup: list[Any]
) -> None:
    recorder = Recorder()
    chunks: list[tuple[int, str, float]] = []

    def process(samples: np.ndarray, rate: int, ts: float) -> list[Observation]:
        chunks.append((samples.size, str(samples.dtype), float(np.abs(samples).mean())))
        return []

    async def on_observations(observations: list[Observation]) -> None:
        pass

    events = Events()
    video = VideoSampler(recorder.analyze, recorder.on_analysis, executor, analysis_fps=2.0)
    audio = AudioSampler(process, on_observations, executor)
    peer = CandidatePeer(
        1,
        LOOPBACK,
        video=video,
        audio=audio,
        on_message=events.on_message,
        on_state_change=events.on_state,
        video_kbps=500,
    )
    cleanup.append(peer)
    clip = Clip(SCENE, fps=15)
    track = ClipVideoTrack(clip)
    samples, rate = speech(4.0)
    client = CandidateClient(track, WavAudioTrack(samples, rate))
    cleanup.append(client)

    answer = await connect(peer, client)
    assert "b=AS:500" in answer and "b=TIAS:500000" in answer  # aiortc accepted it too
    await events.wait_for(lambda: "connected" in events.states)
    assert peer.connection_state == "connected"

    # The "proctor" data channel, both ways, while the media flows.
    async with asyncio.timeout(5):
        await peer.wait_channel_open()
        await client.channel_open.wait()
    assert peer.send_json({"type": "alert", "kind": "no_face"}) is True
    async with asyncio.timeout(5):
        assert json.loads(await client.received.get()) == {"type": "alert", "kind": "no_face"}
    assert peer.send_json({"not": object()}) is False  # not JSON: refused, never raised
    client.channel.send("not json")
    client.channel.send("[1, 2]")
    client.channel.send("x" * 20_000)
    client.channel.send(json.dumps({"type": "focus_lost", "at": 1.5}))
    await events.wait_for(lambda: events.messages)
    assert events.messages == [{"type": "focus_lost", "at": 1.5}]

    # Let the whole clip play.
    async with asyncio.timeout(clip.duration + 3):
        await track.finished()
    await asyncio.sleep(0.3)
    stats = video.stats
    sent = track.sent

    # Frames arrive at the stream rate, analyses at the sampling rate.
    assert sent >= 55
    assert stats.frames_received >= sent - 5
    assert 6 <= stats.frames_analysed <= 10, stats
    assert len(recorder.delivered) == stats.frames_analysed
    assert stats.last_latency_s is not None and stats.last_latency_s < 0.5
    assert recorder.threads and all(name.startswith("analysis") for name in recorder.threads)
    # Real pixels: 640x480 as I420 planes, showing the candidate first and then two faces.
    assert {seen[3] for seen in recorder.seen} == {(720, 640)}
    labels = [seen[1] for seen in recorder.seen]
    assert labels[0] == "candidate" and labels[-1] == "two_faces"
    assert labels == sorted(labels, key=["candidate", "two_faces"].index)
    assert max(seen[2] for seen in recorder.seen) < 20  # mean grey-level error, out of 255
    stamps = [seen[0] for seen in recorder.seen]
    assert stamps == sorted(stamps)
    # Arrival times jitter with the network and the load, the sampling period does not.
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert 0.4 <= float(np.median(gaps)) <= 0.6, gaps

    # Audio: real speech through Opus, 0.5 s chunks of 48 kHz int16 mono.
    assert len(chunks) >= 5
    assert {(size, dtype) for size, dtype, _ in chunks} == {(24_000, "int16")}
    assert max(level for _, _, level in chunks) > 300  # about 0.01 of full scale

    await peer.close()
    assert events.states[-1] == "closed"
    assert not video.running


async def test_slow_analysis_skips_frames_and_stays_recent(
    executor: ThreadPoolExecutor, cleanup: list[Any]
) -> None:
    recorder = Recorder()
    recorder.delay = 1.0  # far slower than the 2 fps asked for
    video = VideoSampler(recorder.analyze, recorder.on_analysis, executor, analysis_fps=2.0)
    peer = CandidatePeer(1, LOOPBACK, video=video)
    cleanup.append(peer)
    track = ClipVideoTrack(Clip(((0, 4, "candidate"),), fps=15))
    client = CandidateClient(track)
    cleanup.append(client)
    await connect(peer, client)

    async with asyncio.timeout(8):
        await track.finished()
    stats = video.stats
    # The reader kept up with the stream while analysis crawled.
    assert stats.frames_received >= track.sent - 5 >= 50
    assert 2 <= stats.frames_analysed <= 5
    assert stats.frames_analysed * 10 < stats.frames_received
    # Each analysis was of a frame that was new when the previous one finished: its result
    # is about one analysis old, never a growing backlog.
    assert len(recorder.ages) == stats.frames_analysed
    assert max(recorder.ages) < 1.3, recorder.ages
    assert stats.last_latency_s is not None and stats.last_latency_s < 1.3


async def test_new_offer_replaces_old_connection_and_close_all(cleanup: list[Any]) -> None:
    registry: PeerRegistry[CandidatePeer] = PeerRegistry()
    cleanup.append(type("Closer", (), {"close": registry.close_all})())

    async def join(session_id: int) -> tuple[CandidatePeer, Events, CandidateClient]:
        events = Events()
        peer = CandidatePeer(session_id, LOOPBACK, on_state_change=events.on_state)
        client = CandidateClient(ClipVideoTrack(Clip(SCENE), loop=True))
        cleanup.append(client)
        await registry.replace(session_id, peer)
        await connect(peer, client)
        await events.wait_for(lambda: "connected" in events.states)
        return peer, events, client

    first, first_events, _ = await join(1)
    other, other_events, _ = await join(2)
    second, second_events, _ = await join(1)  # the candidate reconnects

    assert registry.get(1) is second and len(registry) == 2
    assert first.closed and first.connection_state == "closed"
    assert first_events.states[-1] == "closed"
    assert second.connection_state == "connected" and not second.closed

    await registry.close_all()
    assert len(registry) == 0
    for peer, events in ((second, second_events), (other, other_events)):
        assert peer.closed and peer.connection_state == "closed"
        assert events.states[-1] == "closed"


async def test_page_hanging_up_is_reported_and_releases_the_peer(
    executor: ThreadPoolExecutor, cleanup: list[Any]
) -> None:
    recorder = Recorder()
    video = VideoSampler(recorder.analyze, recorder.on_analysis, executor)
    events = Events()
    peer = CandidatePeer(1, LOOPBACK, video=video, on_state_change=events.on_state)
    cleanup.append(peer)
    client = CandidateClient(ClipVideoTrack(Clip(SCENE), loop=True))
    await connect(peer, client)
    await events.wait_for(lambda: "connected" in events.states)
    await client.close()
    await events.wait_for(lambda: "closed" in events.states, within=5)
    async with asyncio.timeout(5):
        await video.wait_ended()  # the remote track ended when aiortc closed the connection
    assert peer.closed and not video.running
    assert events.states == ["connecting", "connected", "closed"]
