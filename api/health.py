"""For load balancers and monitoring: `GET /healthz` (the process answers), `GET /readyz`
(the database, Redis when clustered, and the live pipeline answer: send candidates here)
and `GET /metrics` (Prometheus text: this node's live candidates and capacity, refusals,
analyses, analysis and alert-delivery latency, store failures, worker restarts, HTTP request
durations). None needs a token; keep them, like /internal/, off the public internet (the
example proxy configuration does)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from pydantic import BaseModel
from sqlalchemy import text

from api.errors import ApiError
from api.operation import Call
from api.services import Services
from live.counters import HistogramOut
from live.protocol import LiveStats, Stats

__all__ = ["HEALTH_CHECK_SECONDS", "healthz", "metrics", "metrics_middleware", "readyz"]

HEALTH_CHECK_SECONDS = 2.0
"""Each readiness check gets this long: a check that hangs is a failed one."""


class HealthOut(BaseModel):
    status: str
    node: str


class ReadyOut(BaseModel):
    ready: bool
    node: str
    checks: dict[str, str]
    """Each dependency: "ok" or what went wrong."""


async def healthz(call: Call) -> HealthOut:
    return HealthOut(status="ok", node=call.services.settings.resolved_node_id)


async def readyz(call: Call) -> ReadyOut:
    services = call.services
    checks: dict[str, Callable[[], Awaitable[object]]] = {"database": lambda: _ping(services)}
    if services.node is not None:
        checks["redis"] = services.node.redis.ping
    checks["live"] = lambda: services.pipeline.ask(Stats())
    results = {}
    for name, check in checks.items():
        try:
            async with asyncio.timeout(HEALTH_CHECK_SECONDS):
                await check()
            results[name] = "ok"
        except Exception as error:  # any failure means not ready; say which
            results[name] = f"{type(error).__name__}: {error}"[:200] or "failed"
    failed = {name: result for name, result in results.items() if result != "ok"}
    if failed:
        details = "; ".join(f"{name}: {result}" for name, result in failed.items())
        raise ApiError(503, "not_ready", f"not ready: {details}", checks=results)
    return ReadyOut(ready=True, node=services.settings.resolved_node_id, checks=results)


async def _ping(services: Services) -> None:
    async with services.db() as db:
        await db.execute(text("SELECT 1"))


REQUEST_SECONDS = "proctor_http_request_seconds"


def http_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        REQUEST_SECONDS,
        "HTTP request durations by route and status",
        ["method", "route", "status"],
        registry=registry,
    )


def metrics_middleware(
    histogram: Histogram,
) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def timed(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            route = request.match_info.route.resource
            name = route.canonical if route is not None else "unmatched"
            histogram.labels(request.method, name, str(status)).observe(
                time.perf_counter() - started
            )

    return timed


class _LiveCollector:
    """The live figures of the last `Stats`, as Prometheus metric families."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.stats: LiveStats | None = None
        self.capacity = 0

    def collect(self) -> Iterable[Metric]:
        stats = self.stats
        if stats is None:
            return
        labels = ["node"]
        values = [self.node]

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=labels)
            family.add_metric(values, value)
            return family

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(name, doc, labels=labels)
            family.add_metric(values, value)
            return family

        def histogram(name: str, doc: str, h: HistogramOut) -> HistogramMetricFamily:
            family = HistogramMetricFamily(name, doc, labels=labels)
            bounds = [*(str(b) for b in h.bounds), "+Inf"]
            family.add_metric(values, list(zip(bounds, h.cumulative, strict=True)), h.total)
            return family

        held = stats.live_sessions
        yield gauge("proctor_live_candidates", "Live candidates this node holds", held)
        yield gauge(
            "proctor_live_capacity",
            "Most live candidates this node takes (PROCTOR_MAX_LIVE_SESSIONS; 0: no cap)",
            self.capacity,
        )
        yield gauge("proctor_analysis_load", "Analysers' busy share, 5 s", stats.analysis_load)
        yield gauge("proctor_loop_lag_seconds", "Worst loop lateness, 5 s", stats.loop_lag_s)
        yield counter("proctor_offers_refused", "New candidates told to wait", stats.offers_refused)
        yield counter("proctor_analyses", "Frames analysed", stats.analyses)
        yield counter("proctor_alert_stores_failed", "Alert events not stored", stats.stores_failed)
        yield counter(
            "proctor_worker_restarts", "Live worker processes restarted", stats.worker_restarts
        )
        yield histogram(
            "proctor_analysis_latency_seconds",
            "From a frame's arrival to its analysis",
            stats.analysis_latency,
        )
        yield histogram(
            "proctor_alert_delivery_seconds",
            "From an incident's event to its storing and sending",
            stats.delivery_latency,
        )


async def metrics(call: Call) -> web.StreamResponse:
    services = call.services
    state = call.request.app[METRICS]
    state.live.stats = await services.pipeline.ask(Stats()) if services.live else None
    state.live.capacity = services.settings.max_live_sessions
    return web.Response(
        body=generate_latest(state.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


class MetricsState:
    def __init__(self, node: str) -> None:
        self.registry = CollectorRegistry()
        self.live = _LiveCollector(node)
        self.registry.register(self.live)
        self.http = http_histogram(self.registry)


METRICS = web.AppKey("metrics", MetricsState)
