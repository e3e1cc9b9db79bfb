"""`GET /api/stats/live`: the live pipeline's counters, for admins only."""

from __future__ import annotations

import asyncio

from tests.clips import CandidateClient, Clip, ClipVideoTrack
from tests.conftest import Api
from tests.test_live_pipeline import enrolled_candidate_with_session


async def test_admin_reads_live_counters_others_are_refused(api: Api) -> None:
    token, session_id = await enrolled_candidate_with_session(api, {})
    assert (await api.call("GET", "/api/stats/live", token))[0] == 403
    proctor = await api.login("proctor1", "proctor-pass-123")
    assert (await api.call("GET", "/api/stats/live", proctor))[0] == 403
    client = CandidateClient(ClipVideoTrack(Clip(((0, 30, "candidate"),), fps=15)))
    try:
        answer = await api.ok(
            "POST",
            f"/api/sessions/{session_id}/offer",
            token,
            json={"sdp": await client.offer(), "type": "offer"},
        )
        await client.accept_answer(answer["sdp"])
        admin = await api.admin()
        for _ in range(40):
            stats = await api.ok("GET", "/api/stats/live", admin)
            sessions = {s["session_id"]: s for s in stats["sessions"]}
            counts = sessions.get(session_id, {})
            identity = counts.get("identity") or {}
            analysed, repeated = counts.get("frames_analysed", 0), counts.get("frames_repeated", 0)
            if analysed >= 2 and repeated >= 1 and identity.get("match", 0) >= 1:
                break
            await client.channel_open.wait()
            await asyncio.sleep(0.25)
        live = sessions[session_id]
        assert live["connection_state"] == "connected"
        assert live["frames_received"] > live["frames_analysed"] >= 2
        # The candidate sits still: most samples repeat the analysis of the same picture.
        assert live["frames_repeated"] >= 1
        # The enrolled candidate, well framed: checked once and matched, nothing unusable.
        assert live["identity"] == {"match": 1, "uncertain": 0, "mismatch": 0, "unusable": 0}
    finally:
        await client.close()
