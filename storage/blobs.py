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

from sqlalchemy import delete, select
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
        check_key(prefix)
        async with self._db() as db:
            pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            under = Blob.key.like(f"{pattern}/%", escape="\\")
            result = await db.execute(delete(Blob).where((Blob.key == prefix) | under))
            await db.commit()
            return int(result.rowcount)  # type: ignore[attr-defined]


def blob_store(data_dir: Path, clustered: bool, db: async_sessionmaker[AsyncSession]) -> BlobStore:
    """Files under the data dir on one box; rows of the shared database in a cluster."""
    return DatabaseBlobStore(db) if clustered else FileBlobStore(data_dir)
