"""The steps every peer connection of this server takes to answer a browser's offer.

The candidate's connection (`CandidatePeer`) and a proctor's receive-only one
(`signaling.viewer`) differ in what they add to the connection, not in how they answer:
check the offer, apply it, gather every local candidate (no trickle), answer.
"""

from __future__ import annotations

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError

from signaling.errors import InvalidOffer
from signaling.ice import IceSettings
from signaling.sdp import check_offer

__all__ = ["apply_offer", "gathered_answer"]


async def apply_offer(
    pc: RTCPeerConnection, ice: IceSettings, sdp: str, sdp_type: str, *, require_video: bool
) -> None:
    """Check the offer (`check_offer`: size, type, media, loopback-only candidates) and set
    it as the remote description. Raises `InvalidOffer` for one that cannot work."""
    address_allowed = ice.remote_address_allowed if ice.loopback_only else None
    checked = check_offer(
        sdp, sdp_type, address_allowed=address_allowed, require_video=require_video
    )
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=checked, type="offer"))
    except (ValueError, InvalidAccessError, InvalidStateError, InternalError) as exc:
        raise InvalidOffer(f"the offer was refused: {exc}") from None


async def gathered_answer(pc: RTCPeerConnection, ice: IceSettings) -> RTCSessionDescription:
    """Create and set the answer; aiortc gathers every candidate here, so it needs no
    trickle."""
    ice.prepare_gathering(pc)
    await pc.setLocalDescription(await pc.createAnswer())
    local = pc.localDescription
    return RTCSessionDescription(sdp=local.sdp, type=local.type)
