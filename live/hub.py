"""The live side of the server in one process: the worker threads, peers, console bus and one
`LiveSession` per attempt that is being watched. Created at start-up, closed (alerts
flushed) at shutdown. A live worker process runs one of these behind `live.worker_process`."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import TypeVar, cast

import numpy as np
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.dispatch import AlertDispatcher
from alerts.presets import resolve_rules
from core.settings import Settings
from detectors.errors import ImageDecodeError
from detectors.identity import decode_image
from detectors.pipeline import AnalyzerSettings
from live.admission import (
    Admission,
    AnalysisBacklog,
    Budget,
    BusyShare,
    LoopLag,
    ProcessTreeCpu,
    Sampler,
    available_cpus,
)
from live.analysis import analysis_placement
from live.bus import ConsoleBus
from live.counters import LiveCounters
from live.messages import AlertMessage, FaceBoxOut, SessionChanged
from live.protocol import (
    Close,
    Done,
    IdentityStats,
    LiveRefused,
    LiveSessionStats,
    LiveState,
    LiveStates,
    LiveStats,
    ObservationOut,
    Offer,
    OfferAnswer,
    Refusal,
    Req,
    SendToPage,
    SentToPage,
    SessionRef,
    States,
    Stats,
    Thumbnail,
    ThumbnailReply,
    Upload,
    UploadResult,
    Watch,
    WatchAnswer,
)
from live.session import LiveContext, LiveSession
from live.sinks import ChannelSink, ConsoleSink, StoreSink
from media.constraints import CaptureProfile
from signaling.errors import InvalidOffer
from signaling.ice import ice_settings
from signaling.peer import CandidatePeer
from signaling.registry import PeerRegistry
from storage.blobs import BlobStore, reference_key
from storage.models import Exam, ReferenceFace
from storage.ownership import Fenced, claim
from storage.writer import AlertWriter

logger = logging.getLogger(__name__)

__all__ = ["LiveHub"]

R = TypeVar("R", bound=BaseModel)


class LiveHub:
    def __init__(
        self,
        settings: Settings,
        db: async_sessionmaker[AsyncSession],
        blobs: BlobStore,
        *,
        measure_cpu: bool = True,
    ) -> None:
        """`measure_cpu`: admission watches the processors this process and its children
        use (False in a live worker: the front watches the whole tree)."""
        self._db = db
        self.bus = ConsoleBus()
        self.peers: PeerRegistry[CandidatePeer] = PeerRegistry()
        self.executor = ThreadPoolExecutor(settings.detector_threads, thread_name_prefix="detector")
        self._sessions: dict[int, LiveSession] = {}
        self._opening = asyncio.Lock()
        self._writer = AlertWriter(settings.resolved_database_url, db)
        dispatcher = AlertDispatcher(
            [StoreSink(self._writer), ChannelSink(self._peer_of), ConsoleSink(self.bus)],
            final_errors=(Fenced,),
        )
        self._node = settings.resolved_node_id
        self.counters = LiveCounters()
        self.analysis = analysis_placement(
            settings.analysis_processes,
            settings.detector_threads,
            settings.analysis_delay_seconds,
        )
        self._context = LiveContext(
            executor=self.executor,
            dispatcher=dispatcher,
            bus=self.bus,
            peers=self.peers,
            ice=ice_settings(settings),
            profile=CaptureProfile.for_size(*settings.capture_size),
            blobs=blobs,
            db=db,
            record=settings.record,
            analysis_fps=settings.analysis_fps,
            still_analysis_fps=settings.still_analysis_fps,
            stream_lost_grace=settings.stream_lost_grace_seconds,
            screen_share_grace=settings.screen_share_grace_seconds,
            analyzer=AnalyzerSettings(identity_interval=settings.identity_interval_seconds),
            analysis=self.analysis,
            counters=self.counters,
            lost=self._lost,
        )
        self._closing: set[asyncio.Task[None]] = set()
        self.loop_lag = LoopLag()
        busy = self.analysis.busy
        self.analysis_load = BusyShare(
            "analysis-load", lambda: busy.seconds, self.analysis.capacity
        )
        budgets = [Budget("the analysers", self.analysis_load, settings.max_analysis_load)]
        if measure_cpu:
            cpu = BusyShare("cpu-load", ProcessTreeCpu().seconds, available_cpus())
            budgets.append(Budget("the processors", cpu, settings.max_cpu_load))
        # ThreadPoolExecutor keeps its backlog in a private queue; without it, not measured.
        queue = getattr(self.executor, "_work_queue", None)
        backlog = None if queue is None else AnalysisBacklog(queue.qsize)
        self.admission = Admission(
            self.loop_lag,
            max_sessions=settings.max_live_sessions,
            max_lag=settings.max_loop_lag_seconds,
            budgets=budgets,
            backlog=backlog,
            max_backlog=self.analysis.capacity,
        )
        self._samplers: list[Sampler] = [self.loop_lag, *(b.share for b in budgets)]
        if backlog is not None:
            self._samplers.append(backlog)
        for sampler in self._samplers:
            sampler.start()

    def _peer_of(self, session_id: int) -> CandidatePeer | None:
        return self.peers.get(session_id)

    def session(self, session_id: int) -> LiveSession | None:
        return self._sessions.get(session_id)

    async def ask(self, request: Req[R]) -> R:
        reply: BaseModel
        match request:
            case Offer():
                reply = await self._offer(request)
            case Upload():
                reply = await self._upload(request)
            case Close():
                self.session_closed(request.session_id)
                reply = Done()
            case SendToPage():
                reply = SentToPage(delivered=self._send_to_page(request))
            case Watch():
                reply = await self._watch(request)
            case Thumbnail():
                live = self._sessions.get(request.session_id)
                reply = ThumbnailReply(jpeg=None if live is None else await live.thumbnail_jpeg())
            case States():
                reply = self._states(request.session_ids)
            case Stats():
                reply = self._stats()
            case _:
                raise TypeError(f"not a live request: {request!r}")
        return cast(R, reply)

    async def _open(self, ref: SessionRef) -> LiveSession:
        """The attempt's live session, created on first use."""
        async with self._opening:
            live = self._sessions.get(ref.session_id)
            if live is not None:
                return live
            async with self._db() as db:
                exam = await db.get(Exam, ref.exam_id)
                assert exam is not None
                reference = (
                    await db.execute(
                        select(ReferenceFace.descriptor).where(
                            ReferenceFace.user_id == ref.candidate_id
                        )
                    )
                ).scalar_one_or_none()
                fence = await claim(db, ref.session_id, self._node)
            live = LiveSession(
                self._context,
                session_id=ref.session_id,
                exam_id=ref.exam_id,
                rules=resolve_rules(exam.rules_preset, exam.rules_overrides),
                reference=None if reference is None else np.frombuffer(reference, np.float32),
                reference_crop=await self._context.blobs.get(reference_key(ref.candidate_id)),
                fence=fence,
                require_screen=exam.record_screen,
            )
            self._sessions[ref.session_id] = live
            started = SessionChanged(session_id=ref.session_id, event="started")
            self.bus.publish(ref.exam_id, started)
            return live

    async def _offer(self, request: Offer) -> OfferAnswer:
        """A candidate not live yet is refused (`SERVER_BUSY`) when `admission` says so."""
        session_id = request.session.session_id
        new = session_id not in self._sessions
        if new and (reason := self.admission.admit(len(self._sessions))) is not None:
            logger.warning("session %s: stream refused: %s", session_id, reason)
            raise LiveRefused(Refusal.SERVER_BUSY, reason)
        live = await self._open(request.session)
        try:
            return await live.accept_offer(request.sdp, request.type)
        except InvalidOffer as error:
            raise LiveRefused(Refusal.INVALID_OFFER, str(error)) from None

    async def _upload(self, request: Upload) -> UploadResult:
        loop = asyncio.get_running_loop()
        try:
            bgr = await loop.run_in_executor(self.executor, decode_image, request.image)
        except ImageDecodeError as error:
            raise LiveRefused(Refusal.NOT_AN_IMAGE, str(error)) from None
        live = await self._open(request.session)
        analysis, delivered = await live.analyze_upload(bgr)
        return UploadResult(
            session_id=live.session_id,
            faces=[
                FaceBoxOut(x=f.x, y=f.y, width=f.width, height=f.height, score=f.score)
                for f in analysis.faces
            ],
            observations=[
                ObservationOut(
                    kind=str(o.kind), active=o.active, confidence=o.confidence, message=o.message
                )
                for o in analysis.observations
            ],
            alerts=[AlertMessage.of(alert) for alert in delivered],
        )

    def _send_to_page(self, request: SendToPage) -> bool:
        """Sent to the page and, once delivered, echoed to the exam's consoles."""
        live = self._sessions.get(request.message.session_id)
        if live is None or not live.send_to_page(request.message):
            return False
        self.bus.publish(live.exam_id, request.message)
        return True

    async def _watch(self, request: Watch) -> WatchAnswer:
        live = self._sessions.get(request.session_id)
        if live is None:
            raise LiveRefused(Refusal.NOT_LIVE, "the candidate has not connected a camera yet")
        try:
            answer = await live.broadcast.answer(self._context.ice, request.sdp, request.type)
        except InvalidOffer as error:
            raise LiveRefused(Refusal.INVALID_OFFER, str(error)) from None
        return WatchAnswer(
            sdp=answer.sdp,
            viewers=live.broadcast.viewer_count,
            max_viewers=live.broadcast.max_viewers,
        )

    def _states(self, session_ids: list[int]) -> LiveStates:
        return LiveStates(
            states={
                sid: LiveState(connected=live.connected, viewers=live.broadcast.viewer_count)
                for sid in session_ids
                if (live := self._sessions.get(sid)) is not None
            }
        )

    def _stats(self) -> LiveStats:
        sessions = []
        for sid in self.peers.sessions():
            live = self.session(sid)
            peer = self.peers.get(sid)
            video = None if live is None else live.video_stats
            audio = None if live is None else live.audio_stats
            sessions.append(
                LiveSessionStats(
                    session_id=sid,
                    connection_state=None if peer is None else peer.connection_state,
                    channel_open=peer is not None and peer.channel_open,
                    frames_received=0 if video is None else video.frames_received,
                    frames_analysed=0 if video is None else video.frames_analysed,
                    frames_repeated=0 if video is None else video.frames_repeated,
                    analysis_errors=0 if video is None else video.analysis_errors,
                    last_frame_at=None if video is None else video.last_frame_at,
                    last_analysed_ts=None if video is None else video.last_analysed_ts,
                    last_analysis_s=None if video is None else video.last_analysis_s,
                    last_latency_s=None if video is None else video.last_latency_s,
                    audio_frames_received=0 if audio is None else audio.frames_received,
                    audio_chunks_processed=0 if audio is None else audio.chunks_processed,
                    identity=None if live is None else IdentityStats(**asdict(live.identity)),
                )
            )
        # ThreadPoolExecutor keeps its backlog in a private queue; best effort, never required.
        queue = getattr(self.executor, "_work_queue", None)
        return LiveStats(
            now=time.monotonic(),
            peers=len(self.peers),
            live_sessions=len(self._sessions),
            executor_queue=None if queue is None else queue.qsize(),
            loop_lag_s=self.loop_lag.worst(),
            analysis_load=self.analysis_load.share(),
            offers_refused=self.admission.refused,
            analyses=self.counters.analyses,
            stores_failed=self.counters.stores_failed,
            analysis_latency=self.counters.analysis_latency.snapshot(),
            delivery_latency=self.counters.delivery_latency.snapshot(),
            worker_restarts=0,
            sessions=sessions,
        )

    def _lost(self, session_id: int) -> None:
        """Another node took the attempt: drop it here without a word (it is not over)."""
        logger.warning("session %s: held by another node now; hanging up here", session_id)
        self._close_in_background(self._sessions.pop(session_id, None))

    def _close_in_background(self, live: LiveSession | None) -> None:
        if live is not None:
            task = asyncio.get_running_loop().create_task(
                live.close(), name=f"close-{live.session_id}"
            )
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def session_closed(self, session_id: int) -> None:
        """The attempt ended (submitted, terminated, expired): flush and hang up, soon."""
        live = self._sessions.pop(session_id, None)
        if live is not None:
            self.bus.publish(live.exam_id, SessionChanged(session_id=session_id, event="ended"))
        self._close_in_background(live)

    async def close(self) -> None:
        """Server shutdown: end every open incident (stored), close every connection."""
        sessions, self._sessions = list(self._sessions.values()), {}
        # The server stops, not the attempts: their recordings continue after a restart.
        closing = [live.close(ended=False) for live in sessions] + list(self._closing)
        for result in await asyncio.gather(*closing, return_exceptions=True):
            if isinstance(result, BaseException):
                logger.error("closing a live session failed", exc_info=result)
        await self.peers.close_all()
        await self._writer.close()
        for sampler in self._samplers:
            await sampler.stop()
        self.bus.close()
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.analysis.close()
