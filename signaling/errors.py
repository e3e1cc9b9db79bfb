"""Exceptions raised by the signaling layer."""

from __future__ import annotations

__all__ = ["InvalidOffer", "SignalingError"]


class SignalingError(Exception):
    """Base class for signaling errors."""


class InvalidOffer(SignalingError):
    """The candidate's SDP offer cannot be used; `message` is safe to show to the client.

    The REST layer should answer 400 with this message: it never contains server internals.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
