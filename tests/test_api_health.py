"""Liveness, readiness and metrics, as a load balancer and Prometheus see them."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from api.services import SERVICES
from tests.conftest import Api
from tests.test_console_api import exam_with_candidate, upload


async def test_health_and_readiness_need_no_token(api: Api) -> None:
    assert (await api.ok("GET", "/healthz"))["status"] == "ok"
    ready = await api.ok("GET", "/readyz")
    assert ready["ready"] is True and ready["checks"] == {"database": "ok", "live": "ok"}


async def test_not_ready_without_the_database(api: Api) -> None:
    await api.client.app[SERVICES].engine.dispose()
    services = api.client.app[SERVICES]
    services.db.kw["bind"] = None  # every new session now fails to reach a database
    status, body = await api.call("GET", "/readyz")
    assert status == 503 and body["error"]["code"] == "not_ready"
    assert body["error"]["checks"]["live"] == "ok"
    assert body["error"]["checks"]["database"] != "ok"


async def test_metrics_count_analyses_alerts_and_requests(api: Api) -> None:
    _, candidate, _, session_id = await exam_with_candidate(api, {"no_face": {"start_after": 0}})
    for _ in range(2):
        await upload(api, candidate, session_id, "coffee.jpg")
    status, body = await api.call("GET", "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    value = {s.name: s.value for f in families.values() for s in f.samples}
    assert value["proctor_live_candidates"] == 1
    assert value["proctor_analyses_total"] == 2
    assert value["proctor_analysis_latency_seconds_count"] == 2
    assert value["proctor_alert_delivery_seconds_count"] >= 1  # no_face started
    assert value["proctor_alert_stores_failed_total"] == 0
    requests = [
        s for s in families["proctor_http_request_seconds"].samples
        if s.name.endswith("_count") and s.labels["route"] == "/upload-frame"
    ]  # fmt: skip
    assert [(s.labels["status"], s.value) for s in requests] == [("200", 2.0)]
