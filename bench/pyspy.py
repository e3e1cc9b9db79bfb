"""A py-spy profile of the server in the middle of the measured window, and where its time
goes: shares per thread group, per kind of work and per innermost function.

Two recordings run side by side for half the window: every thread that is not idle, and
(`--gil`) only the thread holding the GIL, which shows what keeps the event loop waiting.
With live workers the profiled process is a live worker (they hold the candidates).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import procstats
from report import keep_copy

CATEGORIES = (
    # (label, substrings of a frame), matched from the innermost frame outwards.
    ("identity (dlib descriptor)", ("FaceVerifier.describe", "detectors/identity")),
    ("face detection (BlazeFace)", ("detect_full", "face_detector.py")),
    ("face mesh + iris", ("face_mesh.py", "IrisModel", "FaceMesh")),
    ("other frame analysis", ("detectors/pipeline.py", "detectors/camera.py", "face_geometry")),
    ("voice activity (silero)", ("detectors/voice.py",)),
    ("VP8 decode", ("Vp8Decoder.decode", "codecs/vpx.py")),
    ("Opus decode", ("OpusDecoder.decode", "codecs/opus.py")),
    ("frames (plane copy, still test) / audio resample",
     ("VideoSampler._run", "media/audio.py", "media/video.py", "media/still.py")),
    ("SRTP/RTP/jitter buffer", ("pylibsrtp", "rtcrtpreceiver", "rtcdtlstransport", "jitterbuffer",
                                "aiortc/rtp.py", "rtcrtpsender")),
    ("ICE/STUN", ("aioice",)),
    ("SCTP/data channel", ("rtcsctptransport",)),
    ("database", ("sqlalchemy", "aiosqlite", "storage/")),
    ("HTTP/REST", ("aiohttp/web_", "(api/", "multipart")),
    # Not live/worker_process.py: a live worker's event loop runs under it.
    ("alerts/rules", ("alerts/", "live/session.py", "live/sinks.py", "live/hub.py")),
)  # fmt: skip
GENERIC = ("event loop/threads", ("asyncio/", "selectors.py", "threading.py", "concurrent/futures"))
"""Only when no frame of the stack falls in a specific category."""
IDLE_LEAVES = ("Condition.wait (threading.py", "EpollSelector.select", "_worker (concurrent")


def start_profile(
    pid: int, seconds: int, path: Path, gil: bool = False
) -> subprocess.Popen[bytes] | None:
    """py-spy on the server: every thread that is not idle, or (`gil`) only the thread
    holding the GIL, which shows what keeps the event loop waiting."""
    try:
        return subprocess.Popen(
            ["py-spy", "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "50",
             "--nonblocking", "--threads", "--format", "raw", "--output", str(path),
             *(["--gil"] if gil else [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
    except FileNotFoundError:
        print("py-spy not found (pip install py-spy): no profile", file=sys.stderr)
        return None


class Profiler:
    """Both recordings of one level: scheduled, then waited for and summarised."""

    def __init__(self, workdir: Path, n: int, seconds: int) -> None:
        self.paths = {
            "all": workdir / f"profile-n{n}.txt",
            "gil": workdir / f"profile-gil-n{n}.txt",
        }
        self.seconds = seconds
        self.role: str | None = None
        """What the profiled process is ("live worker" or "front"), once started."""
        self._processes: list[subprocess.Popen[bytes] | None] = []
        self._timer: asyncio.TimerHandle | None = None

    def schedule(self, server_pid: int, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(0.0, delay), self._start, server_pid)

    def _start(self, server_pid: int) -> None:
        workers = procstats.pids_by_role(server_pid)["live workers"]
        target = min(workers) if workers else server_pid
        self.role = "live worker" if workers else "front"
        for kind, path in self.paths.items():
            self._processes.append(start_profile(target, self.seconds, path, gil=kind == "gil"))

    def finish(self, stamp: str) -> dict[str, dict[str, Any]]:
        """Waits for py-spy, keeps the raw stacks in bench/results and summarises them."""
        if self._timer is not None:
            self._timer.cancel()
        for process in self._processes:
            if process is not None:
                process.wait(60)
        summaries = {}
        for kind, path in self.paths.items():
            if path.exists():
                summary = summarise_profile(path)
                summary["raw"] = keep_copy(path, f"{path.stem}-{stamp}.txt")
                summaries[kind] = summary
        return summaries


def _thread_group(frames: list[str]) -> str:
    name = frames[0].split(": ", 1)[-1]
    group = re.sub(r"[_-]?\d+$", "", name.split(" (")[0]).strip() or name
    return {"MainThread": "event loop (MainThread)"}.get(group, group)


def _category(frames: list[str]) -> str:
    for frame in reversed(frames[1:]):
        for label, keys in CATEGORIES:
            if any(k in frame for k in keys):
                return label
    generic = any(k in frame for frame in frames[1:] for k in GENERIC[1])
    return GENERIC[0] if generic else "other"


def _share(table: dict[str, int], total: int, top: int) -> list[tuple[str, float]]:
    ranked = sorted(table.items(), key=lambda kv: -kv[1])[:top]
    return [(name, round(100 * count / total, 1)) for name, count in ranked]


def summarise_profile(path: Path, top: int = 20) -> dict[str, Any]:
    """Where the server's time goes, from py-spy's collapsed stacks
    ("thread (tid): name;frame;...;frame count"): shares per thread group, per category of
    work (innermost matching frame) and per innermost function. Samples whose innermost
    frame is a wait (a thread parked on a lock, the loop in select) are left out."""
    tables: dict[str, dict[str, int]] = {"threads": {}, "categories": {}, "functions": {}}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if frames[-1].startswith(IDLE_LEAVES):
            continue
        count = int(count_text)
        total += count
        for table, key in zip(
            tables.values(), (_thread_group(frames), _category(frames), frames[-1]), strict=True
        ):
            table[key] = table.get(key, 0) + count
    if total == 0:
        return {"samples": 0}
    return {
        "samples": total,
        **{f"{name}_pct": _share(table, total, top) for name, table in tables.items()},
    }
