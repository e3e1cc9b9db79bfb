"""Calls between nodes are signed with the secret key every node shares (HMAC-SHA256 over
the time, the calling node and the body), so only a node of the cluster can ask another to
accept an offer or end an attempt. A signature older than `MAX_AGE_SECONDS` is refused."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

__all__ = ["MAX_AGE_SECONDS", "NodeSigner", "SignatureError"]

MAX_AGE_SECONDS = 30.0
"""Clock difference plus transit a signed call may show: NTP keeps nodes within
milliseconds, so this is slack, and a replay must come within it."""
NODE, TIME, SIGNATURE = "X-Proctor-Node", "X-Proctor-Time", "X-Proctor-Signature"


class SignatureError(Exception):
    """A call between nodes that does not prove it comes from a node of this cluster."""


class NodeSigner:
    def __init__(self, secret_key: str, node_id: str) -> None:
        self._key = hashlib.sha256(b"proctor-node-calls\0" + secret_key.encode()).digest()
        self.node_id = node_id

    def _mac(self, stamp: str, node: str, body: bytes) -> str:
        message = stamp.encode() + b"\n" + node.encode() + b"\n" + body
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, body: bytes) -> dict[str, str]:
        stamp = f"{time.time():.3f}"
        return {NODE: self.node_id, TIME: stamp, SIGNATURE: self._mac(stamp, self.node_id, body)}

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """The calling node's id; raises `SignatureError`."""
        node, stamp, given = headers.get(NODE), headers.get(TIME), headers.get(SIGNATURE)
        if not (node and stamp and given):
            raise SignatureError("not a signed call between nodes")
        try:
            age = abs(time.time() - float(stamp))
        except ValueError:
            raise SignatureError("malformed signature time") from None
        if age > MAX_AGE_SECONDS:
            raise SignatureError(f"signature {age:.0f} s old")
        if not hmac.compare_digest(given, self._mac(stamp, node, body)):
            raise SignatureError("bad signature")
        return node
