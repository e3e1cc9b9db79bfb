"""Watching a streaming candidate: live video to proctors (one encode shared by all viewers,
at most `MAX_VIEWERS`), messages over the data channel, thumbnails, on real loopback peers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from api.services import SERVICES
from live.broadcast import MAX_VIEWERS
from signaling.ice import IceSettings
from tests.clips import CandidateClient, Clip, ClipVideoTrack
from tests.conftest import Api
from tests.test_console_api import exam_with_candidate

pytestmark = pytest.mark.webrtc


class Viewer:
    """A proctor's browser stand-in: a receive-only peer pinned to loopback."""

    def __init__(self) -> None:
        self.ice = IceSettings(hosts=("127.0.0.1",))
        self.pc: RTCPeerConnection = self.ice.new_peer_connection()
        self.pc.addTransceiver("video", direction="recvonly")
        self.frames: list[Any] = []
        self.got_frames = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._reader = asyncio.get_running_loop().create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                assert isinstance(frame, VideoFrame)
                self.frames.append((frame.width, frame.height))
                if len(self.frames) >= 10:
                    self.got_frames.set()
        except MediaStreamError:
            pass

    async def offer(self) -> dict[str, str]:
        offer = await self.pc.createOffer()
        self.ice.prepare_gathering(self.pc)
        await self.pc.setLocalDescription(offer)
        return {"sdp": self.pc.localDescription.sdp, "type": "offer"}

    async def accept(self, answer: dict[str, Any]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()


async def test_proctors_watch_message_and_see_thumbnails_of_a_streaming_candidate(
    api: Api,
) -> None:
    proctor, candidate, exam_id, session_id = await exam_with_candidate(api)
    admin = await api.admin()
    client = CandidateClient(ClipVideoTrack(Clip(((0, 20, "candidate"),), fps=15)))
    viewers: list[Viewer] = []
    try:
        answer = await api.ok(
            "POST",
            f"/api/sessions/{session_id}/offer",
            candidate,
            json={"sdp": await client.offer(), "type": "offer"},
        )
        await client.accept_answer(answer["sdp"])
        async with asyncio.timeout(10):
            await client.channel_open.wait()

        # A message reaches the candidate's page over the data channel.
        sent = await api.ok(
            "POST", f"/api/sessions/{session_id}/message", proctor, json={"text": "Eyes here"}
        )
        assert sent["delivered"] is True
        async with asyncio.timeout(5):
            message = json.loads(await client.received.get())
        assert message["type"] == "message" and message["text"] == "Eyes here"
        assert message["from"] == "proctor1"

        # The thumbnail appears once a frame is analysed.
        async with asyncio.timeout(10):
            while (await api.call("GET", f"/api/sessions/{session_id}/thumbnail", proctor))[
                0
            ] != 200:
                await asyncio.sleep(0.2)

        # Full video: several proctors, one encode.
        for token in [proctor, admin, proctor, admin][:MAX_VIEWERS]:
            viewer = Viewer()
            viewers.append(viewer)
            watched = await api.ok(
                "POST", f"/api/sessions/{session_id}/watch", token, json=await viewer.offer()
            )
            assert watched["type"] == "answer" and watched["viewers"] == len(viewers)
            assert "VP8" in watched["sdp"] and "H264" not in watched["sdp"]
            await viewer.accept(watched)
        extra = Viewer()
        status, body = await api.call(
            "POST", f"/api/sessions/{session_id}/watch", proctor, json=await extra.offer()
        )
        await extra.close()
        assert status == 409 and body["error"]["code"] == "viewer_limit"

        async with asyncio.timeout(15):
            await asyncio.gather(*(v.got_frames.wait() for v in viewers))
        for viewer in viewers:
            assert viewer.frames[-1] == (640, 480)

        hub = api.client.app[SERVICES].live
        assert hub is not None
        live = hub.session(session_id)
        assert live is not None
        stats = live.broadcast.stats
        frames_seen = max(len(v.frames) for v in viewers)
        # One encode per frame for all four viewers, not one per viewer.
        assert stats.frames_encoded <= frames_seen + 20, (stats, frames_seen)
        assert live.broadcast.viewer_count == MAX_VIEWERS

        # A viewer who hangs up frees its place.
        await viewers.pop().close()
        async with asyncio.timeout(10):
            while live.broadcast.viewer_count != MAX_VIEWERS - 1:
                await asyncio.sleep(0.1)

        # Ending the attempt hangs up the viewers.
        await api.ok("POST", f"/api/sessions/{session_id}/terminate", proctor)
        async with asyncio.timeout(10):
            while any(v.pc.connectionState != "closed" for v in viewers):
                await asyncio.sleep(0.1)
        assert live.broadcast.viewer_count == 0
        overview = await api.ok("GET", f"/api/exams/{exam_id}/overview", proctor)
        assert overview["sessions"] == []
    finally:
        for viewer in viewers:
            await viewer.close()
        await client.close()


async def test_viewers_follow_a_candidate_who_reconnects(api: Api) -> None:
    proctor, candidate, exam_id, session_id = await exam_with_candidate(api)
    scene = ((0, 30, "candidate"),)

    async def connect() -> CandidateClient:
        client = CandidateClient(ClipVideoTrack(Clip(scene, fps=15)))
        answer = await api.ok(
            "POST",
            f"/api/sessions/{session_id}/offer",
            candidate,
            json={"sdp": await client.offer(), "type": "offer"},
        )
        await client.accept_answer(answer["sdp"])
        return client

    ticket = (await api.ok("POST", "/api/ws-ticket", proctor))["ticket"]
    async with api.client.ws_connect(f"/api/exams/{exam_id}/live?ticket={ticket}") as ws:
        assert (await ws.receive_json())["type"] == "snapshot"
        first = await connect()
        events = []
        async with asyncio.timeout(10):
            while "connected" not in events:
                message = await ws.receive_json()
                if message["type"] == "session":
                    events.append(message["event"])
                    assert message["session"]["session_id"] == session_id
        assert events == ["started", "connected"]
    viewer = Viewer()
    try:
        watched = await api.ok(
            "POST", f"/api/sessions/{session_id}/watch", proctor, json=await viewer.offer()
        )
        await viewer.accept(watched)
        async with asyncio.timeout(15):
            await viewer.got_frames.wait()
        await first.close()
        before = len(viewer.frames)
        second = await connect()  # the page's automatic reconnection: a new offer
        try:
            async with asyncio.timeout(15):
                while len(viewer.frames) < before + 10:
                    await asyncio.sleep(0.1)
        finally:
            await second.close()
    finally:
        await viewer.close()
        await first.close()
