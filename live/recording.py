"""An attempt's camera (with its microphone) and screen, recorded as the candidate sent them.

The frames are the browser's own VP8 and Opus (`media.encoded`): nothing is decoded or
encoded again, the recording only muxes them into WebM (`media.webm`). Each track is cut
into segments of about `SEGMENT_SECONDS`, each written to the blob store as soon as it
closes, so a crash loses at most one segment; at each cut the browser is asked for a
keyframe, so the next segment starts with one and the merged file seeks in steps of a few
seconds. When the attempt ends the segments are merged into one file
(`finalise_recording`).

Timeline: a track's time 0 is its first frame (wall clock, kept in its `recordings` row);
the picture starts at the first keyframe, asked for at once when the first frame is not one.
Each frame is placed by its RTP timestamp, anchored at the arrival of the first frame of its
connection; a reconnection starts a new anchor, so the time the candidate was away stays a
gap in the file and later alerts still line up with the picture.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiortc import RTCRtpReceiver
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.tasks import spawn
from media.encoded import EncodedFrame, is_vp8_keyframe, request_keyframe, tap_encoded, vp8_size
from media.webm import Block, MergedFile, merge_segments, mux_segment
from storage.blobs import BlobStore
from storage.models import Recording, RecordingStatus, utcnow
from storage.recordings import (
    open_recording,
    recording_key,
    recording_origin,
    recording_row,
    recordings_prefix,
    segment_key,
    segments_prefix,
)

logger = logging.getLogger(__name__)

__all__ = ["AttemptRecording", "RecorderStats", "TrackRecorder", "finalise_recording"]

SEGMENT_SECONDS = 5.0
"""A crash loses at most this much; seeking lands within this much before the target.
Each cut costs a keyframe: at 320x240 about 4 KB more than a delta frame."""
MAX_SEGMENT_SECONDS = 15.0
"""Cut even without a keyframe (a sender that ignores requests)."""
KEYFRAME_RETRY_SECONDS = 1.0
MAX_CLOCK_DRIFT_SECONDS = 2.0
"""A frame whose RTP time strays this far from its arrival re-anchors its connection: a
sender's clock jump (or aiortc taking out-of-order frames for a timestamp wrap, which adds
2^32 ticks) must not move the rest of the recording by hours."""


@dataclass(slots=True)
class RecorderStats:
    video_frames: int = 0
    audio_frames: int = 0
    bytes_received: int = 0
    segments_written: int = 0
    write_seconds: float = 0.0
    """Muxing and storing, summed (off the event loop)."""
    dropped_frames: int = 0
    """Frames before the first keyframe, or of a codec a WebM cannot hold."""


@dataclass(slots=True)
class _Anchor:
    """Where one connection's RTP clock sits on the recording's timeline."""

    offset_s: float


@dataclass(slots=True)
class _Segment:
    start_ms: int
    video: list[Block] = field(default_factory=list)
    audio: list[Block] = field(default_factory=list)
    keyframe_asked: bool = False


class TrackRecorder:
    """One recorded track of one attempt: its video receiver and, for the camera, its
    microphone's. Create inside the event loop; `attach` receivers as connections come."""

    def __init__(
        self,
        *,
        session_id: int,
        track: str,
        with_audio: bool,
        blobs: BlobStore,
        db: async_sessionmaker[AsyncSession],
        executor: Executor,
    ) -> None:
        self.session_id = session_id
        self.track = track
        self._with_audio = with_audio
        self._blobs = blobs
        self._db = db
        self._executor = executor
        self._origin: float | None = None
        """Wall-clock time of the track's time 0, once known."""
        self._known_origin: datetime | None = None
        self._size: tuple[int, int] | None = None
        self._segment: _Segment | None = None
        self._anchors: dict[int, _Anchor] = {}
        self._synced: set[int] = set()
        """Connections (receivers) whose first keyframe has come."""
        self._last_pts = {"video": -1, "audio": -1}
        self._video_receiver: RTCRtpReceiver | None = None
        self._last_keyframe_request = 0.0
        self._untaps: list[Callable[[], None]] = []
        self._writes: set[asyncio.Task[None]] = set()
        self._opened: asyncio.Task[None] | None = None
        self._stopped = False
        self.stats = RecorderStats()

    async def prepare(self) -> None:
        """Before the first connection: continue an earlier recording of this attempt (a
        restarted process) on its timeline. Not needed for a new one."""
        self._known_origin = await recording_origin(self._db, self.session_id, self.track)

    def attach(self, kind: str, receiver: RTCRtpReceiver) -> None:
        """Record what `receiver` (a new connection's video or audio) gets from now on."""
        if self._stopped or (kind == "audio" and not self._with_audio):
            return
        if kind == "video":
            self._video_receiver = receiver
        generation = id(receiver)
        self._anchors.pop(generation, None)

        def on_frame(frame: EncodedFrame) -> None:
            self._on_frame(generation, frame)

        self._untaps.append(tap_encoded(receiver, kind, on_frame))

    # --- frames (event loop) ----------------------------------------------------------

    def _on_frame(self, generation: int, frame: EncodedFrame) -> None:
        if self._stopped:
            return
        self.stats.bytes_received += len(frame.data)
        if frame.kind == "video":
            self._on_video(generation, frame)
        elif self._segment is not None and frame.codec.lower() == "opus":
            pts = self._pts(generation, frame)
            self._segment.audio.append(Block(pts, frame.data))
            self.stats.audio_frames += 1
        else:
            self.stats.dropped_frames += 1

    def _on_video(self, generation: int, frame: EncodedFrame) -> None:
        if frame.codec != "VP8":
            self.stats.dropped_frames += 1  # H264 would need MP4; browsers send VP8 first
            return
        keyframe = is_vp8_keyframe(frame.data)
        if self._origin is None:
            # Time 0 is the first frame, even when a keyframe must be asked for (the first
            # is often incomplete): the microphone is recorded from then on.
            self._start(frame.arrival)
        pts = self._pts(generation, frame)
        if generation not in self._synced:
            # A connection's frames decode from its first keyframe on.
            if not keyframe:
                self.stats.dropped_frames += 1
                self._ask_keyframe()
                return
            self._synced.add(generation)
        self._size = vp8_size(frame.data) or self._size
        segment = self._segment
        assert segment is not None
        age = (pts - segment.start_ms) / 1000
        if segment.video and ((keyframe and age >= SEGMENT_SECONDS) or age >= MAX_SEGMENT_SECONDS):
            self._cut(pts)
            segment = self._segment
            assert segment is not None
        elif age >= SEGMENT_SECONDS and not segment.keyframe_asked:
            segment.keyframe_asked = True
            self._ask_keyframe()
        segment.video.append(Block(pts, frame.data, keyframe))
        self.stats.video_frames += 1

    def _start(self, arrival: float) -> None:
        known = self._known_origin
        self._origin = arrival if known is None else known.timestamp()
        start_ms = 0 if known is None else max(0, round((arrival - self._origin) * 1000))
        self._segment = _Segment(start_ms)
        started = datetime.fromtimestamp(self._origin, UTC)
        self._opened = spawn(
            self._open(started), name=f"recording-{self.session_id}-open", logger=logger
        )

    async def _open(self, started: datetime) -> None:
        await open_recording(self._db, self.session_id, self.track, started)

    def _pts(self, generation: int, frame: EncodedFrame) -> int:
        assert self._origin is not None
        arrived = frame.arrival - self._origin
        anchor = self._anchors.get(generation)
        drift = None if anchor is None else anchor.offset_s + frame.seconds - arrived
        if anchor is None or drift is None or abs(drift) > MAX_CLOCK_DRIFT_SECONDS:
            anchor = _Anchor(arrived - frame.seconds)
            self._anchors[generation] = anchor
        pts = round((anchor.offset_s + frame.seconds) * 1000)
        pts = max(pts, self._last_pts[frame.kind] + 1)  # only forward, whatever the network
        self._last_pts[frame.kind] = pts
        return pts

    def _ask_keyframe(self) -> None:
        now = time.monotonic()
        receiver = self._video_receiver
        if receiver is None or now - self._last_keyframe_request < KEYFRAME_RETRY_SECONDS:
            return
        self._last_keyframe_request = now
        spawn(request_keyframe(receiver), name=f"recording-{self.session_id}-pli", logger=logger)

    def _cut(self, end_ms: int) -> None:
        """Close the current segment at `end_ms` (written in the background); the next one
        starts there."""
        segment = self._segment
        assert segment is not None
        self._segment = _Segment(end_ms)
        if not segment.video and not segment.audio:
            return
        task = spawn(
            self._write(segment, end_ms),
            name=f"recording-{self.session_id}-write",
            logger=logger,
        )
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, segment: _Segment, end_ms: int) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        data = await loop.run_in_executor(
            self._executor,
            lambda: mux_segment(
                segment.video,
                segment.audio,
                size=self._size,
                end_ms=end_ms,
                with_audio=self._with_audio,
            ),
        )
        await self._blobs.put(segment_key(self.session_id, self.track, segment.start_ms), data)
        self.stats.write_seconds += time.perf_counter() - started
        self.stats.segments_written += 1

    # --- end --------------------------------------------------------------------------

    async def stop(self, *, final: bool) -> None:
        """Write what is buffered; with `final` (the attempt ended), merge the segments into
        the track's one file. Without (the server stops mid-attempt), a later process
        continues the recording on the same timeline."""
        if self._stopped:
            return
        self._stopped = True
        for untap in self._untaps:
            untap()
        if self._segment is not None and self._origin is not None:
            last = max(self._last_pts.values())
            now_ms = round((time.time() - self._origin) * 1000)
            self._cut(min(now_ms, last + 1000) if last >= 0 else now_ms)
        pending = [task for task in (*self._writes, self._opened) if task is not None]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if final and (self._origin is not None or self._known_origin is not None):
            try:
                await finalise_recording(self._db, self._blobs, self.session_id, self.track)
            except Exception:
                logger.exception(
                    "session %s: merging the %s recording failed; its segments are kept",
                    self.session_id,
                    self.track,
                )


