"""The figures of a measured window, from the samples: analyses and latency per candidate
(live counters), a second-by-second timeline, memory and its growth."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from sampling import Sample

HELD_RATE = 0.95
"""Analyses a second (of a wanted min(1, analysis fps)) for a candidate to count as held:
at least once a second, less the counting jitter at the window's edges."""


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 3:
        return None
    xs, ys = zip(*points, strict=True)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


def _summary(rates: list[float]) -> dict[str, float] | None:
    if not rates:
        return None
    return {"median": statistics.median(rates), "min": min(rates), "count": len(rates)}


def _session_rates(
    first: dict[str, Any], last: dict[str, Any], sessions: list[int]
) -> tuple[int, list[float], list[float]]:
    """Frames received (all sessions), analyses/s and repeats/s per session between two
    stats polls; a session missing from either counts as 0 analyses."""
    seconds = last["now"] - first["now"]
    by_first = {s["session_id"]: s for s in first["sessions"]}
    by_last = {s["session_id"]: s for s in last["sessions"]}
    received = 0
    rates: list[float] = []
    repeats: list[float] = []
    for sid in sessions:
        a, b = by_first.get(sid), by_last.get(sid)
        if a is None or b is None:
            rates.append(0.0)
            continue
        received += b["frames_received"] - a["frames_received"]
        rates.append((b["frames_analysed"] - a["frames_analysed"]) / seconds)
        # Servers before the still-picture test did not count repeats.
        repeats.append((b.get("frames_repeated", 0) - a.get("frames_repeated", 0)) / seconds)
    return received, rates, repeats


def _live_rates(polls: list[Sample], sessions: list[int], min_seconds: float = 10.0) -> list[float]:
    """Analyses a second of each session that was live for at least `min_seconds` of the
    window, over its own span (from the first poll that shows it to the last): candidates
    admitted late are measured while they were watched, refused ones not at all."""
    spans: dict[int, tuple[float, int, float, int]] = {}
    for poll in polls:
        assert poll.stats is not None
        for s in poll.stats["sessions"]:
            sid, now, analysed = s["session_id"], poll.stats["now"], s["frames_analysed"]
            start = spans.get(sid, (now, analysed, now, analysed))
            spans[sid] = (start[0], start[1], now, analysed)
    wanted = set(sessions)
    return [
        (last - first) / (until - since)
        for sid, (since, first, until, last) in spans.items()
        if sid in wanted and until - since >= min_seconds
    ]


def _latencies(polls: list[Sample]) -> tuple[list[float], list[int]]:
    """Each analysis's latency seen in the polls (once per analysis) and the executor
    backlog of each poll."""
    latencies: list[float] = []
    executor: list[int] = []
    seen: dict[int, float] = {}
    for poll in polls:
        assert poll.stats is not None
        if poll.stats.get("executor_queue") is not None:
            executor.append(poll.stats["executor_queue"])
        for s in poll.stats["sessions"]:
            ts = s["last_analysed_ts"]
            if ts is not None and seen.get(s["session_id"]) != ts and s["last_latency_s"]:
                seen[s["session_id"]] = ts
                latencies.append(s["last_latency_s"])
    return latencies, executor


def live_figures(samples: list[Sample], sessions: list[int], fps: float) -> dict[str, Any]:
    """Frames received and analysed, latency, connections, from the stats polls."""
    polls = [s for s in samples if s.stats is not None]
    if len(polls) < 2:
        return {}
    first, last = polls[0].stats, polls[-1].stats
    assert first is not None and last is not None
    received, rates, repeats = _session_rates(first, last, sessions)
    latencies, executor = _latencies(polls)
    by_last = {s["session_id"]: s for s in last["sessions"]}
    connected = sum(
        1 for sid in sessions if by_last.get(sid, {}).get("connection_state") == "connected"
    )
    return {
        "server_connected": connected,
        "frames_received_per_s": received / (last["now"] - first["now"]),
        "analysed_per_candidate_per_s": {
            "median": statistics.median(rates),
            "min": min(rates),
            "p05": percentile(rates, 0.05),
        },
        "analysed_rates": rates,
        "analysed_per_live_candidate_per_s": _summary(_live_rates(polls, sessions)),
        "repeated_per_candidate_per_s": statistics.median(repeats) if repeats else None,
        "held": sum(1 for r in rates if r >= HELD_RATE * min(1.0, fps)),
        "latency_samples": len(latencies),
        "latency_p50_s": percentile(latencies, 0.5),
        "latency_p95_s": percentile(latencies, 0.95),
        "executor_queue_median": statistics.median(executor) if executor else None,
        "executor_queue_max": max(executor) if executor else None,
    }


