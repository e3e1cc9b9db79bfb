"""`GET /api/stats/live` (admin): counters of the live pipeline, for benchmarks and health.

Per watched session: the peer's connection state and the video and audio samplers'
counters (`media.video.VideoStats`, `media.audio.AudioStats`). Times are on the server's
`time.monotonic()` clock, returned as `now`, so a caller on the same machine can compare
them with its own monotonic clock.
"""

from __future__ import annotations

from pydantic import BaseModel

from api.errors import ApiError
from api.operation import Call

__all__ = ["LIVE_STATS_PATH", "LiveSessionStatsOut", "LiveStatsOut", "live_stats"]

LIVE_STATS_PATH = "/api/stats/live"


class LiveSessionStatsOut(BaseModel):
    session_id: int
    connection_state: str | None
    """The peer connection's state, None when no offer has been accepted."""
    channel_open: bool
    frames_received: int
    frames_analysed: int
    frames_repeated: int
    """Samples that showed the picture last analysed and got that analysis again."""
    analysis_errors: int
    last_frame_at: float | None
    last_analysed_ts: float | None
    """Arrival time (server monotonic) of the newest analysed frame."""
    last_analysis_s: float | None
    """Executor time of the newest analysis (queueing for a worker included)."""
    last_latency_s: float | None
    """From the newest analysed frame's arrival to its result."""
    audio_frames_received: int
    """Decoded audio frames read so far: one per packet (~8 a second at 120 ms)."""
    audio_chunks_processed: int
    identity: dict[str, int] | None = None
    """Identity checks by verdict (`match`, `uncertain`, `mismatch`) and `unusable`: frames
    on which a check was due but the face was too small, turned, blurred or badly lit to be
    judged (not evidence either way)."""


class LiveStatsOut(BaseModel):
    now: float
    """The server's `time.monotonic()` when the counters were read."""
    peers: int
    executor_queue: int | None
    """Detector jobs waiting for a worker thread (None if the executor does not say)."""
    loop_lag_s: float
    """The event loop's worst lateness over the last 5 s (`live.admission.LoopLag`)."""
    offers_refused: int
    """New live candidates refused so far because the server was at its limit."""
    sessions: list[LiveSessionStatsOut]


async def live_stats(call: Call) -> LiveStatsOut:
    hub = call.services.live
    if hub is None:
        raise ApiError(503, "pipeline_unavailable", "the live pipeline is not running")
    return await hub.stats()
