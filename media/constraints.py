"""What the candidate's page should capture and send.

Detectors look at 2 frames a second of 640x480 at most, so anything the browser sends beyond
that is decoded for nothing: Chromium's default is 640x480 at 30 fps, about 0.7 Mbit/s. The
REST layer returns `CaptureProfile().page_settings()` with the SDP answer; the page passes
`getUserMedia` the `constraints` and may also apply `sender` with
`RTCRtpSender.setParameters`. The answer itself carries `b=AS`/`b=TIAS` for the video
(`signaling.sdp.with_bandwidth`), which browsers obey even if the page does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CaptureProfile"]


@dataclass(frozen=True, slots=True)
class CaptureProfile:
    """Resolution, frame rate and bitrate asked of the candidate's browser."""

    width: int = 640
    """Face detection (192x192 input) and the 5-point descriptor need no more than this."""
    height: int = 480
    frame_rate: int = 5
    """Analysis samples 2 frames a second; 5 keeps the proctor's live view watchable.
    aiortc's receive cost is per RTP packet: with the bitrate below, one server process held
    25 of 25 candidates instead of 7 of 25 at 15 fps and 500 kbit/s (BENCHMARKS.md)."""
    video_kbps: int = 150
    """VP8 at 640x480 and 5 fps: every scripted face swap was still caught at this rate."""
    audio_kbps: int = 32
    """Opus mono speech."""
    audio_ptime_ms: int = 120
    """Audio per packet, written into the answer as `a=ptime`. Browsers send 20 ms by
    default: 50 packets a second, more than the video's, and aiortc's cost is per packet.
    Voice detection reads 0.5 s chunks, so 120 ms packets (Opus's longest; Chromium sends
    8.5 a second, tests/test_web_e2e.py) lose nothing and cost a sixth of the packets."""

    def __post_init__(self) -> None:
        names = ("width", "height", "frame_rate", "video_kbps", "audio_kbps", "audio_ptime_ms")
        for name in names:
            if getattr(self, name) <= 0:
                raise ValueError(f"CaptureProfile.{name} must be positive")

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

    def sender_parameters(self) -> dict[str, Any]:
        """Per-kind `RTCRtpEncodingParameters` for `RTCRtpSender.setParameters`."""
        return {
            "video": {"maxBitrate": self.video_kbps * 1000, "maxFramerate": self.frame_rate},
            "audio": {"maxBitrate": self.audio_kbps * 1000},
        }

    def page_settings(self) -> dict[str, Any]:
        """Everything the page needs, as one JSON-ready dict to return with the answer."""
        return {"constraints": self.media_constraints(), "sender": self.sender_parameters()}
