"""One active attempt, live: its peer connection, samplers, analysers, rules and alerts."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.dispatch import AlertDispatcher, DeliveredAlert
from alerts.engine import RuleEngine
from alerts.errors import AlertNotStored
from alerts.events import AlertEvent, IncidentState
from alerts.presets import RuleBook
from core.kinds import AlertKind
from core.tasks import spawn
from detectors.base import FrameAnalysis, IdentityCounts, Observation
from detectors.pipeline import AnalyzerSettings, AudioAnalyzer, to_bgr
from live.analysis import AnalysisPlacement, Analyzer
from live.broadcast import Broadcast
from live.bus import ConsoleBus
from live.counters import LiveCounters
from live.identity_evidence import beside_reference
from live.messages import Overlay, ProctorMessage, SessionChanged, SessionEvent
from live.page_events import observations_from_page
from live.protocol import OfferAnswer
from live.recording import AttemptRecording
from live.screen_watch import ScreenWatch
from live.thumbnail import Thumbnail
from media.audio import AudioSampler
from media.constraints import CaptureProfile
from media.video import VideoSampler
from signaling.ice import IceSettings
from signaling.peer import CandidatePeer
from signaling.registry import PeerRegistry
from storage.blobs import BlobStore
from storage.ownership import Fenced

logger = logging.getLogger(__name__)


def evidence_key(name: str) -> str:
    """The blob key of an alert's `evidence_file`."""
    return f"evidence/{name}"


def _evidence_jpeg(frame: np.ndarray, reference: bytes | None, caption: str) -> bytes:
    """The frame as JPEG; beside the enrolled face crop `reference`, captioned, when given."""
    picture = to_bgr(frame)
    if reference is not None:
        picture = beside_reference(picture, reference, caption)
    quality = [cv2.IMWRITE_JPEG_QUALITY, EVIDENCE_JPEG_QUALITY]
    ok, data = cv2.imencode(".jpg", picture, quality)
    if not ok:
        raise RuntimeError("JPEG encoding of the evidence failed")
    return bytes(data.tobytes())


TICK_SECONDS = 1.0
"""How often open incidents are re-checked when no observation arrives."""
EVIDENCE_JPEG_QUALITY = 80


@dataclass(frozen=True, slots=True)
class LiveContext:
    """What every live session of one server shares."""

    executor: Executor
    dispatcher: AlertDispatcher
    bus: ConsoleBus
    peers: PeerRegistry[CandidatePeer]
    ice: IceSettings
    profile: CaptureProfile
    blobs: BlobStore
    """Where evidence and recordings go (`storage.blobs`)."""
    db: async_sessionmaker[AsyncSession]
    record: bool
    """Record each attempt's camera, microphone and screen (`live.recording`)."""
    analysis_fps: float
    still_analysis_fps: float
    stream_lost_grace: float
    screen_share_grace: float
    """`live.screen_watch.ScreenWatch`'s grace before a first screen share."""
    analyzer: AnalyzerSettings
    analysis: AnalysisPlacement
    """Where frames are analysed (`live.analysis.analysis_placement`)."""
    counters: LiveCounters
    lost: Callable[[int], None]
    """Called with a session whose attempt another node has taken (`Fenced`)."""


