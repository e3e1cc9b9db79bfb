"""StillPicture on real photos: what counts as the same picture, and what as a change."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from media.still import StillPicture, luma
from tests.clips import Clip, still
from tests.test_detectors_pipeline import webcam

SIZE = (320, 240)  # what the server asks of cameras


def camera(bgr: np.ndarray, noise: float = 0.0, seed: int = 0) -> av.VideoFrame:
    """A 320x240 decoded frame (I420, as the decoder hands it over) of `bgr`, with sensor
    noise of `noise` grey levels."""
    small = cv2.resize(bgr, SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
    small += np.random.default_rng(seed).normal(0.0, noise, small.shape)
    pixels = np.clip(small, 0, 255).astype(np.uint8)
    return av.VideoFrame.from_ndarray(pixels, format="bgr24").reformat(format="yuv420p")


def looked_at(first: av.VideoFrame) -> StillPicture:
    picture = StillPicture()
    assert not picture.unchanged(luma(first))  # nothing analysed yet: analyse it
    picture.analysed()
    return picture


def test_the_same_scene_swaying_and_noisy_is_unchanged() -> None:
    clip = Clip(((0, 2, "candidate"),), fps=15)
    picture = looked_at(camera(clip.frame(0)))
    # The clip pans 4 px each way over 2 s (the benchmark's candidate); noise up to 8 levels.
    for index in range(clip.frame_count):
        assert picture.unchanged(luma(camera(clip.frame(index), noise=8.0, seed=index))), index


@pytest.mark.parametrize("scene", ["empty", "two_faces", "other_person"])
def test_the_candidate_leaving_joined_or_replaced_is_a_change(scene: str) -> None:
    picture = looked_at(camera(still("candidate")))
    assert not picture.unchanged(luma(camera(still(scene))))


def test_another_pose_is_a_change_and_then_the_picture_to_compare_with() -> None:
    picture = looked_at(camera(webcam("obama")))
    turned = camera(webcam("obama2"), noise=2.0)
    assert not picture.unchanged(luma(turned))
    assert not picture.unchanged(luma(turned))  # not analysed: still a change
    picture.analysed()
    assert picture.unchanged(luma(camera(webcam("obama2"), noise=2.0, seed=1)))


def test_luma_is_the_y_plane_without_the_row_padding() -> None:
    bgr = cv2.resize(still("candidate"), (330, 250))  # rows padded to the codec's alignment
    frame = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
    assert frame.planes[0].line_size > 330
    grey = luma(frame)
    assert grey.shape == (250, 330)
    assert np.array_equal(grey, frame.to_ndarray(format="yuv420p")[:250])
    # Any other format is converted.
    rgb = av.VideoFrame.from_ndarray(bgr, format="bgr24")
    assert luma(rgb).shape == (250, 330)
