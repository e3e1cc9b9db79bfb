"""Load benchmark: how many live candidates one server holds on this machine.

    python bench/load.py                       # N = 1, 10, 25, 50, 100
    python bench/load.py --n 25 --measure 60   # one level
    python bench/load.py --n 50 --profile      # with a py-spy profile of the server
    python bench/load.py --n 25 --cluster 0 1 --repeat 3 --no-upload   # one box vs a cluster

For each N, bounded in time and stopping by itself (bench/level.py):

1. Starts the real server (bench/serve.py: server.py, plus diagnostics on request) as a
   subprocess on a free 127.0.0.1 port with a temporary data directory, WebRTC pinned to
   loopback (PROCTOR_ICE_HOSTS=127.0.0.1) (bench/server_process.py).
2. Creates a proctor, an exam with `scenario.RULES`, N candidates (each enrols a reference
   photo) and one attempt each (bench/rest.py, bench/nodes.py).
3. Runs the N candidates as real aiortc peers in 1-2 generator processes (bench/generator.py,
   started by bench/launch.py) replaying the clip encoded once (by default what the server
   asks browsers for), connections staggered over the ramp, each clip starting at its own
   connection: events are spread in time.
4. Measures over the window after ramp and warm-up: server CPU and RSS (the process and its
   children, /proc), the live counters (GET /api/stats/live, once a second)
   (bench/sampling.py, bench/figures.py), alerts on each candidate's data channel against
   the scripted events (bench/scoring.py).
   With --screen each candidate also shares a screen (a second video track, 1280x720 at 2
   frames/s); the bytes recorded per track over the window give megabytes per candidate-hour
   (bench/recording_cost.py), and --recording both runs each N without, then with recording.
5. Then the same candidates, on a second exam, POST the clip's JPEG frames to /upload-frame at
   the analysis rate: CPU per candidate of that path.

With `--cluster K` the servers are K nodes of one cluster on a private PostgreSQL and
Redis (bench/cluster_mode.py), whose work over the window is measured too; `--cluster 0`
is the single box. Several values, and `--repeat`, interleave the modes so that each is
compared with the others under the same load of the (shared) machine.

Prints one table row per N and writes bench/results/load-<timestamp>[-label].json
(bench/report.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from cluster_mode import running_services  # noqa: E402
from launch import media_file  # noqa: E402
from level import Mode, run_level  # noqa: E402
from report import (  # noqa: E402
    print_recording_table,
    print_table,
    results_file,
    shown,
    write_results,
)
from server_process import server_tree  # noqa: E402

from core.settings import Settings  # noqa: E402
from media.constraints import CaptureProfile  # noqa: E402


def _level_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, nargs="+", default=[1, 10, 25, 50, 100])
    parser.add_argument("--measure", type=float, default=60.0, help="seconds measured per N")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds after the ramp")
    parser.add_argument("--ramp-per-candidate", type=float, default=0.2)
    parser.add_argument("--ramp-max", type=float, default=20.0)
    parser.add_argument("--analysis-fps", type=float, default=Settings().analysis_fps)
    parser.add_argument("--detector-threads", type=int, default=0, help="0: server default")
    parser.add_argument("--generators", type=int, default=0, help="0: 1 for N<=10, else 2")


def _media_options(parser: argparse.ArgumentParser) -> None:
    # Defaults: what the server's answer asks browsers for, which Chromium follows
    # (tests/test_web_e2e.py). The raw clip: --video-fps 15 --video-kbps 500
    # --audio-ptime 20.
    asked = CaptureProfile()
    parser.add_argument("--video-fps", type=float, default=float(asked.frame_rate),
                        help="frames/s each peer sends (default: as asked)")  # fmt: skip
    parser.add_argument("--video-size", default=f"{asked.width}x{asked.height}",
                        help="WxH each peer sends (default: as asked)")  # fmt: skip
    parser.add_argument("--video-kbps", type=int, default=asked.video_kbps,
                        help="VP8 bitrate each peer sends (default: as asked)")  # fmt: skip


def _run_options(parser: argparse.ArgumentParser) -> None:
    asked = CaptureProfile()
    parser.add_argument(
        "--servers", type=int, default=1,
        help="server processes, candidates spread evenly (one process per core, emulated)",
    )  # fmt: skip
    parser.add_argument(
        "--cluster", type=int, nargs="+", default=[0], metavar="K",
        help="K nodes of one cluster on PostgreSQL and Redis; 0: one box (default)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1,
                        help="run every mode and N this often (tables take medians)")  # fmt: skip
    parser.add_argument(
        "--cpus", default="", metavar="LIST",
        help="pin the servers' process trees to these CPUs (taskset -c), e.g. 0: a slower box",
    )  # fmt: skip
    parser.add_argument("--console", action="store_true", help="a proctor's console open")
    parser.add_argument(
        "--retry-jitter", type=float, default=0.0, metavar="S",
        help="a refused candidate waits Retry-After plus up to S s at random (the page: 0)",
    )  # fmt: skip
    parser.add_argument("--no-audio", action="store_true", help="video only")
    parser.add_argument("--screen", action="store_true",
                        help="each candidate also shares a screen (1280x720, 2 fps)")  # fmt: skip
    parser.add_argument(
        "--recording", choices=("on", "off", "both"), default="on",
        help="record the attempts (PROCTOR_RECORDING); both: each N twice, off then on",
    )  # fmt: skip
    parser.add_argument("--audio-ptime", type=int, default=asked.audio_ptime_ms,
                        choices=(20, 40, 60, 120), help="ms of audio per Opus packet")  # fmt: skip
    parser.add_argument("--no-upload", action="store_true", help="skip the upload comparison")
    parser.add_argument("--upload-seconds", type=float, default=30.0)
    parser.add_argument("--upload-warmup", type=float, default=5.0)
    parser.add_argument("--profile", action="store_true", help="py-spy the server mid-window")
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="KEY=VALUE",
        help="extra PROCTOR_* setting for the server (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--tree", choices=("head", "work"), default="head",
        help="run the server from the last commit (default) or the working tree",
    )  # fmt: skip
    parser.add_argument("--keep-raw", action="store_true", help="save every alert and event")
    parser.add_argument("--label", default="", help="added to the JSON file name")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _level_options(parser)
    _media_options(parser)
    _run_options(parser)
    args = parser.parse_args(argv)
    args.stamp = time.strftime("%Y%m%d-%H%M%S")
    return args


def _log_tails(workdir: Path) -> dict[str, str]:
    return {
        f"log_tail_{log.parent.name}": log.read_text(errors="replace")[-3000:]
        for log in sorted(workdir.glob("server*/server.log"))
    }


async def _level(
    n: int, args: argparse.Namespace, media: Path, workdir: Path, mode: Mode
) -> dict[str, Any]:
    """One level's result; a level that fails gives its error and the server logs' tails
    instead, so it does not lose the others."""
    started = time.monotonic()
    try:
        result = await run_level(n, args, media, workdir, mode)
    except Exception as error:
        result = {"n": n, "cluster": mode.cluster, "error": f"{type(error).__name__}: {error}"}
        result.update(_log_tails(workdir))
    result["wall_s"] = time.monotonic() - started
    return result


def _runs(
    args: argparse.Namespace, recordings: tuple[str, ...]
) -> list[tuple[int, int, int, str]]:
    """(repetition, cluster size, N, recording) in the order they run: the modes interleaved."""
    return [
        (r, k, n, recording)
        for r in range(args.repeat)
        for k in args.cluster
        for n in args.n
        for recording in recordings
    ]


async def _all_levels(
    args: argparse.Namespace, tmp: Path, media: Path, out: Path
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    recordings = ("off", "on") if args.recording == "both" else (args.recording,)
    base_env = list(args.server_env)
    with contextlib.ExitStack() as stack:
        services = stack.enter_context(running_services()) if any(args.cluster) else None
        for repetition, k, n, recording in _runs(args, recordings):
            args.server_env = [*base_env, f"PROCTOR_RECORDING={int(recording == 'on')}"]
            mode = Mode()
            if k and services is not None:
                mode = Mode(k, services, services.fresh_database())
            workdir = tmp / f"r{repetition}-c{k}-n{n}-recording-{recording}"
            workdir.mkdir()
            print(f"N={n}, {mode.label}, recording {recording}: running ...",
                  file=sys.stderr, flush=True)  # fmt: skip
            result = await _level(n, args, media, workdir, mode)
            result["repetition"] = repetition
            result["recording"] = recording
            results.append(result)
            write_results(out, args, results)
            print_table([result])
            print(f"N={n}: done in {result['wall_s']:.0f} s -> {out}", file=sys.stderr, flush=True)
    args.server_env = base_env
    return results


async def amain(args: argparse.Namespace) -> list[dict[str, Any]]:
    out = results_file(args)
    with tempfile.TemporaryDirectory(prefix="proctor-load-") as tmp:
        args.tree_path, args.tree_info = server_tree(args.tree, Path(tmp))
        print(f"server and generators run from {args.tree_info}", file=sys.stderr)
        media = media_file(Path(tmp), args)
        results = await _all_levels(args, Path(tmp), media, out)
    print()
    print_table(results)
    print_recording_table(results)
    print(f"\nJSON: {shown(out)}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(amain(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
