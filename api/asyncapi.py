"""The AsyncAPI 3.0 document of the messages that are not REST, generated from the same
models the server sends and parses: the console WebSocket and the candidate's data channel.
Served at `GET /api/asyncapi.json`; described from the server's side ("send": the server
sends)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from api.console_socket import LIVE_PATH
from api.schemas import ConsoleClosed, ConsoleSnapshot, FocusRequest, SessionUpdate, SnapshotRequest
from live.messages import AlertMessage, Overlay, ProctorMessage
from live.page_events import ClipboardEvent, FocusEvent, FullscreenEvent, ScreenEvent
from signaling.peer import CHANNEL_LABEL

__all__ = ["ASYNCAPI_PATH", "asyncapi_handler", "build_asyncapi"]

ASYNCAPI_PATH = "/api/asyncapi.json"

_CONSOLE_OUT: list[type[BaseModel]] = [
    ConsoleSnapshot,
    SessionUpdate,
    AlertMessage,
    Overlay,
    ProctorMessage,
    ConsoleClosed,
]
_CONSOLE_IN: list[type[BaseModel]] = [FocusRequest, SnapshotRequest]
_PAGE_OUT: list[type[BaseModel]] = [AlertMessage, ProctorMessage]
_PAGE_IN: list[type[BaseModel]] = [FocusEvent, FullscreenEvent, ClipboardEvent, ScreenEvent]


def _reference(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(
        by_alias=True, ref_template="#/components/schemas/{model}", mode="serialization"
    )
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/messages/{model.__name__}"}


def build_asyncapi() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    models = {m.__name__: m for m in _CONSOLE_OUT + _CONSOLE_IN + _PAGE_OUT + _PAGE_IN}

    def refs(group: list[type[BaseModel]]) -> dict[str, dict[str, str]]:
        return {m.__name__: _reference(m, schemas) for m in group}

    console = {**refs(_CONSOLE_OUT), **refs(_CONSOLE_IN)}
    page = {**refs(_PAGE_OUT), **refs(_PAGE_IN)}

    def operation(action: str, channel: str, group: list[type[BaseModel]]) -> dict[str, Any]:
        return {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{m.__name__}"} for m in group],
        }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Proctoring server: live messages",
            "version": "0.1.0",
            "description": "Every message is a JSON object whose `type` says which it is.",
        },
        "channels": {
            "console": {
                "address": LIVE_PATH,
                "title": "The console WebSocket of an exam (proctor of the exam, or admin)",
                "parameters": {"exam_id": {"description": "the exam's id"}},
                "messages": console,
            },
            "dataChannel": {
                "address": CHANNEL_LABEL,
                "title": "The candidate page's WebRTC data channel, labelled 'proctor'",
                "messages": page,
            },
        },
        "operations": {
            "sendToConsole": operation("send", "console", _CONSOLE_OUT),
            "receiveFromConsole": operation("receive", "console", _CONSOLE_IN),
            "sendToPage": operation("send", "dataChannel", _PAGE_OUT),
            "receiveFromPage": operation("receive", "dataChannel", _PAGE_IN),
        },
        "components": {
            "messages": {
                name: {
                    "name": name,
                    "summary": (model.__doc__ or name).strip().split("\n")[0],
                    "payload": {"$ref": f"#/components/schemas/{name}"},
                }
                for name, model in models.items()
            },
            "schemas": schemas,
        },
    }


def asyncapi_handler() -> Callable[[web.Request], Awaitable[web.Response]]:
    document = build_asyncapi()

    async def asyncapi(_request: web.Request) -> web.Response:
        return web.json_response(document)

    return asyncapi
