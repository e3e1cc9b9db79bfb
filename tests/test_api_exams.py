"""Exams, enrolment, attempts, answers and submit, with role and ownership checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.services import SERVICES
from storage.models import Alert, ExamSession, utcnow
from tests.conftest import Api


async def _exam_with_candidate(
    api: Api, candidate: str = "cand"
) -> tuple[str, str, dict[str, Any]]:
    proctor = await api.staff("proctor1")
    token = await api.candidate(candidate)
    exam = await api.exam(proctor)
    await api.enrol(proctor, exam["id"], candidate)
    return proctor, token, exam


async def test_exam_is_created_and_candidates_do_not_see_the_key(api: Api) -> None:
    proctor, candidate, exam = await _exam_with_candidate(api)
    assert [q["answer"] for q in exam["questions"]] == ["4", "Paris", None]
    seen = await api.ok("GET", f"/api/exams/{exam['id']}", candidate)
    assert seen["title"] == "Algebra"
    assert all(q["answer"] is None for q in seen["questions"])
    listed = await api.ok("GET", "/api/exams", candidate)
    assert [e["id"] for e in listed["exams"]] == [exam["id"]]


async def test_candidates_cannot_create_exams_and_outsiders_cannot_see_them(api: Api) -> None:
    _, _, exam = await _exam_with_candidate(api)
    outsider = await api.candidate("outsider")
    status, _ = await api.call(
        "POST", "/api/exams", outsider, json={"title": "x", "duration_minutes": 5}
    )
    assert status == 403
    assert (await api.call("GET", f"/api/exams/{exam['id']}", outsider))[0] == 404
    other_proctor = await api.staff("proctor2")
    assert (await api.call("GET", f"/api/exams/{exam['id']}", other_proctor))[0] == 404
    status, _ = await api.call(
        "POST",
        f"/api/exams/{exam['id']}/candidates",
        other_proctor,
        json={"usernames": ["outsider"]},
    )
    assert status == 404


async def test_enrolment_refuses_unknown_users_and_wrong_roles(api: Api) -> None:
    proctor, _, exam = await _exam_with_candidate(api)
    status, body = await api.call(
        "POST", f"/api/exams/{exam['id']}/candidates", proctor, json={"usernames": ["ghost"]}
    )
    assert status == 422 and "ghost" in body["error"]["message"]
    status, body = await api.call(
        "POST", f"/api/exams/{exam['id']}/proctors", proctor, json={"usernames": ["cand"]}
    )
    assert status == 422 and body["error"]["code"] == "wrong_role"
    second = await api.staff("proctor2")
    await api.ok(
        "POST", f"/api/exams/{exam['id']}/proctors", proctor, json={"usernames": ["proctor2"]}
    )
    assert (await api.ok("GET", f"/api/exams/{exam['id']}", second))["id"] == exam["id"]


async def test_one_active_attempt_then_submit_grades_and_closes(api: Api) -> None:
    _, candidate, exam = await _exam_with_candidate(api)
    session = await api.ok("POST", f"/api/exams/{exam['id']}/sessions", candidate)
    assert session["status"] == "active" and 1790 < session["seconds_left"] <= 1800
    status, body = await api.call("POST", f"/api/exams/{exam['id']}/sessions", candidate)
    assert status == 409 and body["error"]["code"] == "attempt_active"

    q = [question["id"] for question in exam["questions"]]
    answers = [
        {"question_id": q[0], "answer": "4"},
        {"question_id": q[1], "answer": "  paris "},
        {"question_id": q[2], "answer": "Because."},
    ]
    result = await api.ok(
        "POST", "/submit", candidate, json={"session_id": session["session_id"], "answers": answers}
    )
    assert result == {
        "session_id": session["session_id"],
        "status": "submitted",
        "score": 3.0,
        "max_score": 3.0,
    }

    status, body = await api.call(
        "POST", "/submit", candidate, json={"session_id": session["session_id"], "answers": []}
    )
    assert status == 409 and body["error"]["code"] == "session_closed"
    after = await api.ok("GET", f"/api/sessions/{session['session_id']}", candidate)
    assert after["status"] == "submitted" and after["score"] == 3.0 and after["ended_at"]
    # A new attempt is allowed once the previous one is closed.
    assert (await api.call("POST", f"/api/exams/{exam['id']}/sessions", candidate))[0] == 201


async def test_hidden_scores_stay_hidden_from_the_candidate(api: Api) -> None:
    proctor = await api.staff("proctor1")
    candidate = await api.candidate("cand")
    exam = await api.exam(proctor, show_score=False)
    await api.enrol(proctor, exam["id"], "cand")
    session = await api.ok("POST", f"/api/exams/{exam['id']}/sessions", candidate)
    result = await api.ok(
        "POST", "/submit", candidate, json={"session_id": session["session_id"], "answers": []}
    )
    assert result["score"] is None and result["max_score"] is None


async def test_late_submit_is_refused_and_autosaved_answers_count(api: Api) -> None:
    _, candidate, exam = await _exam_with_candidate(api)
    session = await api.ok("POST", f"/api/exams/{exam['id']}/sessions", candidate)
    sid = session["session_id"]
    q0 = exam["questions"][0]["id"]
    saved = await api.ok(
        "PUT",
        f"/api/sessions/{sid}/answers",
        candidate,
        json={"answers": [{"question_id": q0, "answer": "4"}]},
    )
    assert saved == {"session_id": sid, "saved": 1}

    services = api.client.app[SERVICES]
    async with services.db() as db:
        row = await db.get(ExamSession, sid)
        assert row is not None
        row.deadline_at = utcnow() - timedelta(minutes=5)  # the server's clock has run out
        await db.commit()

    status, body = await api.call(
        "POST",
        "/submit",
        candidate,
        json={"session_id": sid, "answers": [{"question_id": q0, "answer": "3"}]},
    )
    assert status == 409 and body["error"]["code"] == "deadline_passed"
    after = await api.ok("GET", f"/api/sessions/{sid}", candidate)
    assert (
        after["status"] == "expired" and after["score"] == 2.0
    )  # the autosaved "4", not the late "3"


async def test_submit_refuses_questions_from_another_exam(api: Api) -> None:
    proctor, candidate, exam = await _exam_with_candidate(api)
    other = await api.exam(proctor, title="Other")
    session = await api.ok("POST", f"/api/exams/{exam['id']}/sessions", candidate)
    status, body = await api.call(
        "POST",
        "/submit",
        candidate,
        json={
            "session_id": session["session_id"],
            "answers": [{"question_id": other["questions"][0]["id"], "answer": "4"}],
        },
    )
    assert status == 422 and body["error"]["code"] == "unknown_question"
    assert (await api.ok("GET", f"/api/sessions/{session['session_id']}", candidate))[
        "status"
    ] == "active"


async def test_candidates_see_only_their_own_sessions_and_alerts(api: Api) -> None:
    proctor, alice, exam = await _exam_with_candidate(api, "alice")
    bob = await api.candidate("bob")
    await api.enrol(proctor, exam["id"], "bob")
    alice_session = await api.ok("POST", f"/api/exams/{exam['id']}/sessions", alice)
    bob_session = await api.ok("POST", f"/api/exams/{exam['id']}/sessions", bob)

    services = api.client.app[SERVICES]
    async with services.db() as db:
        db.add(
            Alert(
                incident_id="a" * 32,
                session_id=alice_session["session_id"],
                exam_id=exam["id"],
                kind="no_face",
                severity="high",
                state="ended",
                started_at=utcnow(),
                message="no face",
            )
        )
        await db.commit()

    assert (await api.call("GET", f"/api/sessions/{alice_session['session_id']}", bob))[0] == 404
    own = await api.ok("GET", "/api/sessions", bob)
    assert [s["session_id"] for s in own["sessions"]] == [bob_session["session_id"]]
    assert (await api.ok("GET", "/alerts", bob))["alerts"] == []
    bob_view = await api.ok("GET", f"/alerts?session_id={alice_session['session_id']}", bob)
    assert bob_view["total"] == 0
    alice_view = await api.ok("GET", "/alerts", alice)
    assert [a["kind"] for a in alice_view["alerts"]] == ["no_face"]
    alert_id = alice_view["alerts"][0]["id"]
    assert (await api.call("GET", f"/api/alerts/{alert_id}", bob))[0] == 404
    # Candidates cannot review, and proctors of other exams cannot see.
    assert (
        await api.call(
            "PATCH", f"/api/alerts/{alert_id}", alice, json={"review_status": "dismissed"}
        )
    )[0] == 403
    stranger = await api.staff("proctor9")
    assert (await api.call("GET", f"/api/alerts/{alert_id}", stranger))[0] == 404
    assert (
        await api.call("POST", f"/api/sessions/{bob_session['session_id']}/terminate", stranger)
    )[0] == 404
    # Candidates cannot submit for someone else.
    status, _ = await api.call(
        "POST", "/submit", bob, json={"session_id": alice_session["session_id"], "answers": []}
    )
    assert status == 404


async def test_proctor_reviews_alerts_and_filters_history(api: Api) -> None:
    proctor, candidate, exam = await _exam_with_candidate(api)
    session = await api.ok("POST", f"/api/exams/{exam['id']}/sessions", candidate)
    sid = session["session_id"]
    services = api.client.app[SERVICES]
    now = utcnow()
    async with services.db() as db:
        for i, (kind, severity) in enumerate(
            [("no_face", "high"), ("talking", "low"), ("no_face", "medium")]
        ):
            db.add(
                Alert(
                    incident_id=f"{i:032d}",
                    session_id=sid,
                    exam_id=exam["id"],
                    kind=kind,
                    severity=severity,
                    state="ended",
                    started_at=now + timedelta(seconds=i),
                    ended_at=now + timedelta(seconds=i + 5),
                    message=kind,
                )
            )
        await db.commit()

    page = await api.ok("GET", f"/alerts?exam_id={exam['id']}", proctor)
    assert page["total"] == 3
    assert [a["severity"] for a in page["alerts"]] == ["medium", "low", "high"]  # newest first
    no_face = await api.ok("GET", "/alerts?kind=no_face&limit=1", proctor)
    assert no_face["total"] == 2 and len(no_face["alerts"]) == 1
    since = (now + timedelta(seconds=0.5)).isoformat()
    assert (await api.ok("GET", "/alerts", proctor, params={"since": since}))["total"] == 2

    target = page["alerts"][2]["id"]
    reviewed = await api.ok(
        "PATCH",
        f"/api/alerts/{target}",
        proctor,
        json={"review_status": "confirmed", "note": "clearly absent"},
    )
    assert reviewed["review_status"] == "confirmed" and reviewed["review_note"] == "clearly absent"
    confirmed = await api.ok("GET", "/alerts?review_status=confirmed", proctor)
    assert [a["id"] for a in confirmed["alerts"]] == [target]

    terminated = await api.ok("POST", f"/api/sessions/{sid}/terminate", proctor)
    assert terminated["status"] == "terminated"
    assert (await api.call("POST", "/submit", candidate, json={"session_id": sid, "answers": []}))[
        0
    ] == 409


async def test_one_question_twice_in_one_save_keeps_the_later_answer(api: Api) -> None:
    # Found by fuzzing: the second row for the question broke the unique index (a 500).
    _, candidate, exam = await _exam_with_candidate(api)
    session = await api.ok("POST", f"/api/exams/{exam['id']}/sessions", candidate)
    sid = session["session_id"]
    q0 = exam["questions"][0]["id"]
    answers = [{"question_id": q0, "answer": "3"}, {"question_id": q0, "answer": "4"}]
    await api.ok("PUT", f"/api/sessions/{sid}/answers", candidate, json={"answers": answers})
    result = await api.ok("POST", "/submit", candidate, json={"session_id": sid, "answers": []})
    assert result["score"] == 2.0  # the later "4"


async def test_ids_beyond_any_row_are_a_400_not_a_database_error(api: Api) -> None:
    # Found by fuzzing: ids past 64 bits reached SQLite (OverflowError, a 500).
    admin = await api.admin()
    huge = "461079268772877388742656"
    for method, path in [
        ("GET", f"/api/exams/{huge}"),
        ("GET", f"/api/alerts/{huge}"),
        ("PATCH", f"/api/alerts/{huge}"),
        ("POST", f"/api/sessions/{huge}/terminate"),
        ("GET", "/api/sessions/-5"),
        ("GET", f"/api/sessions/{2**31}"),
    ]:
        status, body = await api.call(method, path, admin, json={"review_status": "pending"})
        assert status == 400 and body["error"]["code"] == "bad_path", (path, body)
    for query in (f"offset={huge}", f"exam_id={huge}", "session_id=0"):
        status, body = await api.call("GET", f"/alerts?{query}", admin)
        assert status == 422 and body["error"]["code"] == "invalid_query", (query, body)
    status, body = await api.call("GET", f"/api/sessions?exam_id={huge}", admin)
    assert status == 422
