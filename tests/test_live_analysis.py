"""Frame analysis in child processes: same answers as in-process, per-session state kept in
the session's child, and a child that dies is replaced."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import numpy as np
import pytest

from core.kinds import AlertKind
from detectors.identity import reference_descriptor
from detectors.pipeline import AnalyzerSettings, FrameAnalyzer
from live.analysis import InProcesses as AnalysisPool
from tests.test_detectors_pipeline import live, photo, webcam


@pytest.fixture(scope="module")
def pool() -> Iterator[AnalysisPool]:
    pool = AnalysisPool(2)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def obama() -> np.ndarray:
    return reference_descriptor(photo("obama"))


def test_same_answers_as_in_process(pool: AnalysisPool, obama: np.ndarray) -> None:
    settings = AnalyzerSettings()
    remote = pool.analyzer(1, obama, settings)
    local = FrameAnalyzer(obama, settings)
    for i, name in enumerate(["obama2", "obama2", "biden", "chelsea"]):
        frame = live(webcam(name), i)
        a, b = remote.analyze(frame, i * 0.5), local.analyze(frame, i * 0.5)
        assert [(o.kind, o.active) for o in a.observations] == [
            (o.kind, o.active) for o in b.observations
        ]
        assert len(a.faces) == len(b.faces)
        assert (a.identity_distance is None) == (b.identity_distance is None)
        if a.identity_distance is not None and b.identity_distance is not None:
            assert abs(a.identity_distance - b.identity_distance) < 1e-3


def test_each_session_keeps_its_state_in_its_child(pool: AnalysisPool, obama: np.ndarray) -> None:
    # Sessions 2 and 3 live in different children; each checks identity on its first frame
    # only (the same face afterwards), so each child kept its own session's state.
    sessions = [pool.analyzer(sid, obama, AnalyzerSettings()) for sid in (2, 3)]
    for session in sessions:
        checks = [
            session.analyze(live(webcam("obama2"), i), i * 0.5).identity_distance for i in range(4)
        ]
        assert [d is not None for d in checks] == [True, False, False, False]
    assert pool.child(2) is not pool.child(3)


def test_a_dead_child_is_replaced(obama: np.ndarray) -> None:
    pool = AnalysisPool(1)
    try:
        session = pool.analyzer(7, obama, AnalyzerSettings())
        first = session.analyze(live(webcam("chelsea"), 0), 0.0)
        assert AlertKind.NO_FACE in {o.kind for o in first.observations if o.active}
        for pid in list(pool.child(7)._processes):  # the child crashes
            os.kill(pid, signal.SIGKILL)
        again = session.analyze(live(webcam("obama2"), 1), 0.5)
        assert len(again.faces) == 1 and again.identity_distance is not None  # a fresh analyser
    finally:
        pool.close()
