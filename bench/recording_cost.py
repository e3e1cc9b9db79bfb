"""What recording costs on disk: the bytes each track's recordings grew by over the
measured window, per candidate-hour (the servers' data directories, read directly)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

TRACKS = ("camera", "screen")


def recorded_bytes(data_dirs: list[Path]) -> dict[str, int]:
    """Bytes under recordings/<session>/<track>[.webm|/segments] of every server, per track."""
    totals = dict.fromkeys(TRACKS, 0)
    for data_dir in data_dirs:
        root = data_dir / "recordings"
        if not root.is_dir():
            continue
        for folder, _, files in os.walk(root):
            for name in files:
                path = Path(folder) / name
                track = path.relative_to(root).parts[1].removesuffix(".webm")
                if track in totals:
                    totals[track] += path.stat().st_size
    return totals


async def growth(data_dirs: list[Path], start: float, stop: float) -> dict[str, Any]:
    """The bytes recorded between two `time.monotonic()` instants, per track."""
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    before = await asyncio.to_thread(recorded_bytes, data_dirs)
    began = time.monotonic()
    await asyncio.sleep(max(0.0, stop - time.monotonic()))
    after = await asyncio.to_thread(recorded_bytes, data_dirs)
    return {"seconds": time.monotonic() - began, "before": before, "after": after}


def mb_per_candidate_hour(measured: dict[str, Any], n: int) -> dict[str, float]:
    """Segments are written every ~5 s, so a 60 s window is exact to about a tenth."""
    hours = measured["seconds"] / 3600
    return {
        track: (measured["after"][track] - measured["before"][track]) / 1e6 / (n * hours)
        for track in TRACKS
    }
