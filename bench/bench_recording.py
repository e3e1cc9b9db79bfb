"""What recording one candidate costs: CPU per candidate and megabytes per candidate-hour.

    python bench/bench_recording.py [--seconds 300] [--runs 5]

Feeds a track recorder (live/recording.py) the frames a browser sends when asked for what
the server asks (camera: VP8 320x240 at 5 fps, 80 kbit/s, and Opus in 120 ms packets;
screen: VP8 1280x720 at 2 fps), encoded once from the benchmark's clip (bench/scenario.py),
as fast as it takes them, with a real blob store and SQLite database in a temporary
directory: segments muxed and written every ~5 s, then the merge into one file. The CPU
time of the process (every thread), divided by the seconds of media recorded, is the share
of a core recording takes per candidate; the bytes written per hour are what to plan disks
for. The frames reach the recorder as aiortc's receiver hands them over (`_on_frame`, past
the tee of media/encoded.py, whose cost is one bytes copy per frame). Medians of the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import scenario  # noqa: E402

from live.recording import TrackRecorder  # noqa: E402
from media.constraints import CaptureProfile  # noqa: E402
from media.encoded import EncodedFrame  # noqa: E402
from storage.blobs import FileBlobStore  # noqa: E402
from storage.db import create_engine, migrate, session_factory  # noqa: E402

PROFILE = CaptureProfile()
AUDIO_PTIME_S = PROFILE.audio_ptime_ms / 1000


def timeline(
    video: list[bytes], fps: float, audio: list[bytes], seconds: float, start: float
) -> list[EncodedFrame]:
    """The frames of `seconds` of media, the clip looped, in arrival order."""
    frames = [
        EncodedFrame("video", "VP8", video[i % len(video)], round(i * 90_000 / fps), 90_000,
                     start + i / fps)
        for i in range(round(seconds * fps))
    ]  # fmt: skip
    frames += [
        EncodedFrame("audio", "opus", audio[i % len(audio)], round(i * AUDIO_PTIME_S * 48_000),
                     48_000, start + i * AUDIO_PTIME_S)
        for i in range(round(seconds / AUDIO_PTIME_S) if audio else 0)
    ]  # fmt: skip
    return sorted(frames, key=lambda f: f.arrival)


async def record_once(
    directory: Path, track: str, frames: list[EncodedFrame], session_id: int
) -> tuple[float, int]:
    """CPU seconds (the whole process) and bytes of one recording of `frames`."""
    engine = create_engine(f"sqlite+aiosqlite:///{directory / 'bench.db'}")
    await migrate(engine)
    blobs = FileBlobStore(directory)
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    executor = ThreadPoolExecutor(2)
    await _attempt(engine, session_id)
    recorder = TrackRecorder(
        session_id=session_id,
        track=track,
        with_audio=track == "camera",
        blobs=blobs,
        db=session_factory(engine),
        executor=executor,
    )
    started = time.process_time()
    for index, frame in enumerate(frames):
        recorder._on_frame(1, frame)
        if index % 50 == 0:
            await asyncio.sleep(0)  # let the segment writes run, as the event loop would
    await recorder.stop(final=True)
    cpu = time.process_time() - started
    executor.shutdown()
    await engine.dispose()
    size = sum(p.stat().st_size for p in (directory / "recordings").rglob("*.webm"))
    return cpu, size


async def _attempt(engine: object, session_id: int) -> None:
    """The rows a recording hangs from (an exam, a candidate, the attempt)."""
    from sqlalchemy import text  # noqa: PLC0415

    async with engine.begin() as connection:  # type: ignore[attr-defined]
        now = "2026-01-01 00:00:00"
        await connection.execute(text(
            "INSERT INTO users (id, username, password_hash, role, created_at) "
            f"VALUES (1, 'bench', 'x', 'candidate', '{now}')"
        ))  # fmt: skip
        await connection.execute(text(
            "INSERT INTO exams (id, title, description, duration_minutes, show_score, "
            "rules_preset, rules_overrides, record_screen, created_by, created_at) "
            f"VALUES (1, 'bench', '', 60, 1, 'normal', '{{}}', 1, 1, '{now}')"
        ))  # fmt: skip
        await connection.execute(text(
            "INSERT INTO exam_sessions (id, exam_id, candidate_id, status, started_at, "
            f"deadline_at, risk_score) VALUES ({session_id}, 1, 1, 'active', '{now}', '{now}', 0)"
        ))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="media per run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    size = (PROFILE.width, PROFILE.height)
    camera = scenario.encode_video(PROFILE.frame_rate, size, PROFILE.video_kbps * 1000)
    audio = scenario.encode_audio(PROFILE.audio_ptime_ms)
    screen = scenario.encode_screen(PROFILE.video_kbps * 1000)
    past = time.time() - args.seconds - 10  # the recording ends before "now"
    tracks = {
        "camera": timeline(camera, PROFILE.frame_rate, audio, args.seconds, past),
        "screen": timeline(screen, scenario.SCREEN_FPS, [], args.seconds, past),
    }
    print(f"{args.runs} runs of {args.seconds:.0f} s of media per track")
    print("track   cpu % of a core per candidate (median, min-max)   MB per candidate-hour")
    for track, frames in tracks.items():
        cpus, sizes = [], []
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="proctor-bench-rec-") as scratch:
                cpu, size = asyncio.run(record_once(Path(scratch), track, frames, run + 1))
            cpus.append(100 * cpu / args.seconds)
            sizes.append(size / 1e6 * 3600 / args.seconds)
        print(
            f"{track:<8}{statistics.median(cpus):>8.3f} ({min(cpus):.3f}-{max(cpus):.3f})"
            f"{statistics.median(sizes):>40.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
