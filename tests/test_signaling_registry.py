"""PeerRegistry: one connection per session, closing what it lets go of."""

from __future__ import annotations

import logging

import pytest

from signaling.registry import PeerRegistry


class FakePeer:
    def __init__(self, name: str, *, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.closed = 0

    async def close(self) -> None:
        self.closed += 1
        if self.fail:
            raise RuntimeError(f"{self.name} cannot close")


async def test_replace_registers_new_and_closes_old() -> None:
    registry: PeerRegistry[FakePeer] = PeerRegistry()
    first, second = FakePeer("first"), FakePeer("second")
    assert await registry.replace(1, first) is None
    assert registry.get(1) is first and 1 in registry and len(registry) == 1
    assert await registry.replace(1, second) is first
    assert first.closed == 1 and second.closed == 0
    assert registry.get(1) is second
    # Registering the same peer again closes nothing.
    assert await registry.replace(1, second) is None
    assert second.closed == 0


async def test_close_only_the_expected_peer() -> None:
    registry: PeerRegistry[FakePeer] = PeerRegistry()
    old, new = FakePeer("old"), FakePeer("new")
    await registry.replace(1, old)
    await registry.replace(1, new)
    # Lifecycle code reacting to the old peer's failure must not close its replacement.
    assert not await registry.close(1, old)
    assert registry.get(1) is new and new.closed == 0
    assert await registry.close(1, new)
    assert new.closed == 1 and 1 not in registry
    assert not await registry.close(1)
    assert not await registry.close(99)


async def test_close_all_closes_everything_even_if_one_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry: PeerRegistry[FakePeer] = PeerRegistry()
    peers = [FakePeer("a"), FakePeer("b", fail=True), FakePeer("c")]
    for index, peer in enumerate(peers):
        await registry.replace(index, peer)
    with caplog.at_level(logging.ERROR, logger="signaling.registry"):
        await registry.close_all()
    assert [p.closed for p in peers] == [1, 1, 1]
    assert len(registry) == 0 and registry.sessions() == []
    assert "session 1: closing the peer failed" in caplog.text
