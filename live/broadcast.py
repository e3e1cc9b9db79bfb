"""Full live video of a candidate for the proctors watching it, encoded once for all.

aiortc encodes once per outgoing track, so relaying a candidate's camera to each proctor
through its own `MediaRelay` proxy costs one VP8 encode per viewer. A `Broadcast` instead
encodes the candidate's decoded frames once, and every viewer's track yields those same
compressed packets (`av.Packet`), which aiortc's sender only packetises and encrypts
(`RTCRtpSender` calls `Encoder.pack` instead of `encode` for packets). The encoder runs only
while someone watches; a viewer that joins, falls behind or reports loss (PLI/FIR) gets a
keyframe. The number of viewers per candidate is bounded (`MAX_VIEWERS`).

    candidate track -> MediaRelay -+-> VideoSampler (analysis, 3 frames/s)
                                   +-> Broadcast: one VP8 encode -+-> ViewerTrack -> proctor 1
                                                                  +-> ViewerTrack -> proctor 2
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame
from av.packet import Packet

from core.tasks import cancel_and_wait, spawn
from live.protocol import LiveRefused, Refusal
from media.consumer import TrackConsumer
from media.vp8 import VIDEO_CLOCK, Vp8Encoder
from signaling.ice import IceSettings
from signaling.viewer import answer_viewer

logger = logging.getLogger(__name__)

__all__ = ["MAX_VIEWERS", "Broadcast", "BroadcastStats", "ViewerTrack"]

MAX_VIEWERS = 4
"""Proctors watching one candidate's full video at the same time."""
VIEW_BITRATE = 600_000
"""bit/s of the relayed video: a 640x480 face at 15 fps stays sharp."""
VIEW_MAX_FPS = 15.0
KEYFRAME_INTERVAL = 10.0
"""Seconds between unrequested keyframes: a safety net if a loss report is missed."""
VIEWER_QUEUE = 30
"""Packets (2 s at 15 fps) a viewer may fall behind before it skips to the next keyframe."""


@dataclass(slots=True)
class BroadcastStats:
    frames_encoded: int = 0
    keyframes: int = 0
    bytes_encoded: int = 0
    encode_seconds: float = 0.0
    """Time spent in the VP8 encoder (worker thread), summed."""


