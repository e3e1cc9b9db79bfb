"""The AsyncAPI document describes the messages the console and the page really get: each
message a real console receives validates against the schema of its `type`."""

from __future__ import annotations

import asyncio
from typing import Any

from jsonschema import Draft202012Validator

from tests.conftest import Api
from tests.test_console_api import exam_with_candidate, upload, ws_url


def validators(document: dict[str, Any], channel: str) -> dict[str, list[Draft202012Validator]]:
    """The schemas of the messages of `channel`, by the value of their `type` (a type may
    name one message each way, e.g. the console's snapshot and its request for one)."""
    root = {"components": document["components"]}
    found: dict[str, list[Draft202012Validator]] = {}
    for name in document["channels"][channel]["messages"]:
        kind = document["components"]["schemas"][name]["properties"]["type"]["const"]
        schema = {**root, "$ref": f"#/components/schemas/{name}"}
        found.setdefault(kind, []).append(Draft202012Validator(schema))
    return found


async def test_the_document_covers_both_channels(api: Api) -> None:
    document = await api.ok("GET", "/api/asyncapi.json")
    assert document["asyncapi"] == "3.0.0"
    console = validators(document, "console")
    assert set(console) == {
        "snapshot", "session", "alert", "analysis", "message", "closed", "focus",
    }  # fmt: skip
    page = validators(document, "dataChannel")
    assert set(page) == {"alert", "message", "focus", "fullscreen", "clipboard"}
    assert document["channels"]["console"]["address"] == "/api/exams/{exam_id}/live"


async def test_what_a_real_console_receives_matches_the_document(api: Api) -> None:
    document = await api.ok("GET", "/api/asyncapi.json")
    schemas = validators(document, "console")
    proctor, candidate, exam_id, session_id = await exam_with_candidate(
        api, {"no_face": {"start_after": 0.5}}
    )
    seen: dict[str, dict[str, Any]] = {}
    async with api.client.ws_connect(await ws_url(api, exam_id, proctor)) as ws:
        seen["snapshot"] = await ws.receive_json()
        await ws.send_json({"type": "focus", "session_id": session_id})
        for _ in range(3):  # an empty chair: overlays, then no_face starts
            await upload(api, candidate, session_id, "coffee.jpg")
            await asyncio.sleep(0.4)
        async with asyncio.timeout(10):
            while {"session", "alert", "analysis"} - set(seen):
                message = await ws.receive_json()
                seen.setdefault(message["type"], message)
    for kind, message in seen.items():
        errors = [list(v.iter_errors(message)) for v in schemas[kind]]
        assert any(not e for e in errors), (kind, errors)
    assert seen["alert"]["kind"] == "no_face" and seen["analysis"]["session_id"] == session_id
