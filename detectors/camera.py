"""Camera problems visible in the picture itself: covered, too dark, frozen.

All checks run on a tiny grey thumbnail (64x48, area-averaged), which costs well under a
millisecond and averages away most sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMB_SIZE = (64, 48)


@dataclass(frozen=True, slots=True)
class CameraSettings:
    """Thresholds for `CameraCheck`; grey levels are 0..255."""

    dark_level: float = 40.0
    """Too dark (or a lens cap) when even the brightest parts (98th percentile) stay
    below this. A percentile, not the mean: a lit face against a black wall is fine."""
    covered_std: float = 6.0
    """Brightness spread below this: one flat colour (a hand, tape or a finger)."""
    frozen_diff: float = 0.03
    """Mean absolute grey difference below which two thumbnails count as the same picture.
    A frozen feed repeats the same decoded picture (difference ~0); a live webcam of a
    still person differs by more (sensor noise survives the averaging at ~0.2+)."""
    frozen_seconds: float = 5.0
    """How long the picture must stay the same to count as frozen."""


@dataclass(frozen=True, slots=True)
class CameraState:
    """Result of one `CameraCheck.update`."""

    dark: bool
    covered: bool
    frozen: bool
    brightness: float
    contrast: float

    @property
    def blocked(self) -> bool:
        return self.dark or self.covered or self.frozen

    def describe(self) -> str:
        parts = [
            name
            for name, on in (
                ("camera too dark", self.dark),
                ("camera covered", self.covered),
                ("picture frozen", self.frozen),
            )
            if on
        ]
        return ", ".join(parts)


class CameraCheck:
    """Per-session: remembers the picture to spot a frozen feed."""

    def __init__(self, settings: CameraSettings | None = None) -> None:
        self.settings = settings or CameraSettings()
        self._anchor: np.ndarray | None = None
        self._anchor_ts = 0.0

    def update(self, bgr: np.ndarray, ts: float) -> CameraState:
        s = self.settings
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        thumb = cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
        mean, std = float(thumb.mean()), float(thumb.std())
        highlights = float(np.percentile(thumb, 98))
        # Compare with the first frame of the current run of unchanged frames, not with
        # the previous frame, so that a slow drift still counts as change.
        if (
            self._anchor is None
            or ts < self._anchor_ts
            or float(np.abs(thumb - self._anchor).mean()) > s.frozen_diff
        ):
            self._anchor, self._anchor_ts = thumb, ts
        frozen = ts - self._anchor_ts >= s.frozen_seconds
        return CameraState(
            dark=highlights < s.dark_level,
            covered=std < s.covered_std,
            frozen=frozen,
            brightness=mean,
            contrast=std,
        )
