"""What a run leaves behind: `bench/results/load-<time>[-label].json` (rewritten after every
level, so a run cut short keeps the levels done), copies of profiles and raw events next to
it, and one table row per level on standard output."""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import scenario

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def results_file(args: argparse.Namespace) -> Path:
    RESULTS.mkdir(exist_ok=True)
    return RESULTS / f"load-{args.stamp}{'-' + args.label if args.label else ''}.json"


def write_results(out: Path, args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    document = {"args": vars(args), "scene_period_s": scenario.PERIOD, "results": results}
    out.write_text(json.dumps(document, indent=1, default=str))


def shown(path: Path) -> str:
    """A path as the JSON records it: from the repository's root."""
    return str(path.relative_to(ROOT))


def keep_copy(source: Path, name: str) -> str:
    """Copies a file of the run into bench/results; returns where, from the root."""
    kept = RESULTS / name
    kept.write_bytes(source.read_bytes())
    return shown(kept)


def keep_raw(name: str, document: dict[str, Any]) -> str:
    raw = RESULTS / name
    raw.write_text(json.dumps(document))
    return shown(raw)


# --- the table ---------------------------------------------------------------------------

COLUMNS = (
    ("mode", 6), ("N", 4), ("held", 5), ("conn", 5), ("refused", 8), ("rx fps", 7), ("an/s med", 9),
    ("an/s min", 9), ("rep/s", 6), ("lat p50", 8), ("lat p95", 8), ("alert p50", 10),
    ("alert p95", 10), ("missed", 7), ("spur", 5), ("cpu/cand", 9), ("MB/cand", 8),
    ("mem flat", 9), ("upl cpu", 8), ("ratio", 6),
)  # fmt: skip


def fmt(value: Any, spec: str = ".2f", suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return format(value, spec) + suffix
    return str(value) + suffix


def row(result: dict[str, Any]) -> list[str]:
    w = result.get("webrtc", {})
    live = w.get("live", {})
    # Per live candidate, each over its own span; older results: every candidate, whole window.
    rates = live.get("analysed_per_live_candidate_per_s") or live.get(
        "analysed_per_candidate_per_s", {}
    )
    alerts = w.get("alerts", {})
    memory = w.get("memory", {})
    up = result.get("upload", {})
    return [
        mode(result),
        fmt(result["n"]),
        fmt(live.get("held")),
        fmt(live.get("server_connected")),
        fmt(w.get("refused")),
        fmt(live.get("frames_received_per_s"), ".0f"),
        fmt(rates.get("median")),
        fmt(rates.get("min")),
        fmt(live.get("repeated_per_candidate_per_s")),
        fmt(live.get("latency_p50_s"), ".2f", "s"),
        fmt(live.get("latency_p95_s"), ".2f", "s"),
        fmt(alerts.get("delay_p50_s"), "+.2f", "s"),
        fmt(alerts.get("delay_p95_s"), "+.2f", "s"),
        f"{sum(alerts.get('missed', {}).values())}/{alerts.get('expected', 0)}",
        fmt(sum(alerts.get("spurious", {}).values())),
        fmt(w.get("server_cpu_per_candidate_pct"), ".1f", "%"),
        fmt(memory.get("per_candidate_mb"), ".1f"),
        fmt(memory.get("flat")),
        fmt(up.get("server_cpu_per_candidate_pct"), ".1f", "%"),
        fmt(result.get("cpu_ratio_webrtc_to_upload"), ".1f", "x"),
    ]


def print_recording_table(results: list[dict[str, Any]]) -> None:
    """Server CPU per candidate without and with recording at each N (median of the runs),
    and what recording writes per candidate-hour."""
    ns = sorted({r["n"] for r in results if "recording" in r})
    if not ns:
        return
    print("\nN  runs  cpu/cand off  cpu/cand on  recording adds  camera MB/h  screen MB/h")
    for n in ns:
        runs = {
            mode: [
                r["webrtc"]["server_cpu_per_candidate_pct"]
                for r in results
                if r["n"] == n and r.get("recording") == mode and "webrtc" in r
            ]
            for mode in ("off", "on")
        }
        off = statistics.median(runs["off"]) if runs["off"] else None
        on = statistics.median(runs["on"]) if runs["on"] else None
        sizes = [
            r["recorded"]["mb_per_candidate_hour"]
            for r in results
            if r["n"] == n and r.get("recording") == "on" and "recorded" in r
        ]
        camera = statistics.median(s["camera"] for s in sizes) if sizes else None
        screen = statistics.median(s["screen"] for s in sizes) if sizes else None
        added = None if off is None or on is None else on - off
        print(
            f"{n:<3}{len(runs['off'])}+{len(runs['on']):<4}{fmt(off, '.2f', '%'):>12}"
            f"{fmt(on, '.2f', '%'):>13}{fmt(added, '+.2f', '%'):>16}"
            f"{fmt(camera, '.1f'):>13}{fmt(screen, '.1f'):>13}"
        )


def mode(result: dict[str, Any]) -> str:
    """ "box", "box x3" (independent servers), "c3" (a cluster of 3); "/1" when pinned."""
    servers = result.get("servers", 1)
    shown = f"c{result['cluster']}" if result.get("cluster") else "box"
    if not result.get("cluster") and servers > 1:
        shown += f"x{servers}"
    return shown + (f"/{result['cpus']}" if result.get("cpus") else "")


def services_line(result: dict[str, Any]) -> str | None:
    """Redis and PostgreSQL per live candidate and second, for a cluster's level."""
    s = result.get("webrtc", {}).get("services")
    if not s:
        return None
    return (
        f"N={result['n']} {mode(result)}: Redis {s['redis_ops_per_candidate_s']:.2f} ops"
        f" ({fmt(s['redis_cores'], '.3f')} cores), PostgreSQL"
        f" {s['pg_commits_per_candidate_s']:.3f} commits,"
        f" {s['pg_rows_written_per_candidate_s']:.3f} rows written,"
        f" {s['pg_wal_bytes_per_candidate_s'] / 1000:.1f} kB WAL"
        f" ({fmt(s['pg_cores'], '.3f')} cores) per candidate per second"
    )


def print_table(results: list[dict[str, Any]]) -> None:
    header = " ".join(name.rjust(width) for name, width in COLUMNS)
    print(header)
    for result in results:
        print(" ".join(v.rjust(w) for v, (_, w) in zip(row(result), COLUMNS, strict=True)))
    for result in results:
        roles = result.get("webrtc", {}).get("server_cores_by_role") or {}
        split = ", ".join(f"{role} {cores:.2f}" for role, cores in roles.items() if cores)
        print(f"N={result['n']} {mode(result)} server cores by process: {split or 'n/a'}")
        if (line := services_line(result)) is not None:
            print(line)