class ViewerTrack(MediaStreamTrack):
    """One proctor's copy of a `Broadcast`: yields already encoded VP8 packets."""

    kind = "video"

    def __init__(self, broadcast: Broadcast) -> None:
        super().__init__()
        self._broadcast = broadcast
        self._queue: asyncio.Queue[Packet | None] = asyncio.Queue(VIEWER_QUEUE + 1)
        self._synced = False  # nothing is sent until a keyframe: the rest is undecodable
        self.packets_sent = 0

    def _push(self, packet: Packet) -> None:
        if not self._synced:
            if not packet.is_keyframe:
                return
            self._synced = True
        if self._queue.qsize() >= VIEWER_QUEUE:
            # The viewer's sender fell behind: drop the backlog, resume at a keyframe.
            self._clear()
            self._synced = False
            self._broadcast.request_keyframe()
            return
        self._queue.put_nowait(packet)

    def _clear(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def recv(self) -> Packet:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        self.packets_sent += 1
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            self._clear()
            self._queue.put_nowait(None)  # wakes a waiting recv()
        super().stop()
        self._broadcast._remove(self)


class _Tee:
    """The candidate's incoming video: to the analysis consumer and to the broadcast."""

    def __init__(self, broadcast: Broadcast, consumer: TrackConsumer) -> None:
        self._broadcast = broadcast
        self._consumer = consumer
        self._relay: MediaRelay | None = None
        self._proxy: MediaStreamTrack | None = None

    def start(self, track: MediaStreamTrack) -> None:
        self._relay = MediaRelay()
        # buffered=False: each reader gets the newest frame, never a growing queue.
        self._proxy = self._relay.subscribe(track, buffered=False)
        self._consumer.start(self._proxy)
        self._broadcast._set_source(self._relay, track)

    async def stop(self) -> None:
        await self._consumer.stop()
        if self._proxy is not None:
            self._proxy.stop()
        if self._relay is not None:
            self._broadcast._drop_source(self._relay)


class Broadcast:
    """One candidate's camera for the proctors watching it (see the module docstring)."""

    def __init__(
        self,
        *,
        max_viewers: int = MAX_VIEWERS,
        bitrate: int = VIEW_BITRATE,
        max_fps: float = VIEW_MAX_FPS,
        name: str = "broadcast",
    ) -> None:
        self.max_viewers = max_viewers
        self._bitrate = bitrate
        self._min_interval = 1.0 / max_fps
        self._name = name
        self._viewers: set[ViewerTrack] = set()
        self._peers: set[RTCPeerConnection] = set()
        self._source: tuple[MediaRelay, MediaStreamTrack] | None = None
        self._task: asyncio.Task[None] | None = None
        self._keyframe_wanted = True
        self._last_keyframe = 0.0
        self._clock_origin = time.monotonic()
        self._stats = BroadcastStats()
        self._closed = False

    @property
    def viewer_count(self) -> int:
        return len(self._viewers)

    @property
    def stats(self) -> BroadcastStats:
        return replace(self._stats)

    def tee(self, consumer: TrackConsumer) -> TrackConsumer:
        """Wrap the analysis consumer of a new connection so its video is also watchable."""
        return _Tee(self, consumer)

    def request_keyframe(self) -> None:
        self._keyframe_wanted = True

    def add_viewer(self) -> ViewerTrack:
        """A new viewer track; raises `LiveRefused` when `max_viewers` watch already."""
        if self._closed:
            raise RuntimeError("the broadcast is closed")
        if len(self._viewers) >= self.max_viewers:
            message = f"{self.max_viewers} viewers already watch this candidate"
            raise LiveRefused(Refusal.VIEWER_LIMIT, message)
        viewer = ViewerTrack(self)
        self._viewers.add(viewer)
        self.request_keyframe()
        self._ensure_running()
        return viewer

    async def answer(self, ice: IceSettings, sdp: str, sdp_type: str) -> RTCSessionDescription:
        """Answer a proctor's receive-only offer with this candidate's video.

        Raises `InvalidOffer` for an offer that cannot work, and `LiveRefused`
        (`VIEWER_LIMIT`) when `max_viewers` watch already.
        """
        viewer = self.add_viewer()
        pc = ice.new_peer_connection()
        self._peers.add(pc)
        try:
            answer = await answer_viewer(pc, ice, sdp, sdp_type, viewer, self.request_keyframe)
        except BaseException:
            viewer.stop()
            await self._close_peer(pc)
            raise

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                viewer.stop()
                spawn(self._close_peer(pc), name=f"{self._name}-viewer-close", logger=logger)

        return answer

    async def close(self) -> None:
        """Hang up every viewer and stop encoding (the candidate's session ended)."""
        self._closed = True
        for viewer in list(self._viewers):
            viewer.stop()
        await asyncio.gather(*(self._close_peer(pc) for pc in list(self._peers)))
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _close_peer(self, pc: RTCPeerConnection) -> None:
        self._peers.discard(pc)
        try:
            await pc.close()
        except Exception:
            logger.exception("%s: closing a viewer's connection failed", self._name)

    # --- source and encoding ------------------------------------------------------------

    def _set_source(self, relay: MediaRelay, track: MediaStreamTrack) -> None:
        """A (re)connected candidate: viewers continue on the new track."""
        self._source = (relay, track)
        if self._task is not None:
            self._task.cancel()  # it may be waiting on the old, stalled track
            self._task = None
        self._ensure_running()

    def _drop_source(self, relay: MediaRelay) -> None:
        if self._source is not None and self._source[0] is relay:
            self._source = None

    def _remove(self, viewer: ViewerTrack) -> None:
        self._viewers.discard(viewer)
        if not self._viewers and self._task is not None:
            self._task.cancel()  # nobody watches: no more encoding
            self._task = None

    def _ensure_running(self) -> None:
        running = self._task is not None and not self._task.done()
        if not running and self._viewers and self._source is not None:
            self._task = spawn(self._run(*self._source), name=f"{self._name}-encode", logger=logger)

    async def _run(self, relay: MediaRelay, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        encoder = Vp8Encoder(self._bitrate)
        proxy = relay.subscribe(track, buffered=False)
        last_frame_at = 0.0
        self._keyframe_wanted = True
        try:
            while self._viewers:
                try:
                    frame = await proxy.recv()
                except MediaStreamError:
                    return  # the connection ended; a new one calls _set_source
                now = time.monotonic()
                # A cap, with slack for jitter: a 15 fps source is not thinned at 15 fps.
                if (
                    not isinstance(frame, VideoFrame)
                    or now - last_frame_at < self._min_interval * 0.7
                ):
                    continue
                last_frame_at = now
                keyframe = self._keyframe_wanted or now - self._last_keyframe > KEYFRAME_INTERVAL
                self._keyframe_wanted = False
                pts = round((now - self._clock_origin) * VIDEO_CLOCK)
                packets = await loop.run_in_executor(
                    None, self._encode, encoder, frame, pts, keyframe
                )
                for packet in packets:
                    if packet.is_keyframe:
                        self._last_keyframe = now
                        self._stats.keyframes += 1
                    for viewer in list(self._viewers):
                        viewer._push(packet)
        finally:
            proxy.stop()

    def _encode(
        self, encoder: Vp8Encoder, frame: VideoFrame, pts: int, keyframe: bool
    ) -> list[Packet]:
        started = time.perf_counter()
        packets = encoder.encode(frame, pts, keyframe)
        self._stats.encode_seconds += time.perf_counter() - started
        self._stats.frames_encoded += 1
        self._stats.bytes_encoded += sum(packet.size for packet in packets)
        return packets
