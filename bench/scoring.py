"""The alerts each candidate received, scored against the events its clip scripted.

An event counts if it started inside [start, stop - debounce - window]; an alert of its
kind arriving in [event - 0.5 s, event + debounce + window] is its hit, and the delay is
arrival - (event + debounce). A started alert in [start, stop] that no event explains (in
or out of the counted range) is spurious. Incidents the server stored that never reached
the candidate's data channel are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import scenario
from figures import percentile

EARLY_S = 0.5
"""An alert may arrive this long before its event's first frame was due (clock jitter)."""


@dataclass
class Tally:
    expected: int = 0
    delays: dict[str, list[float]] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)
    spurious: dict[str, int] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)


def _first_hit(
    alerts: list[dict[str, Any]], used: set[int], kind: str, lo: float, hi: float
) -> int | None:
    for index, alert in enumerate(alerts):
        if index not in used and alert["kind"] == kind and lo <= alert["arrival"] <= hi:
            return index
    return None


def _near(
    cand: dict[str, Any], kind: str, at: float, stored: dict[int, list[dict[str, Any]]]
) -> list[str]:
    """What came of a missed event: alerts and stored incidents of its kind within 30 s."""
    near = [
        f"{a['state']}@{a['arrival'] - at:+.1f}"
        for a in cand["alerts"]
        if a["kind"] == kind and abs(a["arrival"] - at) < 30
    ]
    return near + [
        f"stored@{i['started'] - at:+.1f}"
        for i in stored.get(cand["session_id"], [])
        if i["kind"] == kind and abs(i["started"] - at) < 30
    ]


def _score_candidate(
    cand: dict[str, Any],
    start: float,
    stop: float,
    window_s: float,
    stored: dict[int, list[dict[str, Any]]],
    tally: Tally,
) -> None:
    debounce = {e.kind: e.debounce for e in scenario.EVENTS}
    alerts = [a for a in cand["alerts"] if a["state"] == "started"]
    used: set[int] = set()
    for event in cand["events"]:
        kind, at = event["kind"], event["at"]
        hit = _first_hit(alerts, used, kind, at - EARLY_S, at + debounce[kind] + window_s)
        if hit is not None:
            used.add(hit)
        if at < start or at + debounce[kind] + window_s > stop:
            continue  # outside the counted range: its alert is not spurious, nothing more
        tally.expected += 1
        if hit is None:
            tally.missed[kind] = tally.missed.get(kind, 0) + 1
            tally.details.append(
                f"missed {kind} s{cand['session_id']} at {at - start:+.1f}:"
                f" {_near(cand, kind, at, stored)}"
            )
        else:
            delay = alerts[hit]["arrival"] - at - debounce[kind]
            tally.delays.setdefault(kind, []).append(delay)
    for index, alert in enumerate(alerts):
        if index not in used and start <= alert["arrival"] <= stop:
            tally.spurious[alert["kind"]] = tally.spurious.get(alert["kind"], 0) + 1
            tally.details.append(
                f"spurious {alert['kind']} s{cand['session_id']} at {alert['arrival'] - start:+.1f}"
            )


def _undelivered(
    candidates: list[dict[str, Any]],
    start: float,
    stop: float,
    stored: dict[int, list[dict[str, Any]]],
    tally: Tally,
) -> int:
    """Incidents the server stored that never reached the candidate's data channel."""
    count = 0
    for cand in candidates:
        told = {a["incident_id"] for a in cand["alerts"] if a["state"] == "started"}
        for incident in stored.get(cand["session_id"], []):
            if start <= incident["started"] <= stop - 5 and incident["incident_id"] not in told:
                count += 1
                tally.details.append(f"undelivered {incident['kind']} s{cand['session_id']}")
    return count


def match_alerts(
    candidates: list[dict[str, Any]],
    start: float,
    stop: float,
    window_s: float,
    stored: dict[int, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Scripted events against "started" alerts, per candidate (see the module's doc)."""
    tally = Tally()
    for cand in candidates:
        _score_candidate(cand, start, stop, window_s, stored or {}, tally)
    undelivered = None if stored is None else _undelivered(candidates, start, stop, stored, tally)
    every = [d for values in tally.delays.values() for d in values]
    return {
        "stored_not_on_channel": undelivered,
        "expected": tally.expected,
        "missed": tally.missed,
        "spurious": tally.spurious,
        "delay_p50_s": percentile(every, 0.5),
        "delay_p95_s": percentile(every, 0.95),
        "delay_max_s": max(every) if every else None,
        "details": tally.details[:40],
        "by_kind": {
            kind: {
                "n": len(values),
                "p50_s": percentile(values, 0.5),
                "p95_s": percentile(values, 0.95),
            }
            for kind, values in sorted(tally.delays.items())
        },
    }
