"""WebRTC signaling: ICE settings, offer checking, one peer connection per exam session."""

from signaling.errors import InvalidOffer, SignalingError
from signaling.ice import IceSettings
from signaling.peer import CHANNEL_LABEL, CandidatePeer
from signaling.registry import PeerRegistry

__all__ = [
    "CHANNEL_LABEL",
    "CandidatePeer",
    "IceSettings",
    "InvalidOffer",
    "PeerRegistry",
    "SignalingError",
]
