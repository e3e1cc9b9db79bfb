"""One candidate's WebRTC connection: offer in, answer out, media to the samplers.

The page creates the offer (camera video, microphone audio, and a data channel labelled
"proctor" for browser events and alerts), waits for ICE gathering to complete (no trickle) and
POSTs it; `CandidatePeer.accept_offer` returns the answer. A reconnecting candidate sends a
new offer, which the REST layer gives to a new `CandidatePeer` that replaces the old one in
`PeerRegistry`: no renegotiation on a live connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCDataChannel, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from core.tasks import cancel_and_wait, spawn
from media.consumer import TrackConsumer, TrackDrain
from signaling.ice import IceSettings
from signaling.negotiation import apply_offer, gathered_answer
from signaling.routing import MAX_BUNDLE, pin_declared_ssrcs
from signaling.sdp import with_audio_ptime, with_bandwidth

logger = logging.getLogger(__name__)

__all__ = [
    "CHANNEL_LABEL",
    "MAX_MESSAGE_CHARS",
    "CandidatePeer",
    "OnMessage",
    "OnReceiver",
    "OnStateChange",
]

CHANNEL_LABEL = "proctor"
"""The data channel the page creates before its offer."""

MAX_MESSAGE_CHARS = 16 * 1024
"""Browser events are tiny; larger messages from the page are dropped unread."""

MAX_BUFFERED_BYTES = 1024 * 1024
"""`send_json` refuses to queue more than this on a channel the page does not drain."""

INBOX_SIZE = 256
"""Events (messages and state changes) waiting for the callbacks; more are dropped."""

OnMessage = Callable[[dict[str, Any]], Awaitable[None]]
"""Awaited with each JSON object the page sends, in order."""

OnReceiver = Callable[[str, int, RTCRtpReceiver], None]
"""Called with each track's kind, its rank among the tracks of that kind (0 for the first:
the camera; 1 for a second video: the screen) and its receiver, which a recorder taps."""

OnStateChange = Callable[[str], Awaitable[None]]
"""Awaited with each new `RTCPeerConnection.connectionState`: "connecting", "connected",
"failed" or "closed". aiortc never reports "disconnected": when the page hangs up, "closed"
comes at once; when it silently vanishes, ICE consent expires after about 30 s ("closed" or
"failed"). For a quicker stream_lost, watch `VideoSampler.stats.last_frame_at`. "closed"
also follows our own `close()`. After "failed" the owner should close the peer."""


class _SessionLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every record with the session id and carries it as `record.session_id`."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs.setdefault("extra", {}).update(self.extra or {})
        return f"session {(self.extra or {}).get('session_id')}: {msg}", kwargs


async def _ignore_message(message: dict[str, Any]) -> None:
    pass


async def _ignore_state(state: str) -> None:
    pass


class CandidatePeer:
    """One RTCPeerConnection for one exam session.

    `video` and `audio` consume the tracks the page sends (usually a `VideoSampler` and an
    `AudioSampler`); a track without a consumer is drained, since aiortc buffers unread
    frames without limit. Callbacks run one at a time, in arrival order, in a task of this
    peer; their exceptions are logged, never raised into aiortc.

    Create it inside the event loop (it starts its dispatcher task). Intended flow in the
    REST handler: `peer = CandidatePeer(...)`; `answer = await peer.accept_offer(...)` (on
    `InvalidOffer`: `await peer.close()` and answer 400); then
    `await registry.replace(session_id, peer)`, which closes the previous connection.
    """

    def __init__(
        self,
        session_id: int,
        ice: IceSettings,
        *,
        video: TrackConsumer | None = None,
        audio: TrackConsumer | None = None,
        on_message: OnMessage | None = None,
        on_state_change: OnStateChange | None = None,
        video_kbps: int | None = None,
        audio_ptime_ms: int | None = None,
        require_video: bool = True,
        on_receiver: OnReceiver | None = None,
    ) -> None:
        """`video_kbps`: cap written into the answer (`CaptureProfile.video_kbps`); None for
        no cap. `audio_ptime_ms`: audio packet time asked for in the answer
        (`CaptureProfile.audio_ptime_ms`); None for the browser's default (20 ms).
        `require_video`: reject offers without a camera track."""
        self.session_id = session_id
        self._ice = ice
        self._consumers: dict[str, TrackConsumer | None] = {"video": video, "audio": audio}
        self._started: list[TrackConsumer] = []
        self._on_receiver = on_receiver
        self._tracks_of_kind: dict[str, int] = {}
        self.on_message: OnMessage = on_message or _ignore_message
        self.on_state_change: OnStateChange = on_state_change or _ignore_state
        self._video_kbps = video_kbps
        self._audio_ptime_ms = audio_ptime_ms
        self._require_video = require_video
        self._log = _SessionLog(logger, {"session_id": session_id})
        self._pc = ice.new_peer_connection(bundle=MAX_BUNDLE)  # camera and screen: routing.py
        self._channel: RTCDataChannel | None = None
        self._channel_open = asyncio.Event()
        self._inbox: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue(INBOX_SIZE)
        self._dispatcher = spawn(self._dispatch(), name=f"peer-{session_id}-events", logger=logger)
        self._accepted = False
        self._closed = False
        self._pc.on("track", self._on_track)
        self._pc.on("datachannel", self._on_datachannel)
        self._pc.on("connectionstatechange", self._on_connection_state)

    @property
    def connection_state(self) -> str:
        """The RTCPeerConnection's connectionState ("new", "connecting", "connected", ...)."""
        return str(self._pc.connectionState)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def channel_open(self) -> bool:
        """True while the page's "proctor" data channel is open."""
        return self._channel is not None and self._channel.readyState == "open"

    @property
    def has_screen(self) -> bool:
        """The offer carried a second video track: the screen (once `accept_offer` ran)."""
        return self._tracks_of_kind.get("video", 0) >= 2

    async def accept_offer(self, sdp: str, type: str) -> RTCSessionDescription:
        """Check the page's offer and return the complete answer (all candidates included).

        Raises `InvalidOffer` for an offer that cannot work (the REST layer answers 400 with
        its message), RuntimeError if this peer was already given an offer or closed.
        """
        if self._closed or self._accepted:
            raise RuntimeError("a CandidatePeer accepts a single offer; create a new one")
        self._accepted = True
        await apply_offer(self._pc, self._ice, sdp, type, require_video=self._require_video)
        pin_declared_ssrcs(self._pc)  # camera and screen: each stream to its own receiver
        local = await gathered_answer(self._pc, self._ice)
        if "a=candidate:" not in local.sdp:
            self._log.error("no local ICE candidate (IceSettings.hosts=%s)", self._ice.hosts)
        text = local.sdp
        if self._video_kbps is not None:
            text = with_bandwidth(text, "video", self._video_kbps)
        if self._audio_ptime_ms is not None:
            text = with_audio_ptime(text, self._audio_ptime_ms)
        return RTCSessionDescription(sdp=text, type=local.type)

    def send_json(self, message: dict[str, Any]) -> bool:
        """Send one JSON object to the page. False (and nothing sent) when the channel is not
        open, the page is not reading, or `message` is not JSON-serialisable. Never raises."""
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return False
        if channel.bufferedAmount > MAX_BUFFERED_BYTES:
            self._log.warning("data channel backlog over %d bytes: dropped", MAX_BUFFERED_BYTES)
            return False
        try:
            text = json.dumps(message, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            self._log.warning("not sending a message that is not JSON: %s", exc)
            return False
        try:
            channel.send(text)
        except Exception:
            self._log.exception("could not send a message to the page")
            return False
        return True

    async def wait_channel_open(self) -> None:
        """Wait until the page's "proctor" channel has opened (wrap in `asyncio.timeout`)."""
        await self._channel_open.wait()

    async def close(self) -> None:
        """Stop the consumers and close the connection; delivers the final "closed" state
        before returning. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for consumer in self._started:
            try:
                await consumer.stop()
            except Exception:
                self._log.exception("stopping a track consumer failed")
        await self._pc.close()
        await self._drain_inbox()

    async def _drain_inbox(self) -> None:
        # Let already queued callbacks run (bounded), then end the dispatcher.
        try:
            self._inbox.put_nowait(None)
        except asyncio.QueueFull:
            await cancel_and_wait(self._dispatcher)
            return
        if asyncio.current_task() is self._dispatcher:
            return  # close() called from a callback: the dispatcher ends after it returns
        try:
            async with asyncio.timeout(5.0):
                await asyncio.shield(self._dispatcher)
        except (TimeoutError, Exception):
            await cancel_and_wait(self._dispatcher)

    # aiortc events (all on the event loop)

    def _on_track(self, track: MediaStreamTrack) -> None:
        consumer = self._consumers.get(track.kind)
        if consumer is None:
            consumer = TrackDrain()
        else:
            self._consumers[track.kind] = None  # a second track of this kind gets drained
        self._log.info("receiving %s track", track.kind)
        rank = self._tracks_of_kind.get(track.kind, 0)
        self._tracks_of_kind[track.kind] = rank + 1
        if self._on_receiver is not None:
            receiver = next(
                (t.receiver for t in self._pc.getTransceivers() if t.receiver.track is track), None
            )
            if receiver is not None:
                try:
                    self._on_receiver(track.kind, rank, receiver)
                except Exception:
                    self._log.exception("the %s receiver callback failed", track.kind)
        try:
            consumer.start(track)
        except Exception:
            self._log.exception("the %s consumer did not start: draining instead", track.kind)
            consumer = TrackDrain()
            consumer.start(track)
        self._started.append(consumer)

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != CHANNEL_LABEL or self._channel is not None:
            self._log.warning("closing unexpected data channel %r", channel.label)
            channel.close()
            return
        self._channel = channel
        channel.on("message", self._on_channel_message)
        channel.on("close", self._channel_open.clear)
        if channel.readyState == "open":
            self._channel_open.set()
        else:
            channel.on("open", self._channel_open.set)

    def _on_channel_message(self, data: str | bytes) -> None:
        if not isinstance(data, str) or len(data) > MAX_MESSAGE_CHARS:
            self._log.warning("dropping a binary or oversized message from the page")
            return
        try:
            message = json.loads(data)
        except ValueError:
            self._log.warning("dropping a message from the page that is not JSON")
            return
        if not isinstance(message, dict):
            self._log.warning("dropping a JSON message from the page that is not an object")
            return
        self._enqueue(("message", message))

    def _on_connection_state(self) -> None:
        state = str(self._pc.connectionState)
        self._log.info("connection state %s", state)
        self._enqueue(("state", state))
        if state == "closed" and not self._closed:
            # The page hung up (aiortc closes the connection itself): release the consumers
            # and the dispatcher as our own close() would, after "closed" is delivered.
            spawn(self.close(), name=f"peer-{self.session_id}-close", logger=logger)

    def _enqueue(self, event: tuple[str, Any]) -> None:
        try:
            self._inbox.put_nowait(event)
        except asyncio.QueueFull:
            self._log.warning("event queue full: dropping a %s event", event[0])

    async def _dispatch(self) -> None:
        while (event := await self._inbox.get()) is not None:
            kind, payload = event
            try:
                if kind == "message":
                    await self.on_message(payload)
                else:
                    await self.on_state_change(payload)
            except Exception:
                self._log.exception("%s callback failed", kind)
