"""Recording through the real pipeline: a real aiortc peer streams a clip made from real
photos; the attempt's camera and microphone land in the blob store as the peer sent them,
merged into one WebM when the attempt ends, on the alerts' timeline."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from core.settings import Settings
from detectors.face_detector import FaceDetector
from tests.clips import CandidateClient, Clip, ClipVideoTrack, WavAudioTrack, speech
from tests.conftest import Api
from tests.test_live_pipeline import enrolled_candidate_with_session

pytestmark = pytest.mark.webrtc

SCENE = ((0, 3, "candidate"), (3, 6, "two_faces"), (6, 9, "candidate"))
RULES = {
    "multiple_faces": {"start_after": 0.5},
    "looking_away": {"enabled": False},
    "talking": {"enabled": False},
    "speech": {"enabled": False},
}


def frame_at(webm: bytes, seconds: float) -> tuple[np.ndarray, float]:
    """The picture shown at `seconds` into the recording (BGR) and its own timestamp."""
    with av.open(io.BytesIO(webm)) as container:
        shown = None
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time > seconds:
                break
            shown = frame
        assert shown is not None and shown.time is not None
        return shown.to_ndarray(format="bgr24"), float(shown.time)


def describe(webm: bytes) -> dict[str, Any]:
    with av.open(io.BytesIO(webm)) as container:
        streams = {s.type: s.codec_context.name for s in container.streams}
        duration = (container.duration or 0) / 1_000_000
        audio = sum(1 for _ in container.decode(audio=0)) if "audio" in streams else 0
    with av.open(io.BytesIO(webm)) as container:
        keyframes = [
            float(p.pts * p.time_base)
            for p in container.demux(video=0)
            if p.pts is not None and p.is_keyframe
        ]
    return {"streams": streams, "duration": duration, "audio_frames": audio, "keys": keyframes}


async def stream_and_submit(api: Api) -> tuple[int, float, str]:
    """Stream the scene to a new attempt, submit it; (session id, seconds streamed, token)."""
    token, session_id = await enrolled_candidate_with_session(api, RULES)
    track = ClipVideoTrack(Clip(SCENE, fps=15))
    samples, rate = speech(9.0)
    client = CandidateClient(track, WavAudioTrack(samples, rate))
    try:
        answer = await api.ok(
            "POST",
            f"/api/sessions/{session_id}/offer",
            token,
            json={"sdp": await client.offer(), "type": "offer"},
        )
        await client.accept_answer(answer["sdp"])
        await asyncio.wait_for(track.finished(), 20)
        assert track._start is not None
        streamed = time.monotonic() - track._start
        await api.ok("POST", "/submit", token, json={"session_id": session_id, "answers": []})
    finally:
        await client.close()
    return session_id, streamed, token


async def wait_for_file(path: Path, seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(path.exists):
        assert time.monotonic() < deadline, f"{path} was not written"
        await asyncio.sleep(0.2)
    return await asyncio.to_thread(path.read_bytes)


async def test_the_camera_is_recorded_as_sent_and_lines_up_with_the_alerts(
    api: Api, settings: Settings
) -> None:
    session_id, streamed, token = await stream_and_submit(api)
    store = settings.data_dir / "recordings" / str(session_id)
    webm = await wait_for_file(store / "camera.webm", 10)
    assert not (store / "camera").exists()  # the segments were merged, then deleted
    info = describe(webm)
    print(f"streamed {streamed:.2f} s, recorded {info}, {len(webm)} bytes")
    assert info["streams"] == {"video": "vp8", "audio": "opus"}
    assert abs(info["duration"] - streamed) < 1.0
    assert info["audio_frames"] > 5 * streamed  # 120 ms packets: ~8 a second
    # A keyframe at the start and about every 5 s (asked of the sender at each cut).
    assert info["keys"][0] == 0.0 and len(info["keys"]) >= 2

    alerts = await api.ok("GET", f"/alerts?session_id={session_id}&kind=multiple_faces", token)
    assert alerts["total"] == 1
    started = datetime.fromisoformat(alerts["alerts"][0]["started_at"])
    origin = await recording_origin(api, session_id)
    marker = (started - origin).total_seconds()
    assert 2.5 < marker < 5.0, marker  # the second person came at 3 s
    picture, shown_at = frame_at(webm, marker + 0.3)
    faces = FaceDetector().detect(picture)
    print(f"frame at {shown_at:.2f} s (marker {marker:.2f} s): {len(faces)} faces")
    assert len(faces) == 2
    before, _ = frame_at(webm, 1.5)
    assert len(FaceDetector().detect(before)) == 1


async def recording_origin(api: Api, session_id: int) -> datetime:
    from sqlalchemy import select

    from api.services import SERVICES
    from storage.models import Recording

    services = api.client.app[SERVICES]  # type: ignore[index]
    async with services.db() as db:
        row = (
            await db.execute(select(Recording).where(Recording.session_id == session_id))
        ).scalar_one()
    assert row.status == "ready" and row.track == "camera"
    return row.started_at
