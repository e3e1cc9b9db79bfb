"""What the candidate's page should capture and send.

Detectors look at 2 frames a second and scale them down (face detection reads 192x192, the
identity descriptor a 150 px chip), so anything the browser sends beyond that is decoded
for nothing: Chromium's default is 640x480 at 30 fps, about 0.7 Mbit/s. The REST layer
returns `CaptureProfile.page_settings()` with the SDP answer; the page passes
`getUserMedia` the `constraints` and may also apply `sender` with
`RTCRtpSender.setParameters`. The answer itself carries `b=AS`/`b=TIAS` for the video
(`signaling.sdp.with_bandwidth`), which browsers obey even if the page does not. The
reference photo is taken before the exam, at the camera's 640x480, not at this size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["CaptureProfile"]


@dataclass(frozen=True, slots=True)
class CaptureProfile:
    """Resolution, frame rate and bitrate asked of the candidate's browser."""

    width: int = 320
    """320x240 (`PROCTOR_CAPTURE_SIZE`): the detectors find the same faces and the same
    identity distances as at 640x480 (0.40 against 0.38 for the same person, 0.82-0.87
    for others, BENCHMARKS.md), and one 2-core server held 50 candidates instead of
    falling behind: the receive work (packets, VP8 decoding, frame hand-offs) shrinks."""
    height: int = 240
    frame_rate: int = 5
    """Analysis samples up to 3 frames a second; 5 keeps the proctor's live view watchable.
    aiortc's receive cost is per RTP packet: with the bitrate below, one server process held
    25 of 25 candidates instead of 7 of 25 at 15 fps and 500 kbit/s (BENCHMARKS.md)."""
    video_kbps: int = 80
    """VP8 at 320x240 and 5 fps: every scripted face swap was still caught at this rate
    (`for_size` scales it for other sizes)."""
    audio_kbps: int = 32
    """Opus mono speech."""
    audio_ptime_ms: int = 120
    """Audio per packet, written into the answer as `a=ptime`. Browsers send 20 ms by
    default: 50 packets a second, more than the video's, and aiortc's cost is per packet.
    Voice detection reads 0.5 s chunks, so 120 ms packets (Opus's longest; Chromium sends
    8.5 a second, tests/test_web_e2e.py) lose nothing and cost a sixth of the packets."""

    screen_frame_rate: int = 2
    """The shared screen is recorded, not analysed: 1-2 pictures a second show what the
    candidate looks at, text included."""
    screen_max_width: int = 1280
    """The screen is sent at the camera's bitrate (the answer's `b=AS` caps every video
    section): at 2 fps a mostly still desktop costs little more than its keyframes."""

    def __post_init__(self) -> None:
        names = ("width", "height", "frame_rate", "video_kbps", "audio_kbps", "audio_ptime_ms")
        for name in names:
            if getattr(self, name) <= 0:
                raise ValueError(f"CaptureProfile.{name} must be positive")

    @classmethod
    def for_size(cls, width: int, height: int) -> CaptureProfile:
        """The profile at another size, its bitrate scaled with the side of the picture
        (80 kbit/s at 320x240, 160 at 640x480)."""
        base = cls()
        scale = math.sqrt(width * height / (base.width * base.height))
        return cls(width=width, height=height, video_kbps=max(40, round(base.video_kbps * scale)))

    def media_constraints(self) -> dict[str, Any]:
        """`MediaStreamConstraints` for `navigator.mediaDevices.getUserMedia`."""
        return {
            "video": {
                "width": {"ideal": self.width, "max": self.width},
                "height": {"ideal": self.height, "max": self.height},
                "frameRate": {"ideal": self.frame_rate, "max": self.frame_rate},
                "facingMode": "user",
            },
            "audio": {
                "channelCount": 1,
                "echoCancellation": True,
                # Noise suppression and gain control reshape the very background voices and
                # levels the speech detector listens for.
                "noiseSuppression": False,
                "autoGainControl": False,
            },
        }

    def screen_constraints(self) -> dict[str, Any]:
        """`MediaTrackConstraints` for the shared screen's track (`applyConstraints`)."""
        return {
            "frameRate": {"max": self.screen_frame_rate},
            "width": {"max": self.screen_max_width},
        }

    def sender_parameters(self) -> dict[str, Any]:
        """`RTCRtpEncodingParameters` for `RTCRtpSender.setParameters`: per kind, and for
        the screen's video sender."""
        return {
            "video": {"maxBitrate": self.video_kbps * 1000, "maxFramerate": self.frame_rate},
            "audio": {"maxBitrate": self.audio_kbps * 1000},
            "screen": {
                "maxBitrate": self.video_kbps * 1000,
                "maxFramerate": self.screen_frame_rate,
            },
        }

    def page_settings(self) -> dict[str, Any]:
        """Everything the page needs, as one JSON-ready dict to return with the answer."""
        constraints = {**self.media_constraints(), "screen": self.screen_constraints()}
        return {"constraints": constraints, "sender": self.sender_parameters()}
