"""Privacy controls on real data: consent before anything is taken, the retention purge,
export and deletion of one candidate's data (files included), and the audit log."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, update

from api.services import SERVICES, Services
from core.settings import Settings
from storage.blobs import reference_key
from storage.models import (
    Alert,
    ExamSession,
    Recording,
    ReferenceFace,
    User,
    utcnow,
)
from storage.recordings import open_recording, recording_key
from storage.retention import purge_expired
from tests.clips import DATA
from tests.conftest import Api, ApiFactory

PHOTO = {"data": (DATA / "obama2.jpg").read_bytes(), "headers": {"Content-Type": "image/jpeg"}}


def services_of(api: Api) -> Services:
    return api.client.app[SERVICES]  # type: ignore[no-any-return]


async def test_nothing_is_taken_before_the_candidate_consents(
    make_api: ApiFactory, settings: Settings
) -> None:
    api = await make_api(settings)
    proctor = await api.staff("proctor1")
    exam = await api.exam(proctor)
    token = await api.candidate("carla", consent=False)
    await api.enrol(proctor, exam["id"], "carla")

    notice = await api.ok("GET", "/api/consent", token)
    assert notice["text"] == settings.consent_text and notice["given_at"] is None
    status, body = await api.call("PUT", "/api/me/reference-photo", token, **PHOTO)
    assert (status, body["error"]["code"]) == (409, "consent_required")
    status, body = await api.call("POST", f"/api/exams/{exam['id']}/sessions", token)
    assert (status, body["error"]["code"]) == (409, "consent_required")
    assert (await api.ok("GET", "/api/sessions", token))["sessions"] == []

    status, body = await api.call("POST", "/api/me/consent", token, json={"version": "0" * 64})
    assert (status, body["error"]["code"]) == (409, "consent_outdated")
    given = await api.ok("POST", "/api/me/consent", token, json={"version": notice["version"]})
    assert given["given_at"] is not None
    again = await api.ok("POST", "/api/me/consent", token, json={"version": notice["version"]})
    assert again["given_at"] == given["given_at"]  # kept once, with its first time
    await api.ok("PUT", "/api/me/reference-photo", token, **PHOTO)
    await api.ok("POST", f"/api/exams/{exam['id']}/sessions", token)

    # A deployment that changes its notice asks everyone again.
    changed = await make_api(replace(settings, consent_text="A new notice."))
    token = await changed.login("carla", "candidate-pass-1")
    assert (await changed.ok("GET", "/api/consent", token))["given_at"] is None
    status, body = await changed.call("PUT", "/api/me/reference-photo", token, **PHOTO)
    assert (status, body["error"]["code"]) == (409, "consent_required")


async def attempt_with_data(
    api: Api, proctor: str, exam_id: int, username: str, *, ended_days_ago: float | None
) -> int:
    """A candidate's attempt with an answer, an alert with its evidence file and a recording
    (files in the blob store); ended that many days ago (None: still active)."""
    token = await api.candidate(username)
    await api.ok("PUT", "/api/me/reference-photo", token, **PHOTO)
    await api.enrol(proctor, exam_id, username)
    session_id = int((await api.ok("POST", f"/api/exams/{exam_id}/sessions", token))["session_id"])
    exam = await api.ok("GET", f"/api/exams/{exam_id}", token)
    answer = {"question_id": exam["questions"][0]["id"], "answer": "4"}
    await api.ok("PUT", f"/api/sessions/{session_id}/answers", token, json={"answers": [answer]})
    services = services_of(api)
    now = utcnow()
    await services.blobs.put(f"evidence/{session_id}/inc{session_id}.jpg", b"\xff\xd8jpeg")
    await services.blobs.put(recording_key(session_id, "camera"), b"webm " * 100)
    await open_recording(services.db, session_id, "camera", now)
    async with services.db() as db:
        db.add(
            Alert(
                incident_id=f"inc{session_id}",
                session_id=session_id,
                exam_id=exam_id,
                kind="multiple_faces",
                severity="high",
                state="ended",
                started_at=now,
                evidence_file=f"{session_id}/inc{session_id}.jpg",
            )
        )
        if ended_days_ago is not None:
            ended = now - timedelta(days=ended_days_ago)
            await db.execute(
                update(ExamSession)
                .where(ExamSession.id == session_id)
                .values(status="submitted", ended_at=ended)
            )
            await db.execute(
                update(ReferenceFace)
                .where(ReferenceFace.user_id == select(ExamSession.candidate_id)
                       .where(ExamSession.id == session_id).scalar_subquery())
                .values(created_at=ended - timedelta(days=1))
            )  # fmt: skip
        await db.commit()
    return session_id


async def user_ids(api: Api) -> dict[str, int]:
    async with services_of(api).db() as db:
        return dict((await db.execute(select(User.username, User.id))).all())


async def files_of(api: Api, session_id: int) -> list[str]:
    blobs = services_of(api).blobs
    return await blobs.keys(f"recordings/{session_id}") + await blobs.keys(f"evidence/{session_id}")


async def test_the_retention_job_purges_exactly_what_is_past_its_retention(
    api: Api, settings: Settings
) -> None:
    assert settings.retention_days == 30
    proctor = await api.staff("proctor1")
    default_exam = (await api.exam(proctor))["id"]
    short_exam = (await api.exam(proctor, retention_days=5))["id"]
    old = await attempt_with_data(api, proctor, default_exam, "olga", ended_days_ago=40)
    recent = await attempt_with_data(api, proctor, default_exam, "rita", ended_days_ago=10)
    short = await attempt_with_data(api, proctor, short_exam, "sam", ended_days_ago=10)
    active = await attempt_with_data(api, proctor, default_exam, "ava", ended_days_ago=None)
    services = services_of(api)

    report = await purge_expired(services.db, services.blobs, 30, utcnow())
    assert sorted(report.sessions) == sorted([old, short])
    assert report.files == 4
    assert report.descriptors == 1  # olga's: enrolled 41 days ago, her attempt purged
    for session_id in (old, short):
        assert await files_of(api, session_id) == []
    for session_id in (recent, active):
        assert len(await files_of(api, session_id)) == 2
    async with services.db() as db:
        purged = dict((await db.execute(select(ExamSession.id, ExamSession.purged_at))).all())
        evidence = dict((await db.execute(select(Alert.session_id, Alert.evidence_file))).all())
        recorded = set((await db.execute(select(Recording.session_id))).scalars())
        faces = set(
            (
                await db.execute(
                    select(User.username).join(ReferenceFace, ReferenceFace.user_id == User.id)
                )
            ).scalars()
        )
    assert {sid for sid, at in purged.items() if at is not None} == {old, short}
    assert {sid for sid, name in evidence.items() if name is None} == {old, short}
    assert recorded == {recent, active}
    # sam's attempt is purged but his descriptor is younger than the server's retention.
    assert faces == {"rita", "sam", "ava"}
    crops = {
        name: await services.blobs.get(reference_key(user_id))
        for name, user_id in (await user_ids(api)).items()
    }
    assert {name for name, crop in crops.items() if crop} == {"rita", "sam", "ava"}
    # Answers and scores stay: the exam's record.
    olga = await api.login("olga", "candidate-pass-1")
    assert (await api.ok("GET", f"/api/sessions/{old}", olga))["status"] == "submitted"

    again = await purge_expired(services.db, services.blobs, 30, utcnow())
    assert again.sessions == [] and again.files == 0 and again.descriptors == 0


async def test_the_server_runs_the_purge_when_it_starts(
    make_api: ApiFactory, settings: Settings
) -> None:
    first = await make_api(settings)
    proctor = await first.staff("proctor1")
    exam = (await first.exam(proctor))["id"]
    old = await attempt_with_data(first, proctor, exam, "olga", ended_days_ago=40)
    assert len(await files_of(first, old)) == 2
    second = await make_api(settings)  # the same data directory, a new start
    for _ in range(50):
        if not await files_of(second, old):
            break
        await asyncio.sleep(0.1)
    assert await files_of(second, old) == []


def read_zip(data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        held = json.loads(archive.read("candidate.json"))
        media = {n: archive.read(n) for n in archive.namelist() if n.startswith("media/")}
    return held, media


async def test_an_admin_exports_then_deletes_everything_held_about_a_candidate(api: Api) -> None:
    admin = await api.admin()
    proctor = await api.staff("proctor1")
    exam = (await api.exam(proctor))["id"]
    mine = await attempt_with_data(api, proctor, exam, "olga", ended_days_ago=1)
    other = await attempt_with_data(api, proctor, exam, "rita", ended_days_ago=1)
    olga = (await api.ok("GET", "/api/me", await api.login("olga", "candidate-pass-1")))["id"]
    alert = (await api.ok("GET", f"/alerts?session_id={mine}", proctor))["alerts"][0]
    await api.ok(
        "PATCH", f"/api/alerts/{alert['id']}", proctor, json={"review_status": "confirmed"}
    )

    status, body = await api.call("GET", f"/api/users/{olga}/export", admin)
    assert status == 200
    held, media = read_zip(body)
    assert held["account"]["username"] == "olga" and "password_hash" not in held["account"]
    assert len(held["consents"]) == 1 and held["consents"][0]["text"]
    descriptor = held["reference_face"]["descriptor"]
    assert len(descriptor) == 128 and np.isfinite(descriptor).all()
    [attempt] = held["attempts"]
    assert attempt["id"] == mine and attempt["answers"][0]["answer"] == "4"
    assert [a["kind"] for a in attempt["alerts"]] == ["multiple_faces"]
    assert [r["track"] for r in attempt["recordings"]] == ["camera"]
    assert [e["action"] for e in held["audit"]] == ["reviewed_alert"]
    crop = media.pop(f"media/reference/{olga}.jpg")  # the enrolled face, cropped
    assert crop[:3] == b"\xff\xd8\xff"
    assert media == {
        f"media/recordings/{mine}/camera.webm": b"webm " * 100,
        f"media/evidence/{mine}/inc{mine}.jpg": b"\xff\xd8jpeg",
    }

    # Only admins, only candidates, and not while they take an exam.
    assert (await api.call("GET", f"/api/users/{olga}/export", proctor))[0] == 403
    proctor_id = (await api.ok("GET", "/api/me", proctor))["id"]
    assert (await api.call("DELETE", f"/api/users/{proctor_id}", admin))[0] == 404
    ava = await attempt_with_data(api, proctor, exam, "ava", ended_days_ago=None)
    ava_id = (await api.ok("GET", "/api/me", await api.login("ava", "candidate-pass-1")))["id"]
    status, body = await api.call("DELETE", f"/api/users/{ava_id}", admin)
    assert (status, body["error"]["code"]) == (409, "attempt_active")
    assert len(await files_of(api, ava)) == 2

    deleted = await api.ok("DELETE", f"/api/users/{olga}", admin)
    assert deleted["rows_deleted"] == {
        "answers": 1,
        "alerts": 1,
        "recordings": 1,
        "exam_sessions": 1,
        "consents": 1,
        "reference_faces": 1,
        "enrolments": 1,
        "users": 1,
    }
    assert deleted["files_deleted"] == 3  # and the reference crop
    assert await services_of(api).blobs.get(reference_key(olga)) is None
    assert any("audit log entries" in line for line in deleted["not_deleted"])
    assert await files_of(api, mine) == []
    assert len(await files_of(api, other)) == 2  # another candidate's are untouched
    assert (await api.call("GET", f"/api/users/{olga}/export", admin))[0] == 404
    status, _ = await api.call(
        "POST", "/login", json={"username": "olga", "password": "candidate-pass-1"}
    )
    assert status == 401
    async with services_of(api).db() as db:
        assert (await db.get(ExamSession, mine)) is None
        assert (await db.get(ExamSession, other)) is not None

    created = await api.ok(
        "POST",
        "/api/users",
        admin,
        json={"username": "newproctor", "password": "proctor-pass-1", "role": "proctor"},
    )
    await api.ok("PATCH", f"/api/users/{created['id']}", admin, json={"disabled": True})
    audit = await api.ok("GET", "/api/audit?limit=100", admin)
    entries = [(e["action"], e["actor"], e["subject_id"]) for e in audit["entries"]]
    changes = [
        e["detail"]["change"]
        for e in audit["entries"]
        if e["action"] == "changed_account" and e["subject_id"] == created["id"]
    ]
    assert changes == ["disabled", "created"]  # newest first
    assert ("exported", "root", olga) in entries
    assert ("deleted", "root", olga) in entries
    assert ("changed_account", "root", created["id"]) in entries
    assert ("reviewed_alert", "proctor1", None) in entries
    assert (await api.call("GET", "/api/audit", proctor))[0] == 403