class AttemptRecording:
    """An attempt's recorded tracks: the first video and audio tracks of each connection are
    the camera and its microphone, a second video track the screen."""

    def __init__(
        self,
        *,
        session_id: int,
        blobs: BlobStore,
        db: async_sessionmaker[AsyncSession],
        executor: Executor,
    ) -> None:
        def recorder(track: str, with_audio: bool) -> TrackRecorder:
            return TrackRecorder(
                session_id=session_id,
                track=track,
                with_audio=with_audio,
                blobs=blobs,
                db=db,
                executor=executor,
            )

        self.camera = recorder("camera", True)
        self.screen = recorder("screen", False)
        self._prepared = False

    async def prepare(self) -> None:
        if not self._prepared:
            self._prepared = True
            await asyncio.gather(self.camera.prepare(), self.screen.prepare())

    def on_receiver(self, kind: str, rank: int, receiver: RTCRtpReceiver) -> None:
        if rank == 0:
            self.camera.attach(kind, receiver)
        elif rank == 1 and kind == "video":
            self.screen.attach(kind, receiver)

    async def stop(self, *, final: bool) -> None:
        await asyncio.gather(self.camera.stop(final=final), self.screen.stop(final=final))


async def finalise_recording(
    db: async_sessionmaker[AsyncSession], blobs: BlobStore, session_id: int, track: str
) -> Recording | None:
    """Merge the track's segments (any written since the last merge, after it) into one file
    with its duration and index, delete them and mark the row ready. None when the attempt
    has no such recording."""
    async with db() as session:
        row = await recording_row(session, session_id, track)
    if row is None:
        return None
    segments = await blobs.keys(segments_prefix(session_id, track))
    if not segments and row.status == RecordingStatus.READY:
        return row
    previous = recording_key(session_id, track)
    parts = ([previous] if await blobs.size(previous) is not None else []) + segments
    # Merged outside any transaction: an hour's recording takes a while.
    merged = await _merge(blobs, parts, previous) if parts else None
    async with db() as session:
        row = await recording_row(session, session_id, track)
        if row is None:  # the candidate's data was deleted meanwhile: so is this
            await blobs.delete_prefix(recordings_prefix(session_id))
            return None
        if merged is None:
            row.duration_s, row.size_bytes, row.ended_at = 0.0, 0, utcnow()
        else:
            row.duration_s, row.size_bytes = merged.duration_s, merged.bytes
            row.ended_at = row.started_at + timedelta(seconds=merged.duration_s)
        row.status = RecordingStatus.READY.value
        await session.commit()
    await blobs.delete_prefix(segments_prefix(session_id, track))
    return row


_MERGES = ThreadPoolExecutor(2, thread_name_prefix="recording-merge")
"""Merges run here, not in the default executor: a merge thread waits for the event loop to
read each part (`blobs.get`), which the file store does in the default executor, so merges
there could hold every one of its threads and wait forever (23 attempts submitted at once
did). Two at a time also bounds the disk and memory a burst of submissions takes."""


async def _merge(blobs: BlobStore, keys: list[str], target_key: str) -> MergedFile:
    """Merged in a thread, reading one part at a time (an hour is ~50 MB: not all in memory)."""
    loop = asyncio.get_running_loop()

    def parts() -> Iterator[bytes]:
        for key in keys:
            data = asyncio.run_coroutine_threadsafe(blobs.get(key), loop).result()
            if data:
                yield data

    with tempfile.TemporaryDirectory(prefix="proctor-merge-") as scratch:
        target = Path(scratch) / "merged.webm"
        merged = await loop.run_in_executor(_MERGES, merge_segments, parts(), target)
        await blobs.put_file(target_key, target)
    return merged
