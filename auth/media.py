"""Passes for a browser's `<video>` element to fetch one attempt's recording.

A video element cannot send an Authorization header, and a token in its URL would end up in
logs and history. So the console's authenticated request for a recording's details sets a
pass in an HttpOnly, SameSite=Strict cookie whose path is that attempt's recording URLs only;
the video element's range requests carry it, nothing else does. A pass names the user, their
role and the one attempt (as its JWT audience), and expires like an access token. It is
signed with a key derived from the secret key, so it can never stand in for an access token,
nor one for it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import jwt

from auth.tokens import InvalidToken

__all__ = ["MEDIA_COOKIE", "MediaPass", "MediaPasses"]

MEDIA_COOKIE = "proctor_media"
_ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class MediaPass:
    user_id: int
    role: str
    session_id: int


class MediaPasses:
    def __init__(self, secret_key: str, ttl_seconds: int) -> None:
        self._key = hashlib.sha256(f"media-pass:{secret_key}".encode()).hexdigest()
        self.ttl_seconds = ttl_seconds

    def issue(self, user_id: int, role: str, session_id: int) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "role": role,
            "aud": _audience(session_id),
            "iat": now,
            "exp": now + self.ttl_seconds,
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def verify(self, token: str, session_id: int) -> MediaPass:
        """The pass's holder, if it is valid for this attempt; raises `InvalidToken`."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=_audience(session_id),
                options={"require": ["sub", "role", "aud", "iat", "exp"]},
            )
            return MediaPass(int(claims["sub"]), str(claims["role"]), session_id)
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the recording pass has expired; open the recording again") from None
        except (jwt.InvalidTokenError, ValueError):
            raise InvalidToken("the recording pass is not valid for this recording") from None


def _audience(session_id: int) -> str:
    return f"recording:{session_id}"
