"""The blob store behind evidence (and recordings): owner-only files, whole or nothing,
keys that cannot leave the store."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.blobs import BlobStore, DatabaseBlobStore, FileBlobStore, check_key
from storage.db import create_engine, session_factory
from tests.services import TEMPLATE, Postgres


async def test_blobs_are_kept_owner_only_and_read_back(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    await store.put("evidence/12/a.jpg", b"\xff\xd8one")
    await store.put("evidence/12/a.jpg", b"\xff\xd8two")  # replaced, never half written
    assert await store.get("evidence/12/a.jpg") == b"\xff\xd8two"
    assert await store.get("evidence/12/missing.jpg") is None
    path = tmp_path / "evidence" / "12" / "a.jpg"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not list(path.parent.glob("*.partial"))


@pytest.fixture(params=["files", "database"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[BlobStore]:
    """Both stores: files on one box, rows of the shared PostgreSQL in a cluster."""
    if request.param == "files":
        yield FileBlobStore(tmp_path)
        return
    postgres: Postgres = request.getfixturevalue("postgres")
    engine = create_engine(postgres.new_database(template=TEMPLATE))
    try:
        yield DatabaseBlobStore(session_factory(engine))
    finally:
        await engine.dispose()


async def test_deleting_a_prefix_removes_everything_under_it_only(store: BlobStore) -> None:
    for key in ("evidence/12/a.jpg", "evidence/12/b.jpg", "evidence/13/a.jpg", "evidence/1_2/c"):
        await store.put(key, b"x")
    await store.put("evidence/12/a.jpg", b"y")  # replaced
    assert await store.get("evidence/12/a.jpg") == b"y"
    assert await store.delete_prefix("evidence/12") == 2
    assert await store.get("evidence/12/a.jpg") is None
    assert await store.get("evidence/13/a.jpg") == b"x"
    assert await store.get("evidence/1_2/c") == b"x"  # "_" is not a wildcard
    assert await store.delete_prefix("evidence/99") == 0


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../secret_key", "evidence/../../x", "a//b"])
def test_keys_cannot_leave_the_store(key: str) -> None:
    with pytest.raises(ValueError, match="not a blob key"):
        check_key(key)


async def test_large_blobs_go_in_from_a_file_and_come_out_by_ranges(
    store: BlobStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    source = tmp_path_factory.mktemp("merged") / "recording.webm"
    source.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    await store.put_file("recordings/7/camera.webm", source)
    await store.put("recordings/7/camera/0000005000.webm", b"segment 2")
    await store.put("recordings/7/camera/0000000000.webm", b"segment 1")
    await store.put("recordings/70/camera.webm", b"another attempt")
    assert await store.size("recordings/7/camera.webm") == 1024 * 1024
    assert await store.size("recordings/7/screen.webm") is None
    assert await store.read_range("recordings/7/camera.webm", 255, 3) == b"\xff\x00\x01"
    assert await store.read_range("recordings/7/camera.webm", 1024 * 1024 - 1, 10) == b"\xff"
    assert await store.keys("recordings/7") == [
        "recordings/7/camera.webm",
        "recordings/7/camera/0000000000.webm",
        "recordings/7/camera/0000005000.webm",
    ]
    assert await store.keys("recordings/7/camera") == [
        "recordings/7/camera/0000000000.webm",
        "recordings/7/camera/0000005000.webm",
    ]
    if isinstance(store, FileBlobStore):
        path = store.root / "recordings" / "7" / "camera.webm"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
