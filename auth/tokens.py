"""JWT access tokens: subject, role, issued-at, expiry and a unique id."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

_ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is missing, malformed, tampered with or expired; the message says which."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    role: str
    issued_at: int
    expires_at: int
    token_id: str


@dataclass(frozen=True, slots=True)
class TokenIssuer:
    secret_key: str
    ttl_seconds: int

    def issue(self, user_id: int, role: str) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "role": role,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.secret_key, algorithm=_ALGORITHM)

    def verify(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self.secret_key,
                algorithms=[_ALGORITHM],  # never trust the token's own "alg"
                options={"require": ["sub", "role", "iat", "exp", "jti"]},
            )
            return TokenClaims(
                user_id=int(claims["sub"]),
                role=str(claims["role"]),
                issued_at=int(claims["iat"]),
                expires_at=int(claims["exp"]),
                token_id=str(claims["jti"]),
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the access token has expired; log in again") from None
        except (jwt.InvalidTokenError, ValueError):
            raise InvalidToken("the access token is not valid") from None