def _live_step(before: dict[str, Any], after: dict[str, Any], seconds: float) -> dict[str, Any]:
    old = {s["session_id"]: s["frames_analysed"] for s in before["sessions"]}
    analysed = sum(s["frames_analysed"] - old.get(s["session_id"], 0) for s in after["sessions"])
    return {
        "connected": sum(1 for s in after["sessions"] if s["connection_state"] == "connected"),
        "analysed_per_s": round(analysed / seconds, 1),
        "executor_queue": after.get("executor_queue"),
        # What admission looks at (live/admission.py), as the server reports it.
        "analysis_load": after.get("analysis_load"),
        "loop_lag_s": after.get("loop_lag_s"),
    }


def timeline(samples: list[Sample], origin: float) -> list[dict[str, Any]]:
    """Second by second: server cores, connected peers, analyses/s, stats round trip."""
    rows = []
    for before, after in zip(samples, samples[1:], strict=False):
        if before.server is None or after.server is None:
            continue
        seconds = after.at - before.at
        item: dict[str, Any] = {
            "t": round(after.at - origin, 1),
            "server_cores": round((after.server.cpu_s - before.server.cpu_s) / seconds, 2),
            "rss_mb": round(after.server.rss_bytes / 2**20, 1),
            "stats_rtt_s": None if after.stats_rtt is None else round(after.stats_rtt, 3),
        }
        if before.stats is not None and after.stats is not None:
            item.update(_live_step(before.stats, after.stats, seconds))
        rows.append(item)
    return rows


def memory_figures(
    samples: list[Sample], baseline: int, n: int, start: float, end: float
) -> dict[str, Any]:
    points = [(s.at - start, s.server.rss_bytes / 2**20) for s in samples if s.server]
    if not points:
        return {}
    values = [v for _, v in points]
    # Flatness over the second half: the first minutes hold one-off costs (each detector
    # thread loads its own models on its first job), which are not growth.
    quarter = max(1, len(values) // 4)
    second = values[len(values) // 2 - quarter : len(values) // 2] or values[:quarter]
    growth = statistics.median(values[-quarter:]) - statistics.median(second)
    base_mb = baseline / 2**20
    median = statistics.median(values)
    return {
        "baseline_mb": base_mb,
        "median_mb": median,
        "per_candidate_mb": (median - base_mb) / n,
        "growth_mb": growth,
        "slope_mb_per_min": slope_per_minute(points),
        "slope_second_half_mb_per_min": slope_per_minute(points[len(points) // 2 :]),
        "flat": growth < 5 + 0.02 * median,
        "series_mb": [round(v, 1) for v in values],
    }


def _trend(points: list[tuple[float, float]]) -> dict[str, float | None]:
    return {
        "first": points[0][1],
        "last": points[-1][1],
        "slope_per_min": slope_per_minute(points),
        "slope_second_half_per_min": slope_per_minute(points[len(points) // 2 :]),
    }


def process_figures(samples: list[Sample], start: float) -> list[dict[str, Any]]:
    """Each server process over the samples (times from `start`): its memory (MB), threads
    and open files, first and last value and least-squares slope per minute, over all the
    samples and over their second half. A process that came or went mid-way has fewer
    points."""
    series: dict[tuple[int, str, int], dict[str, list[tuple[float, float]]]] = {}
    for sample in samples:
        for node, p in sample.processes or []:
            entry = series.setdefault(
                (node, p.role, p.pid), {"rss_mb": [], "threads": [], "fds": []}
            )
            t = sample.at - start
            entry["rss_mb"].append((t, p.rss_bytes / 2**20))
            entry["threads"].append((t, float(p.threads)))
            entry["fds"].append((t, float(p.fds)))
    return [
        {"server": node, "role": role, "pid": pid, "points": len(values["rss_mb"]),
         **{name: _trend(points) for name, points in values.items()}}
        for (node, role, pid), values in sorted(series.items())
    ]  # fmt: skip


def admission_timeline(
    candidates: list[dict[str, Any]], origin: float, end: float, step: float = 5.0
) -> list[dict[str, Any]]:
    """Every `step` seconds from the first offer (times from `origin`): candidates the
    server has taken (answered) and candidates waiting (offered, refused so far)."""
    offers = [c["offer_at"] for c in candidates if c["offer_at"] is not None]
    if not offers:
        return []
    rows = []
    t = min(offers)
    while t <= end:
        admitted = sum(
            1 for c in candidates if c["answered_at"] is not None and c["answered_at"] <= t
        )
        offered = sum(1 for at in offers if at <= t)
        rows.append(
            {"t": round(t - origin, 1), "admitted": admitted, "waiting": offered - admitted}
        )
        t += step
    return rows
