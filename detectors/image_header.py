"""Image dimensions from the header alone, so a small upload that would decode into gigabytes
(a "decompression bomb") is refused before OpenCV allocates anything."""

from __future__ import annotations

import struct

MAX_PIXELS = 25_000_000
"""About 5000x5000: far beyond any webcam frame or ID photo."""

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, or None when the header does not say."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        offset = 2
        while offset + 9 <= len(data):
            if data[offset] != 0xFF:
                return None
            marker = data[offset + 1]
            if marker == 0xFF:  # fill byte
                offset += 1
                continue
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
                offset += 2
                continue
            (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
            if marker in _JPEG_SOF:
                height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
                return int(width), int(height)
            offset += 2 + length
    return None


def too_many_pixels(data: bytes, limit: int = MAX_PIXELS) -> bool:
    size = image_size(data)
    return size is not None and size[0] * size[1] > limit
