"""Every exception the detectors raise, in one place so callers can import them together."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from detectors.face_quality import FaceQuality


class DetectorError(Exception):
    """Base class for detector errors."""


class ModelFileMissing(DetectorError):
    """A model file is not installed; the message names the package that carries it."""


class ImageDecodeError(DetectorError, ValueError):
    """Bytes handed to `decode_image` are not an image OpenCV can read."""


class EnrolmentError(DetectorError):
    """A reference photo cannot be used for enrolment.

    `code` is stable and machine-readable (`no_face`, `multiple_faces`, or a
    `detectors.face_quality.REFUSALS` code); `message` is meant for the person who uploaded
    the photo; `quality` is what was measured of the face, when there was one face, and
    `failed` every gate it failed (`code` is the first).
    """

    def __init__(
        self,
        code: str,
        message: str,
        quality: FaceQuality | None = None,
        failed: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.quality = quality
        self.failed = failed if failed is not None else [code]

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
