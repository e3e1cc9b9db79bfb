"""Short-lived TURN credentials, minted from the secret the TURN server shares with us.

The TURN REST API scheme (draft-uberti-behave-turn-rest-00), which coturn implements with
`use-auth-secret` / `static-auth-secret`: the username is "<unix expiry>:<user id>" and the
password is base64(HMAC-SHA1(secret, username)). The TURN server recomputes the password,
so nothing is stored anywhere, and it refuses the credential after the expiry. coturn
checks the expiry when an allocation is made, not during one: a call outlives its
credential, a leaked credential stops being useful at the expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TurnCredential:
    username: str
    password: str
    expires_at: int
    """Unix time after which the TURN server refuses it."""


def mint_turn_credential(
    secret: str, user: str, ttl_seconds: int, now: float | None = None
) -> TurnCredential:
    """A credential for `user` (a user id, or "server" for our own peers)."""
    if ":" in user:
        raise ValueError("the TURN user must not contain ':' (it separates the expiry)")
    expires_at = int(time.time() if now is None else now) + ttl_seconds
    username = f"{expires_at}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode(), expires_at)
