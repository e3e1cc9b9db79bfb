"""The live side of the server: the worker threads, peers, bus and one LiveSession per
attempt that is being watched. Created at start-up, closed (alerts flushed) at shutdown."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.bus import AlertBus
from alerts.dispatch import AlertDispatcher
from alerts.presets import resolve_rules
from api.errors import unprocessable
from api.schemas import LiveAlertOut, UploadFrameOut, WatchOut
from api.stats import LiveSessionStatsOut, LiveStatsOut
from core.settings import Settings
from detectors.analysis_pool import AnalysisPool
from detectors.errors import ImageDecodeError
from detectors.identity import decode_image
from detectors.identity_pool import DescriptorPool
from detectors.pipeline import AnalyzerSettings
from live.admission import Admission, LoopLag
from live.contract import LiveState, NotLive, ServerBusy
from live.session import LiveContext, LiveSession
from live.sinks import ChannelSink, ConsoleSink, StoreSink, alert_message
from media.constraints import CaptureProfile
from signaling.ice import IceSettings
from signaling.peer import CandidatePeer
from signaling.registry import PeerRegistry
from storage.models import Exam, ExamSession, ReferenceFace
from storage.reference_crops import ReferenceCrops
from storage.writer import AlertWriter

logger = logging.getLogger(__name__)


__all__ = ["LiveHub", "ServerBusy"]


class LiveHub:
    def __init__(self, settings: Settings, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db
        self.bus = AlertBus()
        self.peers: PeerRegistry[CandidatePeer] = PeerRegistry()
        self.executor = ThreadPoolExecutor(settings.detector_threads, thread_name_prefix="detector")
        self._sessions: dict[int, LiveSession] = {}
        self._opening = asyncio.Lock()
        self._writer = AlertWriter(settings.resolved_database_url, db)
        dispatcher = AlertDispatcher(
            [StoreSink(self._writer), ChannelSink(self._peer_of), ConsoleSink(self.bus)]
        )
        # Analysis in child processes runs the identity descriptor there too.
        self.analysis = (
            AnalysisPool(settings.analysis_processes) if settings.analysis_processes else None
        )
        self.descriptors = (
            DescriptorPool(settings.identity_processes)
            if settings.identity_processes and self.analysis is None
            else None
        )
        self._context = LiveContext(
            executor=self.executor,
            dispatcher=dispatcher,
            bus=self.bus,
            peers=self.peers,
            ice=IceSettings(servers=settings.ice_servers, hosts=settings.ice_hosts),
            profile=CaptureProfile.for_size(*settings.capture_size),
            evidence_dir=settings.evidence_dir,
            analysis_fps=settings.analysis_fps,
            still_analysis_fps=settings.still_analysis_fps,
            stream_lost_grace=settings.stream_lost_grace_seconds,
            analyzer=AnalyzerSettings(identity_interval=settings.identity_interval_seconds),
            describe=None if self.descriptors is None else self.descriptors.describe,
            analysis_pool=self.analysis,
        )
        self._crops = ReferenceCrops(settings.reference_dir)
        self._closing: set[asyncio.Task[None]] = set()
        self.loop_lag = LoopLag()
        self.loop_lag.start()
        self.admission = Admission(
            self.loop_lag,
            max_sessions=settings.max_live_sessions,
            max_lag=settings.max_loop_lag_seconds,
        )

    def _peer_of(self, session_id: int) -> CandidatePeer | None:
        return self.peers.get(str(session_id))

    def session(self, session_id: int) -> LiveSession | None:
        return self._sessions.get(session_id)

    async def open(self, row: ExamSession) -> LiveSession:
        """The attempt's live session, created on first use."""
        async with self._opening:
            live = self._sessions.get(row.id)
            if live is not None:
                return live
            async with self._db() as db:
                exam = await db.get(Exam, row.exam_id)
                assert exam is not None
                reference = (
                    await db.execute(
                        select(ReferenceFace.descriptor).where(
                            ReferenceFace.user_id == row.candidate_id
                        )
                    )
                ).scalar_one_or_none()
            live = LiveSession(
                self._context,
                session_id=row.id,
                exam_id=row.exam_id,
                rules=resolve_rules(exam.rules_preset, exam.rules_overrides),
                reference=None if reference is None else np.frombuffer(reference, np.float32),
                reference_crop=self._crops.load(row.candidate_id),
            )
            self._sessions[row.id] = live
            self.bus.publish(
                row.exam_id, {"type": "session", "session_id": row.id, "event": "started"}
            )
            return live

    async def accept_offer(self, row: ExamSession, sdp: str, sdp_type: str) -> dict[str, Any]:
        """Answer the page's offer. Raises `ServerBusy` for a candidate not live yet when
        `admission` refuses one."""
        new = row.id not in self._sessions
        if new and (reason := self.admission.refusal(len(self._sessions))) is not None:
            logger.warning("session %s: stream refused: %s", row.id, reason)
            raise ServerBusy(reason)
        live = await self.open(row)
        return await live.accept_offer(sdp, sdp_type)

    async def analyze_upload(self, row: ExamSession, image: bytes) -> UploadFrameOut:
        loop = asyncio.get_running_loop()
        try:
            bgr = await loop.run_in_executor(self.executor, decode_image, image)
        except ImageDecodeError as error:
            raise unprocessable("not_an_image", str(error)) from None
        live = await self.open(row)
        analysis, delivered = await live.analyze_upload(bgr)
        return UploadFrameOut(
            session_id=row.id,
            faces=[
                {"x": f.x, "y": f.y, "width": f.width, "height": f.height, "score": f.score}
                for f in analysis.faces
            ],
            observations=[
                {
                    "kind": str(o.kind),
                    "active": o.active,
                    "confidence": o.confidence,
                    "message": o.message,
                }
                for o in analysis.observations
            ],
            alerts=[LiveAlertOut.model_validate(alert_message(a)) for a in delivered],
        )

    async def states(self, session_ids: Collection[int]) -> dict[int, LiveState]:
        return {
            sid: LiveState(connected=live.connected, viewers=live.broadcast.viewer_count)
            for sid in session_ids
            if (live := self._sessions.get(sid)) is not None
        }

    async def thumbnail(self, session_id: int) -> bytes | None:
        live = self._sessions.get(session_id)
        return None if live is None else await live.thumbnail_jpeg()

    async def send_to_page(self, session_id: int, message: dict[str, Any]) -> bool:
        live = self._sessions.get(session_id)
        return live is not None and live.send_to_page(message)

    async def watch(self, session_id: int, sdp: str, sdp_type: str) -> WatchOut:
        live = self._sessions.get(session_id)
        if live is None:
            raise NotLive("the candidate has not connected a camera yet")
        answer = await live.broadcast.answer(self._context.ice, sdp, sdp_type)
        return WatchOut(
            sdp=answer.sdp,
            type="answer",
            viewers=live.broadcast.viewer_count,
            max_viewers=live.broadcast.max_viewers,
        )

    async def stats(self) -> LiveStatsOut:
        sessions = []
        for sid in self.peers.sessions():
            live = self.session(int(sid))
            peer = self.peers.get(sid)
            video = None if live is None else live.video_stats
            audio = None if live is None else live.audio_stats
            sessions.append(
                LiveSessionStatsOut(
                    session_id=int(sid),
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
                    identity=None if live is None else asdict(live.identity),
                )
            )
        # ThreadPoolExecutor keeps its backlog in a private queue; best effort, never required.
        queue = getattr(self.executor, "_work_queue", None)
        return LiveStatsOut(
            now=time.monotonic(),
            peers=len(self.peers),
            executor_queue=None if queue is None else queue.qsize(),
            loop_lag_s=self.loop_lag.worst(),
            offers_refused=self.admission.refused,
            sessions=sessions,
        )

    def session_closed(self, session_id: int) -> None:
        """The attempt ended (submitted, terminated, expired): flush and hang up, soon."""
        live = self._sessions.pop(session_id, None)
        if live is not None:
            self.bus.publish(
                live.exam_id, {"type": "session", "session_id": session_id, "event": "ended"}
            )
            task = asyncio.get_running_loop().create_task(live.close(), name=f"close-{session_id}")
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Server shutdown: end every open incident (stored), close every connection."""
        sessions, self._sessions = list(self._sessions.values()), {}
        closing = [live.close() for live in sessions] + list(self._closing)
        for result in await asyncio.gather(*closing, return_exceptions=True):
            if isinstance(result, BaseException):
                logger.error("closing a live session failed", exc_info=result)
        await self.peers.close_all()
        await self._writer.close()
        await self.loop_lag.stop()
        self.bus.close()
        self.executor.shutdown(wait=True, cancel_futures=True)
        if self.descriptors is not None:
            self.descriptors.close()
        if self.analysis is not None:
            self.analysis.close()
