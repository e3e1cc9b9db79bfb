"""The load-generator processes (bench/generator.py): the media they replay, encoded once,
their specs, starting them and collecting what each candidate saw."""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import scenario

Launched = list[tuple[subprocess.Popen[bytes], Path]]
"""Each generator process with the path of the result it writes."""


def media_file(directory: Path, args: argparse.Namespace) -> Path:
    """Encode the clip once (VP8, Opus, JPEG) for every generator process."""
    path = directory / "media.pkl"
    width, _, height = args.video_size.partition("x")
    upload_rate = args.analysis_fps
    media = {
        "video_fps": args.video_fps,
        "video": scenario.encode_video(
            args.video_fps, (int(width), int(height)), args.video_kbps * 1000
        ),
        "audio_ptime_ms": args.audio_ptime,
        "audio": scenario.encode_audio(args.audio_ptime),
        "jpeg": {round(upload_rate): scenario.jpeg_frames(upload_rate)},
    }
    if args.screen:
        media["screen_fps"] = scenario.SCREEN_FPS
        media["screen"] = scenario.encode_screen(args.video_kbps * 1000)
    path.write_bytes(pickle.dumps(media))
    return path


def split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts) if items[i::parts]]


def launch_generators(
    tree: Path, workdir: Path, name: str, groups: list[dict[str, Any]]
) -> Launched:
    launched = []
    for index, spec in enumerate(groups):
        spec_path = workdir / f"{name}-{index}.spec.json"
        out_path = workdir / f"{name}-{index}.result.json"
        spec_path.write_text(json.dumps(spec))
        log = open(workdir / f"{name}-{index}.log", "wb")  # noqa: SIM115 (closed by the child)
        process = subprocess.Popen(
            [sys.executable, str(tree / "bench" / "generator.py"), str(spec_path), str(out_path)],
            cwd=tree,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        launched.append((process, out_path))
    return launched


async def wait_generators(launched: Launched, deadline: float) -> list[dict[str, Any]]:
    """The generators' results; one still running at `deadline` is killed (no result)."""
    results = []
    for process, out_path in launched:
        try:
            await asyncio.to_thread(process.wait, max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if out_path.exists():
            results.append(json.loads(out_path.read_text()))
    return results
