"""Bad input on every endpoint: always a 4xx with a JSON error body, never a 500."""

from __future__ import annotations

import io
from typing import Any

import pytest

from api.routes import OPERATIONS
from tests.conftest import Api

JSON_BODY_ROUTES = [(op.method, op.path) for op in OPERATIONS if op.body is not None]


async def _world(api: Api) -> dict[str, Any]:
    """An admin, a proctor, a candidate with an active attempt: ids to put in paths."""
    admin = await api.admin()
    proctor = await api.staff("proctor1")
    candidate = await api.candidate("cand1")
    exam = await api.exam(proctor)
    await api.enrol(proctor, exam["id"], "cand1")
    session = await api.ok("POST", f"/api/exams/{exam['id']}/sessions", candidate)
    user = await api.ok("GET", "/api/me", candidate)
    return {
        "tokens": {"admin": admin, "proctor": proctor, "candidate": candidate},
        "ids": {
            "exam_id": exam["id"],
            "session_id": session["session_id"],
            "alert_id": 1,
            "user_id": user["id"],
        },
    }


def _path(template: str, ids: dict[str, int]) -> str:
    return template.format(**ids)


def _token(world: dict[str, Any], method: str, path: str) -> str | None:
    op = next(o for o in OPERATIONS if o.method == method and o.path == path)
    if op.roles is None:
        return None
    role = "candidate" if "candidate" in op.roles else op.roles[0]
    return str(world["tokens"][role])


def assert_json_error(status: int, body: Any, expected: set[int]) -> None:
    assert status in expected, (status, body)
    assert isinstance(body, dict) and set(body["error"]) >= {"code", "message"}, body
    assert body["error"]["message"]


@pytest.mark.parametrize(("method", "path"), JSON_BODY_ROUTES)
async def test_malformed_missing_and_mistyped_json(api: Api, method: str, path: str) -> None:
    world = await _world(api)
    url, token = _path(path, world["ids"]), _token(world, method, path)
    for raw in (b"{not json", b"", b"[1, 2", "\udcff".encode("utf-8", "surrogatepass")):
        status, body = await api.call(
            method, url, token, data=raw, headers={"Content-Type": "application/json"}
        )
        assert_json_error(status, body, {400, 404, 409, 422})
    values: list[Any] = [[], "a string", 42, None, {"unexpected": 1}]
    for value in values:
        status, body = await api.call(method, url, token, json=value)
        assert_json_error(status, body, {400, 404, 409, 422})


MISTYPED = [
    ("/register", {"username": 123, "password": "password1"}),
    ("/register", {"username": "ok_name", "password": "short"}),
    ("/register", {"username": "bad name!", "password": "password1"}),
    ("/login", {"username": "x", "password": ["p"]}),
    ("/api/exams", {"title": "t", "duration_minutes": "30"}),
    ("/api/exams", {"title": "t", "duration_minutes": 0}),
    (
        "/api/exams",
        {
            "title": "t",
            "duration_minutes": 10,
            "questions": [{"text": "q", "options": ["a"], "answer": "b"}],
        },
    ),
    ("/api/exams", {"title": "t", "duration_minutes": 10, "rules_preset": "paranoid"}),
    (
        "/api/exams",
        {"title": "t", "duration_minutes": 10, "rules_overrides": {"no_face": {"start_after": -1}}},
    ),
    (
        "/api/exams",
        {"title": "t", "duration_minutes": 10, "rules_overrides": {"teleport": {"start_after": 1}}},
    ),
    ("/submit", {"session_id": "1", "answers": []}),
    ("/submit", {"session_id": 1, "answers": [{"question_id": 1}]}),
]


@pytest.mark.parametrize(("path", "payload"), MISTYPED)
async def test_mistyped_fields_are_named_in_the_error(api: Api, path: str, payload: Any) -> None:
    world = await _world(api)
    token = _token(world, "POST", path)
    status, body = await api.call("POST", path, token, json=payload)
    assert_json_error(status, body, {422})


