"""A whole server killed mid-exam (kill -9: nothing of its clean-up runs) leaves incidents
open; the next start ends them as interrupted, and the attempt carries on."""

from __future__ import annotations

import time
from pathlib import Path

from tests.clips import DATA
from tests.server_process import ServerProcess
from tests.test_fuzz_api import call, login, seed, upload


def test_open_incidents_of_a_killed_server_are_ended_on_the_next_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServerProcess(data) as server:  # live workers, as deployed
        tokens = seed(server.base)  # leaves a no_face incident open on an empty chair
        [open_alert] = call(server.base, "GET", "/alerts", tokens["proctor"])["alerts"]
        assert open_alert["state"] != "ended" and open_alert["ended_at"] is None
        server.kill()
    with ServerProcess(data) as again:
        proctor = login(again.base, "pat", "pat-password-1")
        [ended] = call(again.base, "GET", "/alerts", proctor)["alerts"]
        assert ended["id"] == open_alert["id"] and ended["state"] == "ended"
        assert ended["message"].endswith("(monitoring interrupted)")
        assert ended["ended_at"] >= ended["started_at"]
        # The attempt is still active; its candidate streams again and is watched again.
        candidate = login(again.base, "cora", "cora-password-1")
        [attempt] = call(again.base, "GET", "/api/sessions", candidate)["sessions"]
        assert attempt["status"] == "active"
        for _ in range(3):
            upload(again.base, candidate, attempt["session_id"], DATA / "coffee.jpg")
            time.sleep(0.5)
        alerts = call(again.base, "GET", "/alerts", proctor)["alerts"]
        assert [a["state"] for a in alerts] == ["started", "ended"]  # newest first
        assert "ended the open incidents of 1 attempts" in again.output()
