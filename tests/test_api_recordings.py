"""Serving recordings: to staff who may see the attempt only, by byte ranges, through the
recording pass cookie for video elements, never cached by shared caches; a recording left in
segments (its process stopped) is merged on first request."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import av
from sqlalchemy import update

from api.services import SERVICES, Services
from auth.media import MEDIA_COOKIE
from live.recording import finalise_recording
from media.encoded import is_vp8_keyframe
from media.webm import Block, mux_segment
from storage.models import ExamSession, RecordingStatus, utcnow
from storage.recordings import open_recording, segment_key
from tests.clips import Clip, encode_vp8
from tests.conftest import Api
from tests.test_console_api import exam_with_candidate

FPS = 5


def services_of(api: Api) -> Services:
    return api.client.app[SERVICES]  # type: ignore[no-any-return]


async def recorded_in_segments(api: Api, session_id: int) -> float:
    """A real VP8 stream of 4 s (real photos) written as the recorder writes it: two
    segments and a `recordings` row; its length in seconds."""
    frames = encode_vp8(Clip(((0, 4, "candidate"),), fps=FPS), bitrate=100_000)
    blocks = [Block(i * 1000 // FPS, data, is_vp8_keyframe(data)) for i, data in enumerate(frames)]
    services = services_of(api)
    await open_recording(services.db, session_id, "camera", utcnow())
    half = next(i for i, b in enumerate(blocks) if b.pts_ms >= 2000)
    assert is_vp8_keyframe(blocks[0].data)
    for part, end_ms in ((blocks[:half], blocks[half].pts_ms), (blocks[half:], 4000)):
        data = mux_segment(part, [], size=(640, 480), end_ms=end_ms, with_audio=False)
        await services.blobs.put(segment_key(session_id, "camera", part[0].pts_ms), data)
    return 4.0


async def ended_a_minute_ago(api: Api, session_id: int) -> None:
    async with services_of(api).db() as db:
        await db.execute(
            update(ExamSession)
            .where(ExamSession.id == session_id)
            .values(status="terminated", ended_at=utcnow() - timedelta(minutes=1))
        )
        await db.commit()


async def get(api: Api, path: str, token: str | None = None, **headers: str) -> Any:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await api.client.get(path, headers=headers)


async def test_staff_play_a_recording_by_ranges_and_nobody_else_gets_it(api: Api) -> None:
    proctor, candidate, exam_id, session_id = await exam_with_candidate(api)
    stranger = await api.staff("proctor2")  # a proctor of no exam of this attempt
    admin = await api.admin()
    length = await recorded_in_segments(api, session_id)
    details = f"/api/sessions/{session_id}/recording"
    camera = f"{details}/camera"

    # While the attempt runs there is nothing to play yet.
    live = await api.ok("GET", details, proctor)
    assert [(t["track"], t["status"], t["url"]) for t in live["tracks"]] == [
        ("camera", "recording", None)
    ]
    assert (await api.call("GET", camera, proctor))[0] == 404

    # Ended long enough ago that its worker should have merged it: the API merges it.
    await ended_a_minute_ago(api, session_id)
    ready = await api.ok("GET", details, proctor)
    [track] = ready["tracks"]
    assert track["status"] == "ready" and track["url"] == camera
    assert abs(track["duration_s"] - length) < 0.25
    assert await services_of(api).blobs.keys(f"recordings/{session_id}/camera") == []

    whole = await get(api, camera, proctor)
    body = await whole.read()
    assert whole.status == 200 and len(body) == track["size_bytes"]
    assert whole.headers["Content-Type"] == "video/webm"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Cache-Control"] == "private, no-store"
    with av.open(io.BytesIO(body)) as container:
        assert abs(container.duration / 1e6 - length) < 0.25
        assert sum(1 for _ in container.decode(video=0)) == length * FPS

    size = len(body)
    first = await get(api, camera, proctor, Range="bytes=0-99")
    assert first.status == 206 and await first.read() == body[:100]
    assert first.headers["Content-Range"] == f"bytes 0-99/{size}"
    middle = await get(api, camera, proctor, Range=f"bytes=1000-{size + 50}")
    assert middle.status == 206 and await middle.read() == body[1000:]
    tail = await get(api, camera, proctor, Range="bytes=-10")
    assert tail.status == 206 and await tail.read() == body[-10:]
    beyond = await get(api, camera, proctor, Range=f"bytes={size}-")
    assert beyond.status == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"
    assert (await beyond.json())["error"]["code"] == "range_not_satisfiable"
    ignored = await get(api, camera, proctor, Range="bytes=9-3")  # invalid: the whole file
    assert ignored.status == 200 and len(await ignored.read()) == size

    # The video element has no header: the pass cookie set by the details answer opens it.
    cookie = api.client.session.cookie_jar.filter_cookies(api.client.make_url(camera))
    assert MEDIA_COOKIE in cookie
    by_cookie = await get(api, camera)
    assert by_cookie.status == 200 and await by_cookie.read() == body
    # ...for this attempt's recording only: its path keeps it away from everything else,
    # and sent elsewhere by hand it opens nothing.
    assert MEDIA_COOKIE not in api.client.session.cookie_jar.filter_cookies(
        api.client.make_url("/api/me")
    )
    forged = await api.client.get(
        f"/api/sessions/{session_id + 1}/recording/camera",
        headers={"Cookie": f"{MEDIA_COOKIE}={cookie[MEDIA_COOKIE].value}"},
    )
    assert forged.status == 401
    api.client.session.cookie_jar.clear()
    assert (await get(api, camera)).status == 401

    # The candidate (their own attempt) and a proctor not assigned to the exam: 404.
    for token in (candidate, stranger):
        for path in (details, camera, f"{details}/screen"):
            status, answer = await api.call("GET", path, token)
            assert status == 404 and answer["error"]["code"] == "not_found", (path, answer)
    assert (await api.call("GET", camera, admin))[0] == 200
    assert (await api.call("GET", f"{details}/screen", admin))[0] == 404  # not recorded

    audit = await api.ok("GET", f"/api/audit?session_id={session_id}", admin)
    assert [e["actor"] for e in audit["entries"] if e["action"] == "played_recording"] == [
        "proctor1",
        "proctor1",
    ]
    assert audit["entries"][0]["exam_id"] == exam_id


async def test_a_merge_needs_no_thread_of_the_default_executor(api: Api) -> None:
    """At the end of an exam every attempt's recording is merged at once. A merge waits for
    the event loop to read each segment, which the file store does in the default executor:
    merges running there took all its threads and waited for one forever."""
    _, _, _, session_id = await exam_with_candidate(api)
    length = await recorded_in_segments(api, session_id)
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(1))  # as if the others were all busy
    try:
        services = services_of(api)
        merging = finalise_recording(services.db, services.blobs, session_id, "camera")
        row = await asyncio.wait_for(merging, 30)
    finally:
        loop.set_default_executor(ThreadPoolExecutor())
    assert row is not None and row.status == RecordingStatus.READY.value
    assert abs(row.duration_s - length) < 0.3
