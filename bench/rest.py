"""The benchmark's REST side: accounts, exams and attempts before a run, incidents and
submits after it, all through the server's public API."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import scenario
from server_process import ADMIN

PASSWORD = "candidate-pass-1"
PROCTOR = ("bench-proctor", "proctor-pass-1")
EXAMS = ("webrtc", "upload")
"""The two exams of a run: the live phase's and the upload phase's."""


class Api:
    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.url + path, headers=headers, **kw) as r:
            body = await r.json()
            if not 200 <= r.status < 300:
                raise RuntimeError(f"{method} {path}: HTTP {r.status} {body}")
            return body

    async def login(self, username: str, password: str) -> str:
        body = await self.call("POST", "/login", json={"username": username, "password": password})
        return str(body["access_token"])


@dataclass
class Setup:
    admin: str
    proctor: str
    exams: list[int]
    tokens: list[str]
    usernames: list[str]


async def _create_exams(api: Api, proctor: str, tag: str) -> list[int]:
    exams = []
    for title in EXAMS:
        exam = await api.call(
            "POST",
            "/api/exams",
            proctor,
            json={
                "title": f"load {title} {tag}",
                "duration_minutes": 120,
                "rules_overrides": scenario.RULES,
                "questions": [{"text": "2+2?", "options": ["3", "4"], "answer": "4"}],
            },
        )
        exams.append(int(exam["id"]))
    return exams


async def _enrol_candidates(api: Api, admin: str, usernames: list[str]) -> list[str]:
    """Creates each candidate's account (as an admin or an LMS would: self-registration is
    throttled per address) and enrols the reference photo; returns their tokens."""
    photo = scenario.reference_photo()
    limit = asyncio.Semaphore(2)  # argon2id costs 64 MiB and ~0.1 s per hash

    async def candidate(username: str) -> str:
        async with limit:
            account = {"username": username, "password": PASSWORD, "role": "candidate"}
            await api.call("POST", "/api/users", admin, json=account)
            token = await api.login(username, PASSWORD)
            notice = await api.call("GET", "/api/consent", token)
            await api.call("POST", "/api/me/consent", token, json={"version": notice["version"]})
            await api.call(
                "PUT",
                "/api/me/reference-photo",
                token,
                data=photo,
                headers={"Content-Type": "image/jpeg"},
            )
            return token

    return list(await asyncio.gather(*(candidate(u) for u in usernames)))


async def set_up(api: Api, n: int, tag: str) -> Setup:
    """A proctor, the two exams and `n` enrolled candidates on both."""
    admin = await api.login(*ADMIN)
    await api.call(
        "POST",
        "/api/users",
        admin,
        json={"username": PROCTOR[0], "password": PROCTOR[1], "role": "proctor"},
    )
    proctor = await api.login(*PROCTOR)
    exams = await _create_exams(api, proctor, tag)
    usernames = [f"cand{i:03d}" for i in range(n)]
    tokens = await _enrol_candidates(api, admin, usernames)
    for exam_id in exams:
        await api.call(
            "POST", f"/api/exams/{exam_id}/candidates", proctor, json={"usernames": usernames}
        )
    return Setup(admin, proctor, exams, tokens, usernames)


async def start_sessions(api: Api, setup: Setup, exam_id: int) -> list[int]:
    sessions = []
    for token in setup.tokens:
        body = await api.call("POST", f"/api/exams/{exam_id}/sessions", token)
        sessions.append(int(body["session_id"]))
    return sessions


async def stored_incidents(api: Api, admin: str, exam_id: int) -> dict[int, list[dict[str, Any]]]:
    """Every stored incident of the exam (GET /alerts), per session, with its start on the
    monotonic clock (the server stores wall time; both clocks are this machine's)."""
    offset = time.time() - time.monotonic()
    found: dict[int, list[dict[str, Any]]] = {}
    page = 0
    while page < 100:  # bounded: at most 50,000 incidents
        body = await api.call(
            "GET", f"/alerts?exam_id={exam_id}&limit=500&offset={page * 500}", admin
        )
        for alert in body["alerts"]:
            started = datetime.fromisoformat(alert["started_at"]).timestamp() - offset
            found.setdefault(int(alert["session_id"]), []).append(
                {"incident_id": alert["incident_id"], "kind": alert["kind"], "started": started}
            )
        page += 1
        if page * 500 >= body["total"]:
            break
    return found


async def submit_all(api: Api, setup: Setup, sessions: list[int]) -> None:
    limit = asyncio.Semaphore(8)

    async def submit(token: str, sid: int) -> None:
        async with limit:
            with contextlib.suppress(RuntimeError):
                await api.call("POST", "/submit", token, json={"session_id": sid, "answers": []})

    await asyncio.gather(*(submit(t, s) for t, s in zip(setup.tokens, sessions, strict=True)))
