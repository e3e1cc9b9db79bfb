"""The enrolled face crops: one small JPEG per candidate, beside the database.

A reviewer judging a `face_mismatch` alert needs to see who was enrolled next to who was in
view; the database keeps only the descriptor (128 numbers), which no person can read. A crop
is a photo of a person's face, so it is readable by the server's user only (0600, in a 0700
directory), replaced whole (written aside, then renamed) when the candidate enrols again,
and never served on its own: it reaches a reviewer only inside an alert's evidence.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["ReferenceCrops"]


class ReferenceCrops:
    """`directory/<user_id>.jpg`, one per enrolled candidate."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, user_id: int) -> Path:
        return self.directory / f"{int(user_id)}.jpg"

    def save(self, user_id: int, jpeg: bytes) -> None:
        """Replace the candidate's crop (the previous one is gone once this returns)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = self.path(user_id)
        aside = final.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(jpeg)
            os.replace(aside, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                aside.unlink()
            raise

    def load(self, user_id: int) -> bytes | None:
        try:
            return self.path(user_id).read_bytes()
        except FileNotFoundError:
            return None
