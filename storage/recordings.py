"""Where an attempt's recordings are kept, and how their segments become one file.

Blob keys (`storage.blobs`): while a track records, its segments are
"recordings/<session>/<track>/<start ms, 10 digits>.webm" (sorted by name = by time); once
merged, "recordings/<session>/<track>.webm" and the segments are gone. The `recordings` row
holds the track's time 0 (wall clock), so an alert's moment is a position in the file.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Recording, RecordingStatus

__all__ = [
    "TRACKS",
    "open_recording",
    "recording_origin",
    "recording_row",
    "recording_key",
    "recordings_prefix",
    "segment_key",
    "segments_prefix",
]

TRACKS = ("camera", "screen")


def recordings_prefix(session_id: int) -> str:
    return f"recordings/{session_id}"


def segments_prefix(session_id: int, track: str) -> str:
    return f"recordings/{session_id}/{track}"


def segment_key(session_id: int, track: str, start_ms: int) -> str:
    return f"{segments_prefix(session_id, track)}/{start_ms:010d}.webm"


def recording_key(session_id: int, track: str) -> str:
    return f"recordings/{session_id}/{track}.webm"


async def open_recording(
    db: async_sessionmaker[AsyncSession], session_id: int, track: str, started_at: datetime
) -> datetime:
    """The track's time 0: that of an earlier recording of this attempt (a process that
    stopped mid-attempt, a reconnection), otherwise `started_at`, stored now."""
    async with db() as session:
        row = await recording_row(session, session_id, track)
        if row is not None:
            if row.status != RecordingStatus.RECORDING:
                row.status, row.ended_at = RecordingStatus.RECORDING.value, None
                await session.commit()
            return row.started_at
        session.add(Recording(session_id=session_id, track=track, started_at=started_at))
        try:
            await session.commit()
        except IntegrityError:  # another process opened it at the same moment
            await session.rollback()
            row = await recording_row(session, session_id, track)
            assert row is not None
            return row.started_at
    return started_at


async def recording_origin(
    db: async_sessionmaker[AsyncSession], session_id: int, track: str
) -> datetime | None:
    """The time 0 of the attempt's recording of `track`, if one was started."""
    async with db() as session:
        row = await recording_row(session, session_id, track)
    return None if row is None else row.started_at


async def recording_row(db: AsyncSession, session_id: int, track: str) -> Recording | None:
    query = select(Recording).where(Recording.session_id == session_id, Recording.track == track)
    return (await db.execute(query)).scalar_one_or_none()
