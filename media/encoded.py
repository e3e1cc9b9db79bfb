"""The frames a candidate's browser sent, as it encoded them (VP8, Opus), before aiortc
decodes them: what a recording keeps, with no re-encode.

aiortc reassembles each frame in its receiver's jitter buffer and hands it, with its RTP
timestamp (counted from 0 at the first frame), to the decoder thread through one queue,
`RTCRtpReceiver.__decoder_queue`. `tap_encoded` puts a tee in front of that queue: every
(codec, frame) still reaches the decoder, and a copy goes to the recorder, on the event loop
thread. aiortc offers no public hook for encoded frames (1.16); this is the one private name
we rely on, checked when a tap is installed, so an aiortc that renames it fails loudly.

`request_keyframe` sends the sender a picture loss indication (RTCP PLI, RFC 4585): browsers
answer with a keyframe, which a recording needs every few seconds to be seekable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpReceiver

logger = logging.getLogger(__name__)

__all__ = ["EncodedFrame", "is_vp8_keyframe", "request_keyframe", "tap_encoded"]

_QUEUE_ATTRIBUTE = "_RTCRtpReceiver__decoder_queue"


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    kind: str
    """"video" or "audio"."""
    codec: str
    """The codec's name as aiortc knows it: "VP8", "opus", "H264"..."""
    data: bytes
    timestamp: int
    """RTP timestamp, counted from 0 at the receiver's first frame (aiortc maps it)."""
    clock_rate: int
    arrival: float
    """Wall-clock time (`time.time()`) the frame was complete on the server."""

    @property
    def seconds(self) -> float:
        """The frame's time on the sender's clock, from the receiver's first frame."""
        return self.timestamp / self.clock_rate


OnEncoded = Callable[[EncodedFrame], None]


class _Tee:
    """Stands in for the receiver's decoder queue: the decoder still gets everything."""

    def __init__(self, queue: Any, kind: str, on_frame: OnEncoded) -> None:
        self._queue = queue
        self._kind = kind
        self.on_frame: OnEncoded | None = on_frame

    def put(self, item: Any) -> None:
        self._queue.put(item)
        if item is None or self.on_frame is None:
            return  # None stops the decoder thread
        codec, frame = item
        encoded = EncodedFrame(
            self._kind,
            str(codec.name),
            bytes(frame.data),
            int(frame.timestamp),
            int(codec.clockRate),
            time.time(),
        )
        try:
            self.on_frame(encoded)
        except Exception:  # never let the recorder break the candidate's stream
            logger.exception("the encoded %s frame consumer failed", self._kind)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)


def tap_encoded(receiver: RTCRtpReceiver, kind: str, on_frame: OnEncoded) -> Callable[[], None]:
    """Call `on_frame` with every complete encoded frame `receiver` gets from now on (on the
    event loop thread; keep it quick). Returns the function that stops the calls."""
    queue = getattr(receiver, _QUEUE_ATTRIBUTE, None)
    if queue is None or not hasattr(queue, "put"):
        raise RuntimeError(f"aiortc's RTCRtpReceiver has no {_QUEUE_ATTRIBUTE}: cannot record")
    tee = _Tee(queue, kind, on_frame)
    setattr(receiver, _QUEUE_ATTRIBUTE, tee)

    def untap() -> None:
        tee.on_frame = None

    return untap


async def request_keyframe(receiver: RTCRtpReceiver) -> bool:
    """Ask the sender for a keyframe (RTCP PLI); False before any packet has arrived.

    The receiver's sources include its retransmission stream (RTX), whose SSRC a browser
    ignores in a PLI, and aiortc does not say which is which: each gets one."""
    sources = receiver.getSynchronizationSources()
    for source in sources:
        await receiver._send_rtcp_pli(source.source)
    return bool(sources)


def is_vp8_keyframe(data: bytes) -> bool:
    """A VP8 frame is a keyframe when bit 0 of its first byte is 0 (RFC 6386, 9.1)."""
    return bool(data) and not data[0] & 1


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe's header (RFC 6386, 9.1); None for others."""
    if len(data) < 10 or not is_vp8_keyframe(data) or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height
