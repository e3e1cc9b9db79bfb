"""Every exception the detectors raise, in one place so callers can import them together."""

from __future__ import annotations


class DetectorError(Exception):
    """Base class for detector errors."""


class ModelFileMissing(DetectorError):
    """A model file is not installed; the message names the package that carries it."""


class ImageDecodeError(DetectorError, ValueError):
    """Bytes handed to `decode_image` are not an image OpenCV can read."""


class EnrolmentError(DetectorError):
    """A reference photo cannot be used for enrolment.

    `code` is stable and machine-readable (`no_face`, `multiple_faces`, `face_too_small`,
    `not_an_image`); `message` is meant for the person who uploaded the photo.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
