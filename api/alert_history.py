"""Alert history, review and evidence."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.access import member_exam_ids
from api.audit import AuditAction, record
from api.errors import not_found
from api.operation import Call
from api.schemas import AlertOut, AlertPage, AlertQuery, ReviewBody
from live.session import evidence_key
from storage.alert_store import refresh_risk_score
from storage.models import Alert, ExamSession, Role, User, utcnow
from storage.paging import page, where_given


def alert_out(alert: Alert) -> AlertOut:
    return AlertOut(
        id=alert.id,
        incident_id=alert.incident_id,
        session_id=alert.session_id,
        exam_id=alert.exam_id,
        kind=alert.kind,
        severity=alert.severity,
        state=alert.state,
        started_at=alert.started_at,
        ended_at=alert.ended_at,
        message=alert.message,
        confidence=alert.confidence,
        evidence_url=f"/api/alerts/{alert.id}/evidence" if alert.evidence_file else None,
        review_status=alert.review_status,  # type: ignore[arg-type]
        review_note=alert.review_note,
        reviewed_by=alert.reviewed_by,
        reviewed_at=alert.reviewed_at,
    )


def visible_alerts(user: User) -> Select[Alert]:
    query = select(Alert)
    if user.role == Role.CANDIDATE:
        own = select(ExamSession.id).where(ExamSession.candidate_id == user.id)
        return query.where(Alert.session_id.in_(own))
    if user.role == Role.PROCTOR:
        return query.where(Alert.exam_id.in_(member_exam_ids(user, Role.PROCTOR)))
    return query


async def load_alert(db: AsyncSession, user: User, alert_id: int) -> Alert:
    alert = (
        await db.execute(visible_alerts(user).where(Alert.id == alert_id))
    ).scalar_one_or_none()
    if alert is None:
        raise not_found(f"alert {alert_id}")
    return alert


async def list_alerts(call: Call) -> AlertPage:
    query: AlertQuery = call.query
    statement = where_given(
        visible_alerts(call.caller),
        {
            Alert.session_id: query.session_id,
            Alert.exam_id: query.exam_id,
            Alert.kind: query.kind,
            Alert.severity: query.severity,
            Alert.review_status: query.review_status,
        },
    )
    if query.since is not None:
        statement = statement.where(Alert.started_at >= query.since)
    if query.until is not None:
        statement = statement.where(Alert.started_at < query.until)
    async with call.services.db() as db:
        order = [Alert.started_at.desc(), Alert.id.desc()]
        total, rows = await page(db, statement, order, query.limit, query.offset)
        alerts = [alert_out(a) for a in rows]
    return AlertPage(alerts=alerts, total=total, limit=query.limit, offset=query.offset)


async def get_alert(call: Call) -> AlertOut:
    async with call.services.db() as db:
        return alert_out(await load_alert(db, call.caller, call.path_int("alert_id")))


async def review_alert(call: Call) -> AlertOut:
    body: ReviewBody = call.body
    async with call.services.db() as db:
        alert = await load_alert(db, call.caller, call.path_int("alert_id"))
        alert.review_status = body.review_status
        alert.review_note = body.note
        alert.reviewed_by = call.caller.id
        alert.reviewed_at = utcnow()
        record(
            db,
            call.caller,
            AuditAction.REVIEWED_ALERT,
            exam_id=alert.exam_id,
            session_id=alert.session_id,
            alert_id=alert.id,
            review_status=body.review_status,
        )
        await refresh_risk_score(db, alert.session_id)
        await db.commit()
        return alert_out(alert)


async def alert_evidence(call: Call) -> web.StreamResponse:
    async with call.services.db() as db:
        alert = await load_alert(db, call.caller, call.path_int("alert_id"))
    jpeg = None
    if alert.evidence_file:
        jpeg = await call.services.blobs.get(evidence_key(alert.evidence_file))
    if jpeg is None:
        raise not_found("evidence for this alert")
    return web.Response(
        body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, no-store"}
    )
