"""What the page is told to capture and send."""

from __future__ import annotations

import json

import pytest

from media.constraints import CaptureProfile


def test_default_profile_is_qvga_at_5_fps_and_80_kbits() -> None:
    settings = CaptureProfile().page_settings()
    video = settings["constraints"]["video"]
    assert video["width"] == {"ideal": 320, "max": 320}
    assert video["height"] == {"ideal": 240, "max": 240}
    assert video["frameRate"] == {"ideal": 5, "max": 5}
    assert settings["constraints"]["audio"]["channelCount"] == 1
    assert settings["sender"]["video"] == {"maxBitrate": 80_000, "maxFramerate": 5}
    # The shared screen (exams that record it): 2 frames/s, at most 1280 wide.
    assert settings["constraints"]["screen"] == {"frameRate": {"max": 2}, "width": {"max": 1280}}
    assert settings["sender"]["screen"] == {"maxBitrate": 80_000, "maxFramerate": 2}
    # The REST layer returns it as JSON with the answer.
    assert json.loads(json.dumps(settings)) == settings


def test_custom_profile_and_validation() -> None:
    profile = CaptureProfile(width=480, height=360, frame_rate=10, video_kbps=300)
    assert profile.media_constraints()["video"]["width"]["max"] == 480
    assert profile.sender_parameters()["video"]["maxBitrate"] == 300_000
    with pytest.raises(ValueError, match="frame_rate"):
        CaptureProfile(frame_rate=0)


def test_other_sizes_scale_the_bitrate_with_the_side() -> None:
    assert CaptureProfile.for_size(320, 240) == CaptureProfile()
    vga = CaptureProfile.for_size(640, 480)
    assert (vga.width, vga.height, vga.video_kbps, vga.frame_rate) == (640, 480, 160, 5)
    assert CaptureProfile.for_size(160, 120).video_kbps == 40
