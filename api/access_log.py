"""One line per request, with the real client's address and never a query string.

aiohttp's default access log prints the whole request line, query string included: a
token or ticket in a URL would land in the log. Paths here carry only ids; whatever
follows `?` is left out, always.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from api.forwarded import client_address


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %d %d %.3fs',
            client_address(request) or "-",
            request.method,
            request.path,  # without the query string
            response.status,
            response.body_length,
            time,
        )
