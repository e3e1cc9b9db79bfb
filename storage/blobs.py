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
import stat
from pathlib import Path, PurePosixPath
from typing import Protocol

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.datadir import DIR_MODE, FILE_MODE
from storage.models import Blob

__all__ = [
    "BlobStore",
    "DatabaseBlobStore",
    "FileBlobStore",
    "blob_store",
    "check_key",
    "reference_key",
]



def check_key(key: str) -> str:
    """`key` if it is a plain relative path (no "..", no absolute path, no empty part)."""
    parts = PurePosixPath(key).parts
    malformed = key.startswith("/") or key.endswith("/") or "//" in key
    if not parts or malformed or any(p in ("..", ".") for p in parts):
        raise ValueError(f"not a blob key: {key!r}")
    return key


def reference_key(user_id: int) -> str:
    """The blob key of a candidate's enrolled face crop (replaced when they enrol again),
    shown beside face_mismatch evidence and nowhere else."""
    return f"reference/{int(user_id)}.jpg"


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
            found = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            return None
        return found.st_size if stat.S_ISREG(found.st_mode) else None  # a folder is no blob

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


class DatabaseBlobStore:
    """Blobs as rows of the shared database (`blobs`), for nodes that share no disk.

    Chosen over an S3-compatible store because a cluster already runs PostgreSQL, backs it
    up and replicates it: evidence (a ~30 KB JPEG per incident) needs nothing more. Large
    media (recordings) belong on a store made for them; see README "Running on several
    machines"."""

    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db

    async def put(self, key: str, data: bytes) -> None:
        async with self._db() as db:
            await db.execute(delete(Blob).where(Blob.key == check_key(key)))
            db.add(Blob(key=key, data=data))
            await db.commit()

    async def get(self, key: str) -> bytes | None:
        async with self._db() as db:
            found = await db.execute(select(Blob.data).where(Blob.key == check_key(key)))
            return found.scalar_one_or_none()

    async def delete_prefix(self, prefix: str) -> int:
        async with self._db() as db:
            result = await db.execute(delete(Blob).where((Blob.key == prefix) | _under(prefix)))
            await db.commit()
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def put_file(self, key: str, path: Path) -> None:
        # One row holds the whole blob: a merged recording passes through memory once.
        await self.put(key, await asyncio.to_thread(path.read_bytes))

    async def keys(self, prefix: str) -> list[str]:
        async with self._db() as db:
            found = await db.execute(select(Blob.key).where(_under(prefix)).order_by(Blob.key))
            return list(found.scalars())

    async def size(self, key: str) -> int | None:
        async with self._db() as db:
            found = await db.execute(
                select(func.length(Blob.data)).where(Blob.key == check_key(key))
            )
            return found.scalar_one_or_none()

    async def read_range(self, key: str, start: int, length: int) -> bytes:
        async with self._db() as db:
            found = await db.execute(
                select(func.substr(Blob.data, start + 1, length)).where(Blob.key == check_key(key))
            )
            return bytes(found.scalar_one_or_none() or b"")


def _under(prefix: str) -> ColumnElement[bool]:
    """Keys under `prefix` + "/" (LIKE, its wildcards escaped)."""
    pattern = check_key(prefix).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Blob.key.like(f"{pattern}/%", escape="\\")


def blob_store(data_dir: Path, clustered: bool, db: async_sessionmaker[AsyncSession]) -> BlobStore:
    """Files under the data dir on one box; rows of the shared database in a cluster."""
    return DatabaseBlobStore(db) if clustered else FileBlobStore(data_dir)
