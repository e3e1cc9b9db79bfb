"""What the live pipeline counts for operators (`GET /metrics`): analyses, their latency,
alert delivery latency, alerts that could not be stored. Kept as plain numbers in each
process and sent with `Stats`, so the front adds its workers' up (and no process-shared
files are needed)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

__all__ = ["ANALYSIS_BUCKETS", "DELIVERY_BUCKETS", "Histogram", "HistogramOut", "LiveCounters"]

ANALYSIS_BUCKETS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0)
"""Seconds from a frame's arrival to its analysis: a look a second is what the rules need."""
DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Seconds from an incident's event to its being stored and sent to every sink."""


class HistogramOut(BaseModel):
    """Cumulative counts per upper bound (the last is +Inf), the sum and the count."""

    model_config = ConfigDict(frozen=True)

    bounds: list[float]
    cumulative: list[int]
    total: float
    count: int

    def plus(self, other: HistogramOut) -> HistogramOut:
        assert self.bounds == other.bounds
        return HistogramOut(
            bounds=self.bounds,
            cumulative=[a + b for a, b in zip(self.cumulative, other.cumulative, strict=True)],
            total=self.total + other.total,
            count=self.count + other.count,
        )


@dataclass
class Histogram:
    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def snapshot(self) -> HistogramOut:
        cumulative, running = [], 0
        for count in self.counts:
            running += count
            cumulative.append(running)
        return HistogramOut(
            bounds=list(self.bounds), cumulative=cumulative, total=self.total, count=running
        )


@dataclass
class LiveCounters:
    analyses: int = 0
    stores_failed: int = 0
    analysis_latency: Histogram = field(default_factory=lambda: Histogram(ANALYSIS_BUCKETS))
    delivery_latency: Histogram = field(default_factory=lambda: Histogram(DELIVERY_BUCKETS))
