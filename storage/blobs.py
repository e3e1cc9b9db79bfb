"""Files the server keeps beside its database (evidence photos today; recordings and
reference crops use it too), behind one small interface so that every node of a cluster can
reach them (`BlobStore`).

Keys are relative POSIX paths such as "evidence/12/3f2a.jpg". `FileBlobStore` keeps them
under the data directory, owner-only, for the single-box default.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Protocol

__all__ = ["BlobStore", "FileBlobStore", "check_key"]

FILE_MODE = 0o600
DIR_MODE = 0o700


def check_key(key: str) -> str:
    """`key` if it is a plain relative path (no "..", no absolute path, no empty part)."""
    parts = PurePosixPath(key).parts
    malformed = key.startswith("/") or key.endswith("/") or "//" in key
    if not parts or malformed or any(p in ("..", ".") for p in parts):
        raise ValueError(f"not a blob key: {key!r}")
    return key


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing what was there."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The whole blob; None when there is none."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every blob whose key starts with `prefix` + "/" (or is `prefix`); how
        many were deleted."""
        ...

    async def put_file(self, key: str, path: Path) -> None:
        """Store the file at `path` under `key` (for blobs too large to hold in memory)."""
        ...

    async def keys(self, prefix: str) -> list[str]:
        """The keys under `prefix` + "/", sorted."""
        ...

    async def size(self, key: str) -> int | None:
        """The blob's length in bytes; None when there is none."""
        ...

    async def read_range(self, key: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from offset `start` (HTTP range requests)."""
        ...


class FileBlobStore:
    """Blobs as files under `root` (the data directory), created owner-only."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, self.path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half a file.
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)

    async def put_file(self, key: str, path: Path) -> None:
        await asyncio.to_thread(self._copy, path, self.path(key))

    @staticmethod
    def _copy(source: Path, path: Path) -> None:
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as handle, source.open("rb") as original:
            shutil.copyfileobj(original, handle, 1024 * 1024)
        os.replace(partial, path)

    async def keys(self, prefix: str) -> list[str]:
        return await asyncio.to_thread(self._keys, check_key(prefix))

    def _keys(self, prefix: str) -> list[str]:
        top = self.root / prefix
        found = [
            (Path(folder) / name).relative_to(self.root).as_posix()
            for folder, _, files in os.walk(top)
            for name in files
            if not name.endswith(".partial")
        ]
        return sorted(found)

    async def size(self, key: str) -> int | None:
        path = self.path(key)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            return None

    async def read_range(self, key: str, start: int, length: int) -> bytes:
        return await asyncio.to_thread(self._read_range, self.path(key), start, length)

    @staticmethod
    def _read_range(path: Path, start: int, length: int) -> bytes:
        with path.open("rb") as handle:
            handle.seek(start)
            return handle.read(length)

    async def get(self, key: str) -> bytes | None:
        path = self.path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def delete_prefix(self, prefix: str) -> int:
        return await asyncio.to_thread(self._delete, self.path(prefix))

    @staticmethod
    def _delete(path: Path) -> int:
        if path.is_file():
            path.unlink()
            return 1
        if not path.is_dir():
            return 0
        count = sum(len(files) for _, _, files in os.walk(path))
        shutil.rmtree(path)
        return count
