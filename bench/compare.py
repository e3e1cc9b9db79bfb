"""The modes of one `bench/load.py --cluster ... --repeat R` run side by side: each mode's
server CPU per candidate as a ratio to the single box of the same repetition and N (the
machine's other load then weighs on both), with the median and range over the
repetitions, and the medians of the shared services' figures.

    python bench/compare.py bench/results/load-<stamp>-<label>.json
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _median(values: Sequence[float | None]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    return f"{statistics.median(present):.3g} ({min(present):.3g}-{max(present):.3g})"


def live_mean(result: dict[str, Any]) -> float:
    """Candidates live on average over the measured window (the servers' own count, once a
    second): admission may still be pacing newcomers when the window opens."""
    w = result["webrtc"]
    counts = [
        row["connected"]
        for row in w["timeline"]
        if 0 < row["t"] <= w["measure_s"] and "connected" in row
    ]
    return statistics.fmean(counts) if counts else float(result["n"])


def cpu_per_live(result: dict[str, Any], with_services: bool = False) -> float:
    """Server CPU per live candidate, % of a core (with Redis's and PostgreSQL's added)."""
    w = result["webrtc"]
    cores = w["server_cores"]
    s = w.get("services")
    if with_services and s is not None:
        cores += (s["redis_cores"] or 0) + (s["pg_cores"] or 0)
    return float(100 * cores / live_mean(result))


def per_live(result: dict[str, Any], key: str) -> float | None:
    """A shared service's figure per candidate-second (load.py divides by N) per live one."""
    s = result["webrtc"].get("services")
    if s is None:
        return None
    return float(s[key] * result["n"] / live_mean(result))


def _event_rate(result: dict[str, Any]) -> float:
    """Scripted events per candidate per second in the window (each brings an alert, so
    the database's writes)."""
    w = result["webrtc"]
    return float(w["alerts"]["expected"]) / result["n"] / w["measure_s"]


def rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    box = {(r["repetition"], r["n"]): r for r in results if not r.get("cluster") and "webrtc" in r}
    groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for r in results:
        if "webrtc" in r:
            groups.setdefault((r.get("cluster", 0), r["n"]), []).append(r)
    out = []
    for (cluster, n), runs in sorted(groups.items()):
        ratios, stack_ratios = [], []
        for r in runs:
            base = box.get((r["repetition"], n))
            if base is not None:
                ratios.append(cpu_per_live(r) / cpu_per_live(base))
                stack_ratios.append(cpu_per_live(r, True) / cpu_per_live(base, True))
        services = [r["webrtc"].get("services") or {} for r in runs]
        alerts = [r["webrtc"]["alerts"] for r in runs]
        out.append(
            {
                "mode": f"c{cluster}" if cluster else "box",
                "n": n,
                "runs": len(runs),
                "live (mean)": _median([live_mean(r) for r in runs]),
                "cpu/live cand %": _median([cpu_per_live(r) for r in runs]),
                "ratio to box": _median(ratios),
                "with Redis+PG": _median(stack_ratios),
                "held": _median([r["webrtc"]["live"].get("held") for r in runs]),
                "alert p95 s": _median([a["delay_p95_s"] for a in alerts]),
                "missed": sum(sum(a["missed"].values()) for a in alerts),
                "expected": sum(a["expected"] for a in alerts),
                "spurious": sum(sum(a["spurious"].values()) for a in alerts),
                "machine busy": _median([r["webrtc"]["machine_busy"] for r in runs]),
                **{
                    f"cores: {role}": _median(
                        [r["webrtc"]["server_cores_by_role"].get(role) for r in runs]
                    )
                    for role in ("front", "live workers", "analysis")
                },
                "events/cand/s": _median([_event_rate(r) for r in runs]),
                "redis ops/cand/s": _median(
                    [per_live(r, "redis_ops_per_candidate_s") for r in runs]
                ),
                "redis cores": _median([s.get("redis_cores") for s in services]),
                "pg commits/cand/s": _median(
                    [s.get("pg_commits_per_candidate_s") for s in services]
                ),
                "pg rows/cand/s": _median(
                    [per_live(r, "pg_rows_written_per_candidate_s") for r in runs]
                ),
                "pg WAL B/cand/s": _median(
                    [s.get("pg_wal_bytes_per_candidate_s") for s in services]
                ),
                "pg cores": _median([s.get("pg_cores") for s in services]),
            }
        )
    return out


def main(argv: Sequence[str]) -> int:
    document = json.loads(Path(argv[0]).read_text())
    for row in rows(document["results"]):
        print(f"{row.pop('mode')} N={row.pop('n')}:")
        for key, value in row.items():
            print(f"  {key:18} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
