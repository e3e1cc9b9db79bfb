"""Image sizes read from headers; decompression bombs refused before decoding."""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.errors import ImageDecodeError
from detectors.identity import decode_image
from detectors.image_header import image_size

DATA = Path(__file__).parent / "data"


def test_sizes_of_real_jpeg_and_png() -> None:
    jpeg = (DATA / "obama.jpg").read_bytes()
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image_size(jpeg) == (image.shape[1], image.shape[0])
    ok, png = cv2.imencode(".png", image[:100, :70])
    assert ok and image_size(png.tobytes()) == (70, 100)
    assert image_size(b"not an image") is None


def _png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming a huge size, with a tiny compressed body."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    row = b"\x00" + b"\x00" * width
    body = zlib.compress(row * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = _png_bomb(40_000, 40_000)
    assert len(bomb) < 100_000
    with pytest.raises(ImageDecodeError, match="larger than"):
        decode_image(bomb)