class LiveSession:
    def __init__(
        self,
        context: LiveContext,
        *,
        session_id: int,
        exam_id: int,
        rules: RuleBook,
        reference: np.ndarray | None,
        reference_crop: bytes | None = None,
        fence: int | None = None,
        require_screen: bool = False,
    ) -> None:
        """`reference_crop`: the enrolled face as JPEG, shown beside face_mismatch evidence.
        `fence`: this node's hold on the attempt, carried by every alert it stores.
        `require_screen`: the exam records the candidate's screen (`ScreenWatch`)."""
        self.session_id = session_id
        self.fence = fence
        self.exam_id = exam_id
        self._context = context
        self._engine = RuleEngine(rules)
        self._reference_crop = reference_crop
        self.identity = IdentityCounts()
        analyzer = replace(context.analyzer, identity_band=rules.identity)
        self._frames: Analyzer = context.analysis.analyzer(session_id, reference, analyzer)
        self._audio = AudioAnalyzer()
        self._frame_lock = threading.Lock()  # WebRTC and upload frames share one analyser
        self._audio_lock = threading.Lock()
        self._last_frame: np.ndarray | None = None
        self._delivery = asyncio.Lock()  # one session's events reach sinks in order
        self._peer: CandidatePeer | None = None
        self._video: VideoSampler | None = None
        self._audio_sampler: AudioSampler | None = None
        self._disconnected_since: float | None = None
        self._stream_lost_reported = False
        self._screen = ScreenWatch(context.screen_share_grace) if require_screen else None
        self._closed = False
        self._log = logging.LoggerAdapter(logger, {"session_id": session_id})
        self._ticker = spawn(self._tick_forever(), name=f"live-{session_id}-tick", logger=logger)
        self.broadcast = Broadcast(name=f"watch-{session_id}")
        """The candidate's video for proctors who watch it live (encoded once for all)."""
        self.thumbnail = Thumbnail(context.executor)
        self.recording = (
            AttemptRecording(
                session_id=session_id,
                blobs=context.blobs,
                db=context.db,
                executor=context.executor,
            )
            if context.record
            else None
        )

    @property
    def peer(self) -> CandidatePeer | None:
        return self._peer

    @property
    def video_stats(self) -> Any:
        return None if self._video is None else self._video.stats

    @property
    def audio_stats(self) -> Any:
        return None if self._audio_sampler is None else self._audio_sampler.stats

    @property
    def connected(self) -> bool:
        """True while the candidate's current connection is up."""
        return self._peer is not None and self._peer.connection_state == "connected"

    async def thumbnail_jpeg(self) -> bytes | None:
        """The latest analysed frame, small, as JPEG (None before the first analysis)."""
        return await self.thumbnail.jpeg(self._last_frame)

    def send_to_page(self, message: ProctorMessage) -> bool:
        """Send a message to the candidate's page; False when the channel is not open."""
        return self._peer is not None and self._peer.send_json(message.to_json())

    # --- connection -------------------------------------------------------------------

    async def accept_offer(self, sdp: str, sdp_type: str) -> OfferAnswer:
        """Answer the page's offer; a new offer replaces the previous connection."""
        context = self._context
        video = VideoSampler(
            self._analyze_frame,
            self._on_analysis,
            context.executor,
            analysis_fps=context.analysis_fps,
            # Rules and their debounces assume at least one analysis a second.
            min_analysis_fps=min(1.0, context.analysis_fps),
            still_analysis_fps=context.still_analysis_fps,
            name=f"video-{self.session_id}",
        )
        audio = AudioSampler(
            self._process_audio,
            self._on_observations,
            context.executor,
            name=f"audio-{self.session_id}",
        )
        recording = self.recording
        if recording is not None:
            await recording.prepare()
        peer = CandidatePeer(
            self.session_id,
            context.ice,
            video=self.broadcast.tee(video),
            audio=audio,
            on_message=self._on_page_message,
            video_kbps=context.profile.video_kbps,
            audio_ptime_ms=context.profile.audio_ptime_ms,
            on_receiver=None if recording is None else recording.on_receiver,
        )

        async def on_state(state: str) -> None:
            await self._on_connection_state(peer, state)

        peer.on_state_change = on_state
        try:
            answer = await peer.accept_offer(sdp, sdp_type)
        except BaseException:
            await peer.close()
            raise
        self._peer, self._video, self._audio_sampler = peer, video, audio
        if self._screen is not None:
            self._screen.connected(peer.has_screen, time.monotonic())
        await context.peers.replace(self.session_id, peer)
        return OfferAnswer(sdp=answer.sdp, **context.profile.page_settings())

    async def _on_connection_state(self, peer: CandidatePeer, state: str) -> None:
        if peer is not self._peer or self._closed:
            return  # a replaced connection's last words
        if state in ("connected", "failed", "closed"):
            event: SessionEvent = "connected" if state == "connected" else "disconnected"
            self._context.bus.publish(
                self.exam_id, SessionChanged(session_id=self.session_id, event=event)
            )
        if state == "connected":
            self._disconnected_since = None
        elif state in ("disconnected", "failed", "closed") and self._disconnected_since is None:
            self._disconnected_since = time.monotonic()

    def _stream_down_since(self, now: float) -> float | None:
        """When the stream went down, if it is down: the connection dropped, or it stays
        "connected" but no video arrives (aiortc only notices a vanished peer after ~30 s)."""
        if self._disconnected_since is not None:
            return self._disconnected_since
        last_frame = None if self._video is None else self._video.stats.last_frame_at
        if last_frame is not None and now - last_frame >= self._context.stream_lost_grace:
            return last_frame
        return None

    async def _check_stream(self, now: float) -> None:
        since = self._stream_down_since(now)
        grace = self._context.stream_lost_grace
        if since is not None and not self._stream_lost_reported and now - since >= grace:
            self._stream_lost_reported = True
            message = f"the candidate's stream has been down for more than {grace:g} s"
            await self._observe([Observation(AlertKind.STREAM_LOST, True, since, message=message)])
        elif since is None and self._stream_lost_reported:
            self._stream_lost_reported = False
            await self._observe([Observation(AlertKind.STREAM_LOST, False, now)])

    # --- analysis ---------------------------------------------------------------------

    def _analyze_frame(self, image: np.ndarray, ts: float) -> FrameAnalysis:
        """Runs in a worker thread; `image` is BGR (uploads) or I420 (the live stream)."""
        with self._frame_lock:
            analysis = self._frames.analyze(image, ts)
            self._last_frame = image
            self.identity.add(analysis)
            return analysis

    def _process_audio(self, pcm: np.ndarray, rate: int, ts: float) -> list[Observation]:
        """Runs in a worker thread; `pcm` is mono at `rate` (48 kHz from a browser)."""
        with self._audio_lock:
            return self._audio.feed(pcm, rate, ts)

    def _count(self, analysis: FrameAnalysis) -> None:
        if not analysis.repeated:
            counters = self._context.counters
            counters.analyses += 1
            counters.analysis_latency.observe(time.monotonic() - analysis.ts)

    async def _on_analysis(self, analysis: FrameAnalysis) -> None:
        self._count(analysis)
        self._context.bus.publish(self.exam_id, Overlay.of(self.session_id, analysis))
        await self._observe(analysis.observations)

    async def _on_observations(self, observations: list[Observation]) -> None:
        await self._observe(observations)

    async def _on_page_message(self, message: dict[str, Any]) -> None:
        observations = observations_from_page(message, time.monotonic())
        if observations is None:
            self._log.debug("ignored page message %r", message.get("type"))
            return
        await self._observe(observations)

    async def analyze_upload(self, bgr: np.ndarray) -> tuple[FrameAnalysis, list[DeliveredAlert]]:
        """One uploaded frame through the same analyser, rules and sinks as the live stream."""
        loop = asyncio.get_running_loop()
        analysis = await loop.run_in_executor(
            self._context.executor, self._analyze_frame, bgr, time.monotonic()
        )
        self._count(analysis)
        self._context.bus.publish(self.exam_id, Overlay.of(self.session_id, analysis))
        delivered = await self._observe(analysis.observations)
        return analysis, delivered

    # --- rules and delivery -----------------------------------------------------------

    async def _observe(self, observations: Iterable[Observation]) -> list[DeliveredAlert]:
        if self._closed:
            return []
        events = self._engine.feed_all(observations)
        return await self._deliver(events)

    async def _tick_forever(self) -> None:
        while not self._closed:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            await self._check_stream(now)
            if self._screen is not None and (changed := self._screen.observations(now)):
                await self._observe(changed)
            await self._deliver(self._engine.tick(now))

    async def _deliver(self, events: list[AlertEvent]) -> list[DeliveredAlert]:
        delivered = []
        async with self._delivery:
            for event in events:
                evidence = None
                if event.state == IncidentState.STARTED:
                    evidence = await self._save_evidence(event)
                alert = DeliveredAlert(
                    event, self.session_id, self.exam_id, evidence_path=evidence, fence=self.fence
                )
                started = time.monotonic()
                try:
                    delivered.append(await self._context.dispatcher.dispatch(alert))
                except AlertNotStored as error:  # logged by the dispatcher; nobody was told
                    self._context.counters.stores_failed += 1
                    if isinstance(error.__cause__, Fenced):
                        # Another node holds the attempt now: hang up, so that the page
                        # reconnects to it.
                        self._context.lost(self.session_id)
                        return delivered
                    continue
                self._context.counters.delivery_latency.observe(time.monotonic() - started)
        return delivered

    async def _save_evidence(self, event: AlertEvent) -> str | None:
        """The analysed frame as a JPEG in the blob store; its name, relative to
        "evidence/" (`evidence_key`), or None when there is no frame or it failed."""
        frame = self._last_frame
        if frame is None:
            return None
        name = f"{self.session_id}/{event.incident_id}.jpg"
        crop = self._reference_crop if event.kind is AlertKind.FACE_MISMATCH else None
        loop = asyncio.get_running_loop()
        try:
            jpeg = await loop.run_in_executor(
                self._context.executor, _evidence_jpeg, frame, crop, event.message
            )
            await self._context.blobs.put(evidence_key(name), jpeg)
        except (OSError, RuntimeError):
            self._log.exception("could not keep the evidence of %s", event.incident_id)
            return None
        return name

    # --- end --------------------------------------------------------------------------

    async def close(self, *, ended: bool = True) -> None:
        """End every open incident (delivered and stored) and close the connection. With
        `ended` (the attempt is over, not the server stopping) its recording is merged."""
        if self._closed:
            return
        events = self._engine.close(time.monotonic())
        await self._deliver(events)
        self._closed = True
        self._frames.close()
        self._ticker.cancel()
        await self.broadcast.close()
        await self._context.peers.close(self.session_id)
        self._peer = None
        if self.recording is not None:
            await self.recording.stop(final=ended)
