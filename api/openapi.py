"""The OpenAPI 3.1 document, derived from the operation declarations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel

from api.schemas import MAX_ID
from auth.media import MEDIA_COOKIE

if TYPE_CHECKING:
    from api.operation import Operation

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_RANGE_HEADER = {
    "name": "Range",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "bytes=first-last, bytes=first- or bytes=-count (one range)",
}
_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_REASONS = {
    400: "Malformed request",
    401: "Missing, invalid or expired token",
    403: "The caller's role may not do this",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    413: "Body too large",
    416: "The range asked for is beyond the end of the file",
    415: "Wrong content type",
    422: "Invalid fields",
    429: "Too many attempts",
    503: "The server is at its limit now; retry after Retry-After seconds",
}


def _schema(model: type[BaseModel], components: dict[str, Any], mode: str) -> dict[str, Any]:
    schema = model.model_json_schema(
        ref_template="#/components/schemas/{model}",
        mode=mode,  # type: ignore[arg-type]
    )
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    return [
        {"name": name, "in": "query", "required": False, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def build_document(operations: list[Operation]) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {"summary": op.summary, "operationId": op.handler.__name__}
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": _ID_SCHEMA}
            for name in _path_params(op.path)
        ]
        if op.query is not None:
            parameters += _query_parameters(op.query)
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": _schema(op.body, components, "validation")}
                },
            }
        elif op.content is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {kind: {"schema": schema} for kind, schema in op.content.items()},
            }
        responses: dict[str, Any] = {}
        if op.response is not None:
            responses[str(op.status)] = {
                "description": "OK",
                "content": {
                    "application/json": {
                        "schema": _schema(op.response, components, "serialization")
                    }
                },
            }
            if op.links:
                responses[str(op.status)]["links"] = {
                    f"{target}.{parameter}": {
                        "operationId": target,
                        "parameters": {parameter: expression},
                    }
                    for target, parameter, expression in op.links
                }
        elif op.binary_response is not None:
            binary = {op.binary_response: {"schema": {"type": "string", "format": "binary"}}}
            responses[str(op.status)] = {"description": "OK", "content": binary}
            if op.ranges:
                responses["206"] = {"description": "The range asked for", "content": binary}
                parameters.append(_RANGE_HEADER)
                entry["parameters"] = parameters
        errors = set(op.errors) | ({400, 422} if op.body or op.query else set())
        if _path_params(op.path):
            errors.add(400)  # an id that is not one
        if op.body or op.content:
            errors.add(413)  # larger than PROCTOR_MAX_BODY_BYTES
        if op.ranges:
            errors.add(416)
        if op.roles is not None:
            entry["security"] = [{"bearer": []}] + ([{"mediaPass": []}] if op.media_pass else [])
            errors |= {401, 403}
        for status in sorted(errors):
            responses[str(status)] = {
                "description": _REASONS[status],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        entry["responses"] = responses
        if op.roles is not None:
            entry["description"] = f"Roles: {', '.join(op.roles)}."
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Proctoring server", "version": "0.1.0"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "mediaPass": {"type": "apiKey", "in": "cookie", "name": MEDIA_COOKIE},
            },
        },
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def openapi_handler(
    operations: list[Operation],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    document = build_document(operations)

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(document)

    return openapi
