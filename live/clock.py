"""Detectors and rules run on the monotonic clock; people and the database want wall time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


def wall_time(ts: float) -> datetime:
    """The UTC wall-clock instant of a `time.monotonic()` reading."""
    return datetime.now(UTC) - timedelta(seconds=time.monotonic() - ts)


def iso(ts: float | None) -> str | None:
    return None if ts is None else wall_time(ts).isoformat()
