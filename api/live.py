"""Live endpoints: the WebRTC offer/answer and the candidate's reference photo."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from api.access import load_session
from api.errors import ApiError, conflict, not_found, unprocessable
from api.operation import Call
from api.schemas import OfferBody, ReferenceCheckOut, ReferencePhotoOut
from detectors.errors import EnrolmentError, ImageDecodeError
from detectors.face_quality import FaceQuality
from detectors.identity import Enrolment, check_reference, decode_image, enrol
from live.protocol import Offer, OfferAnswer, SessionRef
from storage.blobs import reference_key
from storage.models import ExamSession, ReferenceFace, utcnow

MAX_PHOTO_BYTES = 4 * 1024 * 1024
PHOTO_TYPES = ("image/jpeg", "image/png")
PHOTO_CONTENT = {
    kind: {"type": "string", "format": "binary", "description": "the photo, <= 4 MiB"}
    for kind in PHOTO_TYPES
}


def session_ref(session: ExamSession) -> SessionRef:
    return SessionRef(
        session_id=session.id, exam_id=session.exam_id, candidate_id=session.candidate_id
    )


async def offer(call: Call) -> OfferAnswer:
    body: OfferBody = call.body
    session_id = call.path_int("session_id")
    async with call.services.db() as db:
        session = await load_session(db, call.caller, session_id)
    if session.candidate_id != call.caller.id:
        raise not_found(f"session {session_id}")
    if session.status != "active" or utcnow() > session.deadline_at:
        raise conflict("session_closed", f"this attempt is {session.status}; no stream is taken")
    request = Offer(session=session_ref(session), sdp=body.sdp, type=body.type)
    return await call.services.pipeline.ask(request)


async def _read_photo(call: Call) -> bytes:
    request = call.request
    if request.content_type not in PHOTO_TYPES:
        raise ApiError(415, "unsupported_media_type", "send the photo as image/jpeg or image/png")
    if request.content_length is not None and request.content_length > MAX_PHOTO_BYTES:
        raise ApiError(413, "image_too_large", f"the photo exceeds {MAX_PHOTO_BYTES} bytes")
    data = await request.read()
    if len(data) > MAX_PHOTO_BYTES:
        raise ApiError(413, "image_too_large", f"the photo exceeds {MAX_PHOTO_BYTES} bytes")
    return data


async def put_reference_photo(call: Call) -> ReferencePhotoOut:
    data = await _read_photo(call)
    loop = asyncio.get_running_loop()
    try:
        enrolment: Enrolment = await loop.run_in_executor(
            call.services.pipeline.executor, lambda: enrol(decode_image(data))
        )
    except ImageDecodeError as error:
        raise unprocessable("not_an_image", str(error)) from None
    except EnrolmentError as error:
        raise unprocessable(error.code, error.message) from None
    user = call.caller
    descriptor = bytes(enrolment.descriptor.astype("float32").tobytes())
    await call.services.blobs.put(reference_key(user.id), enrolment.crop_jpeg)
    async with call.services.db() as db:
        row = (
            await db.execute(select(ReferenceFace).where(ReferenceFace.user_id == user.id))
        ).scalar_one_or_none()
        if row is None:
            row = ReferenceFace(user_id=user.id, descriptor=descriptor, created_at=utcnow())
            db.add(row)
        else:
            row.descriptor, row.created_at = descriptor, utcnow()
        await db.commit()
    return ReferencePhotoOut(user_id=user.id, enrolled=True, enrolled_at=row.created_at)


async def check_reference_photo(call: Call) -> ReferenceCheckOut:
    """What enrolment would say of this photo, without enrolling it: the page sends a
    frame a second while the candidate gets ready, and shows the figures as live advice."""
    data = await _read_photo(call)
    loop = asyncio.get_running_loop()
    try:
        _, quality = await loop.run_in_executor(
            call.services.pipeline.executor, lambda: check_reference(decode_image(data))
        )
    except ImageDecodeError as error:
        raise unprocessable("not_an_image", str(error)) from None
    except EnrolmentError as error:
        return ReferenceCheckOut(
            usable=False,
            code=error.code,
            failed=error.failed,
            message=error.message,
            **_figures(error.quality),
        )
    return ReferenceCheckOut(
        usable=True, code=None, failed=[], message="Ready", **_figures(quality)
    )


def _figures(quality: FaceQuality | None) -> dict[str, float | None]:
    names = ("width_px", "yaw", "sharpness", "brightness", "contrast", "noise")
    return {name: None if quality is None else getattr(quality, name) for name in names}


async def reference_photo_status(call: Call) -> ReferencePhotoOut:
    async with call.services.db() as db:
        row = (
            await db.execute(select(ReferenceFace).where(ReferenceFace.user_id == call.caller.id))
        ).scalar_one_or_none()
    if row is None:
        raise not_found("reference photo")
    return ReferencePhotoOut(user_id=call.caller.id, enrolled=True, enrolled_at=row.created_at)
