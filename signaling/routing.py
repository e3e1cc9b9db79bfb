"""Each incoming RTP stream to its own receiver, from the first packet.

A connection carrying two video tracks (camera and screen) needs two fixes to aiortc 1.16:

- `MAX_BUNDLE`: with its default policy ("balanced"), the second video section is given the
  first video section's transport, which aiortc then replaces by the bundle's (the audio's)
  for the first section only: the screen's receiver stays on a discarded transport and never
  gets a packet. With max-bundle every section is created on the one bundle transport
  (browsers bundle every section of their offers).
- `pin_declared_ssrcs`: aiortc routes a bundled RTP packet by its SSRC, and an SSRC it does
  not know yet by payload type when exactly one receiver has that payload type. It registers
  the receivers one at a time once DTLS is up, awaiting in between, while a browser sends
  from that moment: the screen's first packets arrive when only the camera's receiver is
  registered, and the screen's SSRC is latched to the camera for good (seen with Chromium:
  camera frames with the screen's timestamps). So the SSRCs the offer declares for each
  section (the stream's and its retransmissions') are given to that section's receiver
  before any packet comes. aiortc has no public way to do it: this writes its router's
  SSRC table.
"""

from __future__ import annotations

from aiortc import RTCBundlePolicy, RTCPeerConnection
from aiortc.sdp import SessionDescription

__all__ = ["MAX_BUNDLE", "pin_declared_ssrcs"]

MAX_BUNDLE = RTCBundlePolicy.MAX_BUNDLE


def pin_declared_ssrcs(pc: RTCPeerConnection) -> int:
    """Map every SSRC the remote description declares to its section's receiver; how many.
    Call after `setRemoteDescription`."""
    remote = pc.remoteDescription
    if remote is None:
        return 0
    sections = {m.rtp.muxId: m for m in SessionDescription.parse(remote.sdp).media}
    pinned = 0
    for transceiver in pc.getTransceivers():
        media = None if transceiver.mid is None else sections.get(transceiver.mid)
        receiver = transceiver.receiver
        router = getattr(receiver.transport, "_rtp_router", None)
        if media is None or router is None:
            continue
        for source in media.ssrc:
            router.ssrc_table[source.ssrc] = receiver
            pinned += 1
    return pinned
