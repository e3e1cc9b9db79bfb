"""An operation is declared once: the router, the role check, body and query parsing and the
OpenAPI document are all derived from the same declaration, so they cannot drift apart."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from api.access import authenticate, media_pass_user
from api.errors import ApiError, bad_request, forbidden, unprocessable
from api.schemas import MAX_ID
from api.services import SERVICES, Services
from storage.models import User


@dataclass(slots=True)
class Call:
    """What a handler gets: the request, the caller, and its parsed input."""

    request: web.Request
    services: Services
    user: User | None
    body: Any
    query: Any

    @property
    def caller(self) -> User:
        assert self.user is not None, "only operations with roles have a caller"
        return self.user

    def path_int(self, name: str) -> int:
        return path_id(self.request, name)


def path_id(request: web.Request, name: str) -> int:
    """The id in the path, or a 400 saying why it cannot name anything."""
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or not 1 <= int(raw) <= MAX_ID:
        message = f"{name} must be an integer from 1 to {MAX_ID}, got {raw[:40]!r}"
        raise bad_request("bad_path", message)
    return int(raw)


Handler = Callable[[Call], Awaitable[BaseModel | web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    roles: tuple[str, ...] | None
    """Roles allowed to call; None for a public operation. Ownership is the handler's check."""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    content: dict[str, Any] | None = None
    """Content type -> JSON Schema of a non-JSON body (files), read by the handler itself."""
    binary_response: str | None = None
    """Content type of a non-JSON response (e.g. an evidence JPEG)."""
    errors: tuple[int, ...] = ()
    media_pass: bool = False
    """Also accepts the recording pass cookie (`auth.media`) instead of the bearer header:
    for a video element, which cannot send headers."""
    ranges: bool = False
    """The binary response honours `Range: bytes=...` (206, 416)."""
    links: tuple[tuple[str, str, str], ...] = ()
    """OpenAPI links from the success response: (the target's handler name, its path
    parameter, the runtime expression giving it), e.g. ("get_exam", "exam_id",
    "$response.body#/id"). Clients and fuzzers follow them from one call to the next."""


def format_validation_error(error: ValidationError) -> tuple[str, list[dict[str, Any]]]:
    problems = []
    for item in error.errors(include_url=False, include_context=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"]) or "body"
        problems.append({"field": location, "problem": item["msg"]})
    summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
    return summary, problems


def _parse(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        summary, problems = format_validation_error(error)
        raise unprocessable(
            "invalid_" + where, f"invalid {where}: {summary}", problems=problems
        ) from None


async def _read_json(request: web.Request) -> Any:
    if not request.can_read_body:
        raise bad_request("missing_body", "this operation needs a JSON body")
    raw = await request.read()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise bad_request("malformed_json", f"the body is not valid JSON: {error}") from None


def bind(operation: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def route(request: web.Request) -> web.StreamResponse:
        services = request.app[SERVICES]
        user = None
        if operation.roles is not None:
            if operation.media_pass and "Authorization" not in request.headers:
                user = await media_pass_user(request, services, path_id(request, "session_id"))
            else:
                user = await authenticate(request, services)
            if user.role not in operation.roles:
                raise forbidden(f"this needs the role {' or '.join(operation.roles)}")
        body = None
        if operation.body is not None:
            body = _parse(operation.body, await _read_json(request), "body")
        query = None
        if operation.query is not None:
            query = _parse(operation.query, _query_dict(request), "query")
        result = await operation.handler(Call(request, services, user, body, query))
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result.model_dump(mode="json"), status=operation.status)

    route.__name__ = operation.handler.__name__
    return route


def _query_dict(request: web.Request) -> dict[str, str]:
    repeated = [key for key in request.query if len(request.query.getall(key)) > 1]
    if repeated:
        raise ApiError(422, "invalid_query", f"query parameter {repeated[0]!r} is given twice")
    return dict(request.query)
