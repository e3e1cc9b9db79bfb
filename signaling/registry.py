"""Which peer connection belongs to which exam session.

One `PeerRegistry` lives in the app state (no module globals). A candidate who reconnects
sends a new offer: the REST layer builds a new `CandidatePeer` and calls `replace`, which
closes the old connection, so each session has at most one live connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Generic, Protocol, TypeVar

logger = logging.getLogger(__name__)

__all__ = ["ClosablePeer", "PeerRegistry"]


class ClosablePeer(Protocol):
    """What the registry needs of a peer (`CandidatePeer` in production)."""

    async def close(self) -> None: ...


P = TypeVar("P", bound=ClosablePeer)


class PeerRegistry(Generic[P]):
    """session_id -> peer, closing whatever it lets go of."""

    def __init__(self) -> None:
        self._peers: dict[int, P] = {}

    def __len__(self) -> int:
        return len(self._peers)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._peers

    def get(self, session_id: int) -> P | None:
        return self._peers.get(session_id)

    def sessions(self) -> list[int]:
        return list(self._peers)

    async def replace(self, session_id: int, peer: P) -> P | None:
        """Make `peer` the session's connection and close the previous one, if any.

        The new peer is registered before the old one is closed, so a lookup in between
        already finds the new connection. Returns the replaced peer (already closed).
        """
        old = self._peers.get(session_id)
        self._peers[session_id] = peer
        if old is not None and old is not peer:
            logger.info("session %s: new connection replaces the old one", session_id)
            await self._close_peer(session_id, old)
            return old
        return None

    async def close(self, session_id: int, peer: P | None = None) -> bool:
        """Forget and close the session's peer. With `peer`, only if that is still the
        session's current peer: lifecycle code closing a failed connection must not close
        the replacement that arrived meanwhile. True if a peer was closed."""
        current = self._peers.get(session_id)
        if current is None or (peer is not None and current is not peer):
            return False
        del self._peers[session_id]
        await self._close_peer(session_id, current)
        return True

    async def close_all(self) -> None:
        """Close every peer (server shutdown: call from `on_shutdown`)."""
        peers, self._peers = self._peers, {}
        await asyncio.gather(*(self._close_peer(sid, p) for sid, p in peers.items()))

    async def _close_peer(self, session_id: int, peer: P) -> None:
        try:
            await peer.close()
        except Exception:
            logger.exception("session %s: closing the peer failed", session_id)