async def test_wrong_types_in_query_and_path(api: Api) -> None:
    world = await _world(api)
    token = world["tokens"]["proctor"]
    for query in (
        "limit=0",
        "limit=abc",
        "since=yesterday",
        "severity=apocalyptic",
        "offset=-1",
        "bogus=1",
        "limit=1&limit=2",
    ):
        status, body = await api.call("GET", f"/alerts?{query}", token)
        assert_json_error(status, body, {422})
    status, body = await api.call("GET", "/api/sessions/abc", token)
    assert_json_error(status, body, {400})
    status, body = await api.call("GET", "/api/sessions/999999", token)
    assert_json_error(status, body, {404})
    status, body = await api.call("GET", "/no/such/route")
    assert_json_error(status, body, {404})
    status, body = await api.call("DELETE", "/login")
    assert_json_error(status, body, {405})


async def test_oversized_body_is_refused(api: Api) -> None:
    huge = b'{"username": "' + b"a" * (9 * 1024 * 1024) + b'", "password": "x"}'
    status, body = await api.call(
        "POST", "/register", data=huge, headers={"Content-Type": "application/json"}
    )
    assert_json_error(status, body, {413})


async def test_sql_looking_strings_are_stored_verbatim(api: Api) -> None:
    world = await _world(api)
    proctor = world["tokens"]["proctor"]
    nasty = "Robert'); DROP TABLE users;--"
    exam = await api.exam(
        proctor,
        title=nasty,
        description="1' OR '1'='1",
        questions=[{"text": nasty, "options": [nasty, "x"], "answer": nasty}],
    )
    fetched = await api.ok("GET", f"/api/exams/{exam['id']}", proctor)
    assert fetched["title"] == nasty and fetched["description"] == "1' OR '1'='1"
    assert fetched["questions"][0]["options"] == [nasty, "x"]
    await api.ok(
        "POST",
        "/register",
        json={"username": "obrien", "password": "' OR 1=1 --", "full_name": nasty},
    )
    assert (await api.ok("POST", "/login", json={"username": "obrien", "password": "' OR 1=1 --"}))[
        "user"
    ]["full_name"] == nasty
    status, _ = await api.call(
        "POST", "/login", json={"username": "obrien' --", "password": "' OR 1=1 --"}
    )
    assert status == 401
    page = await api.ok("GET", "/alerts", proctor, params={"kind": "x' OR '1'='1"})
    assert page["total"] == 0


async def test_upload_frame_validates_its_form(api: Api) -> None:
    world = await _world(api)
    token, sid = world["tokens"]["candidate"], world["ids"]["session_id"]
    status, body = await api.call("POST", "/upload-frame", token, json={"session_id": sid})
    assert_json_error(status, body, {415})
    status, body = await api.call(
        "POST",
        "/upload-frame",
        token,
        data={"session_id": str(sid), "image": io.BytesIO(b"GIF89a not a jpeg")},
    )
    assert_json_error(status, body, {415, 422})
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("session_id", str(sid))
    form.add_field("image", b"this is not an image", filename="x.jpg", content_type="image/jpeg")
    status, body = await api.call("POST", "/upload-frame", token, data=form)
    assert_json_error(status, body, {422})
    form = aiohttp.FormData()
    form.add_field("session_id", "seven")
    form.add_field("image", b"\xff\xd8\xff", filename="x.jpg", content_type="image/jpeg")
    status, body = await api.call("POST", "/upload-frame", token, data=form)
    assert_json_error(status, body, {422})
    form = aiohttp.FormData()
    form.add_field(
        "image",
        b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024),
        filename="x.jpg",
        content_type="image/jpeg",
    )
    form.add_field("session_id", str(sid))
    status, body = await api.call("POST", "/upload-frame", token, data=form)
    assert_json_error(status, body, {413})


async def test_a_malformed_part_header_is_a_400(api: Api) -> None:
    # Found by fuzzing: aiohttp's InvalidHeader from the multipart reader was a 500.
    world = await _world(api)
    token = world["tokens"]["candidate"]
    body = (
        b"--b\r\nContent-Disposition: form-data; name=\"session_id\"\r\n"
        b"Bad Header Line\x00\r\n\r\n1\r\n--b--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    status, answer = await api.call("POST", "/upload-frame", token, data=body, headers=headers)
    assert_json_error(status, answer, {400})
    assert answer["error"]["code"] == "malformed_form"
