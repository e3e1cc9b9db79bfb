"""Media ingest: reading remote tracks and sampling them for the detectors."""

from media.audio import AudioSampler, AudioStats
from media.constraints import CaptureProfile
from media.consumer import TrackConsumer, TrackDrain
from media.video import VideoSampler, VideoStats

__all__ = [
    "AudioSampler",
    "AudioStats",
    "CaptureProfile",
    "TrackConsumer",
    "TrackDrain",
    "VideoSampler",
    "VideoStats",
]
