"""Tracks that replay pre-encoded packets, so a simulated candidate costs no encoding.

aiortc's `RTCRtpSender` encodes what a track returns when it is an `av.Frame`, and only
packetises it when it is an `av.Packet` (rtcrtpsender.py, `_next_encoded_frame`, aiortc
1.16). These tracks return `av.Packet`s stamped on the codec's clock, paced in real time.
They cannot honour a keyframe request (PLI): the stream carries a keyframe every
`scenario.GOP` frames instead.

Each track counts whole loops from `started_at` (its first packet), which the generator uses
to turn clip times of scripted events into `time.monotonic()` instants. CLOCK_MONOTONIC is
shared by every process on the machine, so those instants compare with the server's.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Sequence

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.packet import Packet


class PacketReplayTrack(MediaStreamTrack):
    """Plays `packets` (one per frame) in a loop at `rate` packets a second."""

    def __init__(self, kind: str, packets: Sequence[bytes], rate: float, clock_rate: int) -> None:
        super().__init__()
        self.kind = kind
        self._packets = packets
        self._period = 1.0 / rate
        self._ticks = round(clock_rate / rate)
        self._time_base = fractions.Fraction(1, clock_rate)
        self.sent = 0
        self.started_at: float | None = None
        """`time.monotonic()` of the first packet: loop k starts at started_at + k * period."""
        self.late = 0
        """Packets sent more than one packet period late (the generator is overloaded)."""

    async def recv(self) -> Packet:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self.started_at is None:
            self.started_at = now
        due = self.started_at + self.sent * self._period
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > self._period:
            self.late += 1
        packet = Packet(self._packets[self.sent % len(self._packets)])
        packet.pts = self.sent * self._ticks
        packet.time_base = self._time_base
        self.sent += 1
        return packet
