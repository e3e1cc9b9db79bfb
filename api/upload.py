"""`POST /upload-frame`: one JPEG/PNG frame through the same detectors and rules as WebRTC."""

from __future__ import annotations

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import TypeAdapter, ValidationError

from api.access import load_session
from api.errors import ApiError, bad_request, conflict, not_found, unprocessable
from api.live import session_ref
from api.operation import Call
from api.schemas import MAX_ID, Id
from live.protocol import Upload, UploadResult

MAX_IMAGE_BYTES = 4 * 1024 * 1024
SESSION_ID: TypeAdapter[int] = TypeAdapter(Id)
_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")

UPLOAD_FORM = {
    "multipart/form-data": {
        "type": "object",
        "required": ["session_id", "image"],
        "properties": {
            "session_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            "image": {"type": "string", "format": "binary", "description": "JPEG or PNG, <= 4 MiB"},
        },
    }
}


async def _read_form(request: web.Request) -> tuple[int, bytes]:
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiError(
            415, "unsupported_media_type", "send multipart/form-data with session_id and image"
        )
    try:
        return await _read_parts(await request.multipart())
    except (ValueError, AssertionError, HttpProcessingError) as error:
        # aiohttp's multipart reader says "malformed" in these three ways (a bad part
        # header is an InvalidHeader, an HttpProcessingError).
        raise bad_request("malformed_form", f"the form could not be read: {error}") from None


async def _read_parts(reader: MultipartReader) -> tuple[int, bytes]:
    session_raw: str | None = None
    image: bytes | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise bad_request("malformed_form", "nested multipart is not accepted")
        if part.name == "session_id":
            session_raw = (await part.read(decode=True)).decode("utf-8", "replace").strip()
        elif part.name == "image":
            image = await part.read(decode=True)
            if len(image) > MAX_IMAGE_BYTES:
                raise ApiError(413, "image_too_large", f"the image exceeds {MAX_IMAGE_BYTES} bytes")
        else:
            raise unprocessable("unknown_field", f"unexpected form field {part.name!r}")
    if session_raw is None or image is None:
        raise unprocessable("missing_field", "the form needs both session_id and image")
    try:
        session_id = SESSION_ID.validate_python(session_raw)
    except ValidationError:
        raise unprocessable(
            "invalid_field", f"session_id must be an integer from 1 to {MAX_ID}"
        ) from None
    if not image.startswith(_IMAGE_SIGNATURES):
        raise unprocessable("not_an_image", "image must be a JPEG or PNG file")
    return session_id, image


async def upload_frame(call: Call) -> UploadResult:
    session_id, image = await _read_form(call.request)
    async with call.services.db() as db:
        session = await load_session(db, call.caller, session_id)
    if session.candidate_id != call.caller.id:
        raise not_found(f"session {session_id}")
    if session.status != "active":
        raise conflict("session_closed", f"this attempt is already {session.status}")
    return await call.services.pipeline.ask(Upload(session=session_ref(session), image=image))
