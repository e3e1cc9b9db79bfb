"""A proctor's receive-only connection: answer their offer with one video track to send.

The track yields already encoded VP8 packets (`live.broadcast`), so the transceiver offers
VP8 only; the proctor's picture-loss reports (PLI, FIR) are handed to `on_loss`, since
aiortc's sender honours them only for frames it encodes itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket

from signaling.errors import InvalidOffer
from signaling.ice import IceSettings
from signaling.negotiation import apply_offer, gathered_answer

__all__ = ["answer_viewer"]

logger = logging.getLogger(__name__)


async def answer_viewer(
    pc: RTCPeerConnection,
    ice: IceSettings,
    sdp: str,
    sdp_type: str,
    track: MediaStreamTrack,
    on_loss: Callable[[], None],
) -> RTCSessionDescription:
    """Answer a receive-only offer on `pc` (from `ice.new_peer_connection()`), sending
    `track`. Raises `InvalidOffer`; the caller closes `pc` then."""
    # Our transceiver first, VP8 only: the packets we relay are VP8.
    transceiver = pc.addTransceiver(track, direction="sendonly")
    transceiver.setCodecPreferences(
        [
            codec
            for codec in RTCRtpSender.getCapabilities("video").codecs
            if codec.mimeType.lower() in ("video/vp8", "video/rtx")
        ]
    )
    await apply_offer(pc, ice, sdp, sdp_type, require_video=True)
    if transceiver.mid is None:
        raise InvalidOffer("the offer has no video section this server can send to")
    _watch_loss_reports(transceiver.sender, on_loss)
    return await gathered_answer(pc, ice)


def _watch_loss_reports(sender: RTCRtpSender, on_loss: Callable[[], None]) -> None:
    """Turn the viewer's picture loss reports (PLI, FIR) into `on_loss()`.

    aiortc dispatches RTCP through `sender._handle_rtcp_packet` (aiortc 1.16), which we wrap.
    Without it the periodic keyframe still repairs a broken picture.
    """
    original = getattr(sender, "_handle_rtcp_packet", None)
    if original is None:
        logger.warning("aiortc's RTCRtpSender changed: picture loss reports are not relayed")
        return

    async def handle(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            on_loss()
        await original(packet)

    sender._handle_rtcp_packet = handle  # type: ignore[method-assign]
