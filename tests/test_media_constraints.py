"""What the page is told to capture and send."""

from __future__ import annotations

import json

import pytest

from media.constraints import CaptureProfile


def test_default_profile_is_vga_at_5_fps_and_150_kbits() -> None:
    settings = CaptureProfile().page_settings()
    video = settings["constraints"]["video"]
    assert video["width"] == {"ideal": 640, "max": 640}
    assert video["height"] == {"ideal": 480, "max": 480}
    assert video["frameRate"] == {"ideal": 5, "max": 5}
    assert settings["constraints"]["audio"]["channelCount"] == 1
    assert settings["sender"]["video"] == {"maxBitrate": 150_000, "maxFramerate": 5}
    # The REST layer returns it as JSON with the answer.
    assert json.loads(json.dumps(settings)) == settings


def test_custom_profile_and_validation() -> None:
    profile = CaptureProfile(width=480, height=360, frame_rate=10, video_kbps=300)
    assert profile.media_constraints()["video"]["width"]["max"] == 480
    assert profile.sender_parameters()["video"]["maxBitrate"] == 300_000
    with pytest.raises(ValueError, match="frame_rate"):
        CaptureProfile(frame_rate=0)
