"""Real photos degraded the way webcams degrade them, for the identity tests and benchmarks.

Each function takes and returns a BGR frame. `place` puts a photo's face into a capture-size
frame at a chosen width; the others model one webcam failure each, with their parameters in
the units a camera would have:

- `blur`: defocus or motion, Gaussian sigma in pixels of the frame.
- `dark`: too little light and no gain to make up for it: linear light times `gain` (gamma
  2.2), plus 2 grey levels of read noise.
- `night`: too little light with the camera's automatic gain on: the same picture brought
  back to its brightness, which multiplies the sensor's shot and read noise by 1/gain.
- `noise`: Gaussian noise, sigma in grey levels.
- `jpeg`: JPEG at a quality (the encoder of an upload or a snapshot).
- `vp8`: VP8 encoded and decoded at the capture size and bitrate, as the live stream is.

Nothing here simulates a head turn: the turned faces in the benchmarks are real photos
(obama2 and obama3 are turned about 20 degrees; a mirror image is a head turned the other way).
"""

from __future__ import annotations

import fractions
from collections.abc import Sequence

import av
import cv2
import numpy as np

from detectors.face_detector import Detection

GAMMA = 2.2
WALL_GREY = 128


def place(
    photo: np.ndarray,
    face: Detection,
    face_px: float,
    size: tuple[int, int] = (320, 240),
    centre: tuple[float, float] = (0.5, 0.45),
) -> np.ndarray:
    """A `size` frame with `photo` scaled so that its `face` box is `face_px` wide and centred
    at `centre` (fractions of the frame); what the photo does not cover is a grey wall."""
    width, height = size
    h, w = photo.shape[:2]
    scale = face_px / (face.width * w)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=interpolation)
    frame = np.full((height, width, 3), WALL_GREY, np.uint8)
    face_x = (face.xmin + face.xmax) / 2 * w * scale
    face_y = (face.ymin + face.ymax) / 2 * h * scale
    ox, oy = round(centre[0] * width - face_x), round(centre[1] * height - face_y)
    sh, sw = small.shape[:2]
    x0, y0, x1, y1 = max(0, ox), max(0, oy), min(width, ox + sw), min(height, oy + sh)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = small[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    return frame


def blur(frame: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(frame, (0, 0), sigma) if sigma > 0 else frame


_TO_LINEAR = ((np.arange(256, dtype=np.float32) / 255.0) ** GAMMA).astype(np.float32)
_ENCODE_STEPS = 4096
_FROM_LINEAR = np.round(np.linspace(0.0, 1.0, _ENCODE_STEPS) ** (1.0 / GAMMA) * 255.0)


def _linear(frame: np.ndarray) -> np.ndarray:
    return _TO_LINEAR[frame]


def _encoded(linear: np.ndarray) -> np.ndarray:
    index = (np.clip(linear, 0.0, 1.0) * (_ENCODE_STEPS - 1)).astype(np.int32)
    return _FROM_LINEAR[index].astype(np.uint8)


def dark(frame: np.ndarray, gain: float, seed: int = 0) -> np.ndarray:
    """`gain` of the light (0.1: a tenth), no automatic gain: a darker picture."""
    rng = np.random.default_rng(seed)
    out = _encoded(_linear(frame) * gain).astype(np.float32)
    read = rng.standard_normal(frame.shape, dtype=np.float32) * 2.0
    return np.clip(out + read, 0, 255).astype(np.uint8)


def night(frame: np.ndarray, gain: float, seed: int = 0) -> np.ndarray:
    """`gain` of the light with automatic gain: as bright as before, 1/gain times noisier.
    A sensor collecting ~1000 electrons at full white (a webcam pixel) has shot noise
    sqrt(signal) (Gaussian at these counts); read noise 3 electrons."""
    rng = np.random.default_rng(seed)
    full_well = 1000.0
    electrons = _linear(frame) * np.float32(gain * full_well)
    spread = np.sqrt(electrons + 9.0)  # shot and read noise add in quadrature
    noisy = electrons + spread * rng.standard_normal(frame.shape, dtype=np.float32)
    return _encoded(noisy / np.float32(gain * full_well))


def noise(frame: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frame + rng.normal(0.0, sigma, frame.shape), 0, 255).astype(np.uint8)


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    assert decoded is not None
    return decoded


def mirror(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame[:, ::-1])


def vp8(frames: Sequence[np.ndarray], kbps: int = 80, fps: int = 5) -> list[np.ndarray]:
    """The frames through libvpx (realtime, as a browser streams) and back: what the server
    decodes. The first frames of a stream are the worst while the rate control settles, as
    after a real connection starts."""
    height, width = frames[0].shape[:2]
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.bit_rate = kbps * 1000
    encoder.time_base = fractions.Fraction(1, fps)
    encoder.framerate = fractions.Fraction(fps)
    # One thread: libvpx's threads make the output depend on timing, and these frames are
    # test and benchmark material that must come out the same on every run.
    encoder.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "threads": "1",
    }
    decoder = av.CodecContext.create("vp8", "r")
    out: list[np.ndarray] = []

    def decode(packets: list[av.Packet]) -> None:
        for packet in packets:
            for decoded in decoder.decode(packet):
                out.append(decoded.to_ndarray(format="bgr24"))

    for index, bgr in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
        frame.pts = index
        decode(list(encoder.encode(frame)))
    decode(list(encoder.encode(None)))
    return out
