"""`GET /api/stats/live` (admin): counters of the live pipeline, for benchmarks and health.

Per watched session: the peer's connection state and the video and audio samplers'
counters (`media.video.VideoStats`, `media.audio.AudioStats`). Times are on the server's
`time.monotonic()` clock, returned as `now`, so a caller on the same machine can compare
them with its own monotonic clock.
"""

from __future__ import annotations

from api.operation import Call
from live.protocol import LiveStats, Stats

__all__ = ["LIVE_STATS_PATH", "live_stats"]

LIVE_STATS_PATH = "/api/stats/live"


async def live_stats(call: Call) -> LiveStats:
    return await call.services.pipeline.ask(Stats())
