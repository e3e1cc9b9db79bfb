"""Every error leaves the server as JSON `{"error": {"code", "message"}}` with a 4xx/5xx status."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from api.services import SERVICES
from live.protocol import LiveRefused, Refusal

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers: dict[str, str] = {}
        """Sent with the error (e.g. `Content-Range` on a 416)."""


def bad_request(code: str, message: str, **details: Any) -> ApiError:
    return ApiError(400, code, message, **details)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


def forbidden(message: str = "you may not do this") -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(what: str) -> ApiError:
    # Also used for things that exist but the caller may not see: do not reveal which.
    return ApiError(404, "not_found", f"{what} not found")


def conflict(code: str, message: str) -> ApiError:
    return ApiError(409, code, message)


def unprocessable(code: str, message: str, **details: Any) -> ApiError:
    return ApiError(422, code, message, **details)


def error_response(status: int, code: str, message: str, **details: Any) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(details)
    return web.json_response({"error": body}, status=status)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


BUSY_RETRY_SECONDS = 15
"""Retry-After of a refused new live candidate: long enough for the load to change, short
for a person waiting at the page."""

REFUSAL_STATUS: dict[Refusal, int] = {
    Refusal.SERVER_BUSY: 503,
    Refusal.UNAVAILABLE: 503,
    Refusal.INVALID_OFFER: 400,
    Refusal.NOT_LIVE: 409,
    Refusal.VIEWER_LIMIT: 409,
    Refusal.NOT_AN_IMAGE: 422,
}
"""The live pipeline's refusals as HTTP: the only place they are mapped."""


def refusal_error(refused: LiveRefused) -> ApiError:
    if refused.reason is Refusal.SERVER_BUSY:
        message = f"{refused.message}; try again in {BUSY_RETRY_SECONDS} s"
        return ApiError(503, refused.reason.value, message, retry_after=BUSY_RETRY_SECONDS)
    return ApiError(REFUSAL_STATUS[refused.reason], refused.reason.value, refused.message)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except (ApiError, LiveRefused) as caught:
        error = refusal_error(caught) if isinstance(caught, LiveRefused) else caught
        response = error_response(error.status, error.code, error.message, **error.details)
        if isinstance(error, ApiError):
            response.headers.update(error.headers)
        if error.status in (429, 503) and "retry_after" in error.details:
            response.headers["Retry-After"] = str(error.details["retry_after"])
        return response
    except web.HTTPException as error:
        if error.status < 400:
            raise
        message = error.text or error.reason
        if error.status == 413:
            limit = request.app[SERVICES].settings.max_body_bytes
            message = f"the request body is larger than the limit of {limit} bytes"
        code = _HTTP_CODES.get(error.status, "http_error")
        return error_response(error.status, code, message or error.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "the server hit an unexpected error")
