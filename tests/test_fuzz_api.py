"""schemathesis against a real server process, driven by the server's own OpenAPI document:
as admin, as a proctor and as a candidate, every check, seeded so a failure reproduces.

A failure prints schemathesis's report, with a curl line for each case."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.clips import DATA
from tests.server_process import ADMIN, ServerProcess

pytestmark = pytest.mark.fuzz

SEED = 20261202
EXAMPLES_PER_OPERATION = 25
"""Per operation and role: about 1,800-2,100 requests a role with the stateful phase."""
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def call(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    request = urllib.request.Request(base + path, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, data, timeout=30) as response:
        return json.loads(response.read() or b"null")


def login(base: str, username: str, password: str) -> str:
    answer = call(base, "POST", "/login", body={"username": username, "password": password})
    return str(answer["access_token"])


def upload(base: str, token: str, session_id: int, photo: Path) -> None:
    boundary = "fuzz-seed-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="session_id"\r\n\r\n'
        f"{session_id}\r\n--{boundary}\r\n"
        f'Content-Disposition: form-data; name="image"; filename="frame.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n"
    ).encode() + photo.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(base + "/upload-frame", body, method="POST")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    with urllib.request.urlopen(request, timeout=60):
        pass


def seed(base: str) -> dict[str, str]:
    """An exam with a proctor, an enrolled candidate, an attempt and an alert with its
    evidence, so that ids exist for the links to follow; the token of each role."""
    admin = login(base, *ADMIN)
    for name, role in (("pat", "proctor"), ("cora", "candidate")):
        user = {"username": name, "password": f"{name}-password-1", "role": role}
        call(base, "POST", "/api/users", admin, user)
    proctor = login(base, "pat", "pat-password-1")
    candidate = login(base, "cora", "cora-password-1")
    question = {"text": "2 + 2?", "options": ["3", "4"], "answer": "4"}
    exam = call(base, "POST", "/api/exams", proctor, {
        "title": "Fuzzed", "duration_minutes": 60, "questions": [question],
        "rules_overrides": {"no_face": {"start_after": 0.5}},
    })  # fmt: skip
    call(base, "POST", f"/api/exams/{exam['id']}/candidates", proctor, {"usernames": ["cora"]})
    session = call(base, "POST", f"/api/exams/{exam['id']}/sessions", candidate)
    for _ in range(3):  # an empty chair for a second: a no_face alert
        upload(base, candidate, session["session_id"], DATA / "coffee.jpg")
        time.sleep(0.5)
    assert call(base, "GET", "/alerts", proctor)["total"] >= 1
    return {"admin": admin, "proctor": proctor, "candidate": candidate}


ENDS_SIGN_INS = ("PATCH /api/users/{user_id}", "POST /logout")
"""Fuzzed last, one after the other: disabling an account ends the seeded users' sign-ins
and signing out revokes the fuzzing token itself, so run earlier they would turn every
later request into a 401 and fuzz nothing."""


def fuzz(base: str, token: str, report: Path, *filters: str) -> tuple[int, str]:
    """Run schemathesis as the token's user, with schemathesis's operation `filters`;
    (test cases generated, its output)."""
    cli = shutil.which("schemathesis")
    assert cli is not None, "schemathesis is installed by scripts/install --dev"
    result = subprocess.run(
        [
            cli, "run", f"{base}/api/openapi.json",
            "-H", f"Authorization: Bearer {token}",
            "--checks", CHECKS,
            "--max-examples", str(EXAMPLES_PER_OPERATION),
            "--seed", str(SEED),
            "--workers", "1",
            "--generation-database", "none",
            "--no-color",
            *filters,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=report,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated is not None, output[-2000:]
    return int(generated.group(1)), output


def test_fuzzing_every_operation_as_every_role_finds_nothing(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data", PROCTOR_LIVE_WORKERS="0") as server:
        tokens = seed(server.base)
        total = 0
        keep_signed_in = [arg for name in ENDS_SIGN_INS for arg in ("--exclude-name", name)]
        for role, token in tokens.items():
            cases, output = fuzz(server.base, token, tmp_path, *keep_signed_in)
            print(f"{role}: {cases} test cases")
            total += cases
        for name in ENDS_SIGN_INS:
            # One operation alone has no links to follow: no stateful phase.
            one = ("--include-name", name, "--phases", "examples,coverage,fuzzing")
            cases, output = fuzz(server.base, tokens["admin"], tmp_path, *one)
            print(f"admin, {name}: {cases} test cases")
            assert cases > 0, output[-2000:]
            total += cases
        assert "Traceback" not in server.output()
    assert total >= 5000, total
