"""Diagnostics bench/serve.py can switch on for a run of the load benchmark. Each is off
unless its environment variable is set (pass it with `bench/load.py --server-env`); none is
used by the plain benchmark, and none changes a file of the server.

BENCH_SWITCH_INTERVAL=<ms>
    `sys.setswitchinterval`: how long a thread may hold the GIL while another waits for it
    (Python's default 5 ms). The event loop gives the GIL up on every socket call and
    waits up to this long to get it back from the decoder and worker threads.
BENCH_TRACEMALLOC=<a>,<b>,<path>
    Trace Python allocations from start-up (slows the server down: use a small N), take
    snapshots <a> and <b> seconds after start-up and write the 30 largest growths between
    them, by allocating line, to <path>: what keeps growing.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import tracemalloc

log = logging.getLogger("proctor.bench")


def _write_growth(path: str, title: str, snapshots: list[tracemalloc.Snapshot]) -> None:
    growth = snapshots[1].compare_to(snapshots[0], "traceback")
    with open(path, "w") as out:
        out.write(f"{title}\n")
        for stat in growth[:30]:
            out.write(f"{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks\n")
            for line in stat.traceback.format()[-8:]:
                out.write(f"      {line}\n")


def _tracemalloc(spec: str) -> None:
    first, second, path = spec.split(",", 2)
    tracemalloc.start(8)
    snapshots: list[tracemalloc.Snapshot] = []

    def take() -> None:
        snapshots.append(tracemalloc.take_snapshot())
        if len(snapshots) == 2:
            _write_growth(path, f"growth from {first} s to {second} s after start-up", snapshots)

    for delay in (float(first), float(second)):
        timer = threading.Timer(delay, take)
        timer.daemon = True
        timer.start()
    log.warning("experiment: tracemalloc, snapshots at %s s and %s s -> %s", first, second, path)


def apply(environ: dict[str, str] | None = None) -> list[str]:
    """Switch on the diagnostics named in the environment; returns their names."""
    env = dict(os.environ if environ is None else environ)
    applied = []
    if value := env.get("BENCH_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(value) / 1000.0)
        log.warning("experiment: GIL switch interval %s ms", value)
        applied.append(f"switch_interval={value}")
    if value := env.get("BENCH_TRACEMALLOC"):
        _tracemalloc(value)
        applied.append("tracemalloc")
    return applied
