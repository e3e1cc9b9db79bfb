"""The data directory holds password hashes, face descriptors, evidence photos and the
signing key: only the server's own user may read it. Created owner-only, and put right on
every start (with a warning naming each path), in case it was made by hand or copied."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create `path` (and parents) if missing; the directory itself ends up 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for corrected in _correct(path, DIR_MODE):
        log.warning("%s was readable by other users: made owner-only", corrected)


def create_private_file(path: Path) -> None:
    """Create an empty file 0600 if missing (so that e.g. SQLite, whose WAL and shared-memory
    files copy the database file's mode, never makes a readable one)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def secure_data_dir(data_dir: Path) -> list[Path]:
    """Make `data_dir` 0700 and everything under it owner-only; the paths corrected."""
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    corrected = _correct(data_dir, DIR_MODE)
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            corrected += _correct(Path(root) / name, DIR_MODE)
        for name in files:
            corrected += _correct(Path(root) / name, FILE_MODE)
    for path in corrected:
        log.warning("%s was readable by other users: made owner-only", path)
    return corrected


def _correct(path: Path, mode: int) -> list[Path]:
    if path.is_symlink():
        return []
    return [path] if _set_mode(path, mode) else []


def _set_mode(path: Path, mode: int) -> bool:
    """chmod to `mode` if the group or others have any access; True when it did."""
    if stat.S_IMODE(path.stat().st_mode) & 0o077 == 0:
        return False
    path.chmod(mode)
    return True
