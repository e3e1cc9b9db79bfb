"""The rule engine as a plain function over observation sequences (normal preset unless said)."""

from __future__ import annotations

import itertools
from dataclasses import replace

from alerts.engine import RuleEngine
from alerts.events import AlertEvent, IncidentState, Severity
from alerts.presets import resolve_rules
from core.kinds import AlertKind
from detectors.base import Observation

K = AlertKind
STARTED, UPDATED, ENDED = IncidentState.STARTED, IncidentState.UPDATED, IncidentState.ENDED
FRAME = 0.5  # frames are analysed ~2/s


def frames(
    kind: AlertKind,
    start: float,
    stop: float,
    *,
    active: bool = True,
    step: float = FRAME,
    confidence: float = 1.0,
    message: str = "",
) -> list[Observation]:
    """Observations every `step` seconds from `start` up to and including `stop`."""
    count = round((stop - start) / step) + 1
    return [Observation(kind, active, start + i * step, confidence, message) for i in range(count)]


def run(engine: RuleEngine, observations: list[Observation]) -> list[AlertEvent]:
    return engine.feed_all(observations)


def engine(preset: str = "normal", **overrides: dict[str, object]) -> RuleEngine:
    ids = (f"id{i}" for i in itertools.count())
    return RuleEngine(resolve_rules(preset, overrides or None), new_id=lambda: next(ids))


def states(events: list[AlertEvent]) -> list[tuple[AlertKind, IncidentState]]:
    return [(e.kind, e.state) for e in events]


# --- start debounce ---------------------------------------------------------------------------


def test_no_face_shorter_than_start_after_raises_nothing() -> None:
    e = engine()
    events = run(e, frames(K.NO_FACE, 10.0, 12.5) + frames(K.NO_FACE, 13.0, 20.0, active=False))
    assert events == []
    assert e.tick(30.0) == []


def test_no_face_longer_than_start_after_starts_once_at_first_no_face_ts() -> None:
    e = engine()
    events = run(e, frames(K.NO_FACE, 10.0, 13.5, message="no face in view"))
    assert states(events) == [(K.NO_FACE, STARTED)]
    started = events[0]
    assert started.started_at == 10.0
    assert started.ended_at is None
    assert started.severity is Severity.HIGH
    assert started.message == "no face in view"
    assert len(started.incident_id) > 0


def test_start_is_emitted_when_the_hold_reaches_start_after_not_earlier() -> None:
    e = engine()
    assert run(e, frames(K.NO_FACE, 0.0, 2.5)) == []
    assert states(e.feed(Observation(K.NO_FACE, True, 3.0))) == [(K.NO_FACE, STARTED)]


def test_one_frame_face_resets_a_pending_no_face_run() -> None:
    e = engine()
    obs = frames(K.NO_FACE, 0.0, 2.5) + [Observation(K.NO_FACE, False, 3.0)]
    obs += frames(K.NO_FACE, 3.5, 6.0)
    assert run(e, obs) == []  # 3.5..6.0 is only 2.5 s
    [started] = e.feed(Observation(K.NO_FACE, True, 6.5))
    assert started.started_at == 3.5


def test_single_sampled_frame_then_silence_never_starts() -> None:
    # One bad frame and a detector that stops reporting must not accuse anyone.
    e = engine()
    assert e.feed(Observation(K.NO_FACE, True, 0.0)) == []
    assert e.tick(5.0) == []
    assert e.tick(60.0) == []


# --- end debounce -----------------------------------------------------------------------------


def test_one_frame_face_inside_an_incident_does_not_end_it() -> None:
    e = engine()
    obs = frames(K.NO_FACE, 0.0, 5.0) + [Observation(K.NO_FACE, False, 5.5)]
    obs += frames(K.NO_FACE, 6.0, 10.0)
    events = run(e, obs)
    assert states(events) == [(K.NO_FACE, STARTED)]
    assert e.tick(10.5) == []


def test_face_back_for_end_after_ends_with_first_clear_ts() -> None:
    e = engine()
    events = run(e, frames(K.NO_FACE, 0.0, 5.0))
    events += run(e, frames(K.NO_FACE, 5.5, 7.0, active=False))  # 1.5 s clear: not yet
    assert states(events) == [(K.NO_FACE, STARTED)]
    [ended] = e.feed(Observation(K.NO_FACE, False, 7.5))  # 2.0 s clear
    assert ended.state is ENDED
    assert ended.started_at == 0.0
    assert ended.ended_at == 5.5
    assert ended.incident_id == events[0].incident_id


def test_tick_ends_an_incident_once_clear_long_enough_without_new_input() -> None:
    e = engine()
    run(e, frames(K.NO_FACE, 0.0, 5.0))
    assert e.feed(Observation(K.NO_FACE, False, 5.5)) == []
    assert e.tick(7.0) == []
    [ended] = e.tick(7.5)
    assert (ended.state, ended.ended_at) == (ENDED, 5.5)
    assert e.tick(8.0) == []


def test_flicker_of_faces_gives_one_incident_not_many() -> None:
    e = engine()
    obs = []
    for t in range(20):  # 10 s of no face with a face seen every 4th frame
        obs.append(Observation(K.NO_FACE, t % 4 != 3, t * FRAME))
    events = run(e, obs)
    assert [ev.state for ev in events].count(STARTED) <= 1


# --- other kinds ------------------------------------------------------------------------------


def test_multiple_faces_starts_after_one_second() -> None:
    e = engine()
    assert run(e, frames(K.MULTIPLE_FACES, 0.0, 0.5, message="2 faces in view")) == []
    [started] = e.feed(Observation(K.MULTIPLE_FACES, True, 1.0, 0.8, "2 faces in view"))
    assert (started.kind, started.started_at, started.message) == (
        K.MULTIPLE_FACES,
        0.0,
        "2 faces in view",
    )


def test_face_mismatch_needs_three_mismatching_checks_in_a_row_over_two_seconds() -> None:
    e = engine()
    # Checks every second while the face does not match: fail, pass, fail, fail, fail.
    assert e.feed(Observation(K.FACE_MISMATCH, True, 0.0, 0.7)) == []
    assert e.feed(Observation(K.FACE_MISMATCH, False, 1.0)) == []
    assert e.feed(Observation(K.FACE_MISMATCH, True, 2.0, 0.6)) == []
    assert e.feed(Observation(K.FACE_MISMATCH, True, 3.0, 0.9)) == []
    [started] = e.feed(Observation(K.FACE_MISMATCH, True, 4.0, 0.8))
    assert started.started_at == 2.0
    assert started.confidence == 0.9


def test_face_mismatch_checks_in_a_burst_are_not_enough_without_the_time() -> None:
    e = engine()
    burst = [Observation(K.FACE_MISMATCH, True, t, 0.9) for t in (0.0, 0.4, 0.8, 1.2)]
    assert run(e, burst) == []  # four hits, but over 1.2 s of the 1.5 s the rule wants
    [started] = e.feed(Observation(K.FACE_MISMATCH, True, 1.6, 0.9))
    assert started.started_at == 0.0


def test_face_mismatch_hits_far_apart_are_not_in_a_row() -> None:
    e = engine()
    # Walking away from the desk (two blurred checks that mismatch), 4 s of faces too small
    # to judge (no observation), coming back (one more blurred mismatch): not three in a row.
    assert run(e, [Observation(K.FACE_MISMATCH, True, t, 0.7) for t in (0.0, 1.0)]) == []
    assert e.feed(Observation(K.FACE_MISMATCH, True, 5.0, 0.7)) == []
    assert e.feed(Observation(K.FACE_MISMATCH, True, 6.0, 0.7)) == []
    # The third within 2.5 s of the one before starts it, from the run's own first hit.
    [started] = e.feed(Observation(K.FACE_MISMATCH, True, 7.0, 0.7))
    assert started.started_at == 5.0


def test_kinds_are_debounced_independently() -> None:
    e = engine()
    obs = sorted(frames(K.NO_FACE, 0.0, 3.5) + frames(K.LOOKING_AWAY, 0.0, 3.5), key=lambda o: o.ts)
    assert states(run(e, obs)) == [(K.NO_FACE, STARTED)]  # looking_away needs 4 s
    assert states(e.feed(Observation(K.LOOKING_AWAY, True, 4.0))) == [(K.LOOKING_AWAY, STARTED)]
    # Clearing one kind leaves the other open.
    assert run(e, frames(K.LOOKING_AWAY, 4.5, 6.5, active=False))[0].kind is K.LOOKING_AWAY
    assert e.tick(7.0) == []


def test_copy_paste_is_a_one_shot_incident() -> None:
    e = engine()
    events = e.feed(Observation(K.COPY_PASTE, True, 42.0, message="paste of 120 chars"))
    assert states(events) == [(K.COPY_PASTE, STARTED), (K.COPY_PASTE, ENDED)]
    started, ended = events
    assert started.incident_id == ended.incident_id
    assert (ended.started_at, ended.ended_at) == (42.0, 42.0)
    assert ended.message == "paste of 120 chars"
    # A second paste is its own incident; a duplicate delivery is not.
    assert e.feed(Observation(K.COPY_PASTE, True, 42.0)) == []
    again = e.feed(Observation(K.COPY_PASTE, True, 50.0))
    assert again[0].incident_id != started.incident_id
    assert e.close(60.0) == []


def test_focus_lost_starts_on_tick_while_the_tab_stays_hidden() -> None:
    # The page reports only changes: hidden at 10, nothing more until it comes back.
    e = engine()
    assert e.feed(Observation(K.FOCUS_LOST, True, 10.0, message="tab hidden")) == []
    assert e.tick(11.9) == []
    [started] = e.tick(12.0)
    assert (started.state, started.started_at) == (STARTED, 10.0)
    assert e.tick(300.0) == []  # a level source never goes stale
    assert e.feed(Observation(K.FOCUS_LOST, False, 400.0)) == []
    [ended] = e.tick(401.0)
    assert ended.ended_at == 400.0


def test_focus_lost_shorter_than_start_after_is_ignored() -> None:
    e = engine()
    e.feed(Observation(K.FOCUS_LOST, True, 10.0))
    assert e.feed(Observation(K.FOCUS_LOST, False, 11.0)) == []
    assert e.tick(20.0) == []


def test_fullscreen_exit_starts_immediately_and_ends_on_return() -> None:
    e = engine()
    assert states(e.feed(Observation(K.FULLSCREEN_EXIT, True, 3.0))) == [
        (K.FULLSCREEN_EXIT, STARTED)
    ]
    [ended] = e.feed(Observation(K.FULLSCREEN_EXIT, False, 9.0))
    assert (ended.state, ended.ended_at) == (ENDED, 9.0)


# --- updates ----------------------------------------------------------------------------------


def test_updates_only_on_news_and_never_per_frame() -> None:
    e = engine()
    events = run(e, frames(K.MULTIPLE_FACES, 0.0, 30.0, confidence=0.6, message="2 faces"))
    assert states(events) == [(K.MULTIPLE_FACES, STARTED)]
    # A small rise is noise.
    assert run(e, frames(K.MULTIPLE_FACES, 30.5, 40.0, confidence=0.65, message="2 faces")) == []
    [updated] = e.feed(Observation(K.MULTIPLE_FACES, True, 40.5, 0.6, "3 faces"))
    assert (updated.state, updated.message, updated.confidence) == (UPDATED, "3 faces", 0.65)
    assert updated.incident_id == events[0].incident_id
    [updated] = e.feed(Observation(K.MULTIPLE_FACES, True, 46.0, 0.9, "3 faces"))
    assert updated.confidence == 0.9


def test_alternating_messages_are_rate_limited() -> None:
    e = engine()
    obs = [
        Observation(K.MULTIPLE_FACES, True, i * FRAME, 1.0, f"{2 + i % 2} faces")
        for i in range(121)  # 60 s
    ]
    updates = [ev for ev in run(e, obs) if ev.state is UPDATED]
    assert 0 < len(updates) <= 60 / 5


def test_ended_carries_max_confidence_and_latest_message() -> None:
    e = engine()
    run(e, frames(K.NO_FACE, 0.0, 3.0, confidence=0.95, message="empty chair"))
    run(e, frames(K.NO_FACE, 3.5, 4.0, confidence=0.5, message="no face"))
    [ended] = run(e, frames(K.NO_FACE, 4.5, 6.5, active=False))
    assert (ended.confidence, ended.message) == (0.95, "no face")


# --- staleness, close, robustness -------------------------------------------------------------


def test_tick_ends_an_incident_whose_detector_went_silent() -> None:
    e = engine()
    run(e, frames(K.LOOKING_AWAY, 0.0, 6.0))
    assert e.tick(15.0) == []  # 9 s of silence is within the 10 s window
    [ended] = e.tick(16.5)
    assert (ended.kind, ended.state, ended.ended_at) == (K.LOOKING_AWAY, ENDED, 6.0)


def test_silence_drops_a_pending_run() -> None:
    e = engine()
    run(e, frames(K.NO_FACE, 0.0, 2.0))
    # Reporting resumes after a long gap: the old run does not count towards the new one.
    assert e.feed(Observation(K.NO_FACE, True, 20.0)) == []
    [started] = run(e, frames(K.NO_FACE, 20.5, 23.0))
    assert started.started_at == 20.0


def test_silence_while_clearing_ends_at_the_first_clear_ts() -> None:
    e = engine("normal", no_face={"end_after": 60})
    run(e, frames(K.NO_FACE, 0.0, 4.0))
    e.feed(Observation(K.NO_FACE, False, 4.5))
    [ended] = e.tick(15.0)
    assert ended.ended_at == 4.5


def test_close_ends_every_open_incident_and_ignores_later_input() -> None:
    e = engine()
    run(e, frames(K.NO_FACE, 0.0, 4.0))
    e.feed(Observation(K.FULLSCREEN_EXIT, True, 1.0))
    events = e.close(4.2)
    assert sorted(states(events)) == sorted([(K.NO_FACE, ENDED), (K.FULLSCREEN_EXIT, ENDED)])
    assert all(ev.ended_at == 4.2 for ev in events)
    assert e.closed
    assert run(e, frames(K.NO_FACE, 5.0, 20.0)) == []
    assert e.tick(100.0) == []
    assert e.close(200.0) == []


def test_close_uses_first_clear_ts_when_clearing() -> None:
    e = engine()
    run(e, frames(K.NO_FACE, 0.0, 4.0))
    e.feed(Observation(K.NO_FACE, False, 4.5))
    [ended] = e.close(5.0)
    assert ended.ended_at == 4.5


def test_every_incident_has_exactly_one_start_and_one_end() -> None:
    e = engine()
    obs = []
    for cycle in range(5):  # five separate 5 s absences, 5 s apart
        base = cycle * 10.0
        obs += frames(K.NO_FACE, base, base + 4.5)
        obs += frames(K.NO_FACE, base + 5.0, base + 9.5, active=False)
    events = run(e, obs) + e.close(60.0)
    by_id: dict[str, list[IncidentState]] = {}
    for ev in events:
        by_id.setdefault(ev.incident_id, []).append(ev.state)
    assert len(by_id) == 5
    assert all(s == [STARTED, ENDED] for s in by_id.values())


def test_out_of_order_and_duplicate_timestamps_do_not_crash_or_double_count() -> None:
    e = engine()
    obs = frames(K.FACE_MISMATCH, 0.0, 0.0)
    obs += obs  # duplicate delivery must not count as a second consecutive check
    assert run(e, obs) == []
    assert e.feed(Observation(K.NO_FACE, True, 5.0)) == []
    assert e.feed(Observation(K.NO_FACE, True, 1.0)) == []  # late: ignored
    assert e.feed(Observation(K.NO_FACE, True, float("nan"))) == []
    assert e.tick(3.0) == []
    assert e.tick(2.0) == []  # tick going backwards is a no-op
    assert e.feed(Observation(K.NO_FACE, True, 5.5, float("nan"))) == []
    [started] = e.feed(Observation(K.NO_FACE, True, 8.0))
    assert started.started_at == 5.0
    assert started.confidence == 1.0


def test_a_slower_source_is_not_dropped_after_a_tick_ran_ahead() -> None:
    e = engine()
    e.tick(10.0)  # driven by the video clock; audio lags behind
    events = run(e, frames(K.SPEECH, 6.0, 9.5))
    assert states(events) == [(K.SPEECH, STARTED)]


def test_disabled_kind_raises_nothing() -> None:
    e = engine("normal", no_face={"enabled": False})
    assert run(e, frames(K.NO_FACE, 0.0, 30.0)) == []


def test_strict_starts_sooner_than_lenient() -> None:
    obs = frames(K.LOOKING_AWAY, 0.0, 10.0)

    def first_start(preset: str) -> float:
        e = engine(preset)
        for o in obs:
            if e.feed(o):
                return o.ts
        raise AssertionError("never started")

    assert first_start("strict") < first_start("normal") < first_start("lenient")


def test_incident_ids_are_uuid4_hex_by_default() -> None:
    e = RuleEngine(resolve_rules())
    [started] = run(e, frames(K.NO_FACE, 0.0, 3.0))
    assert len(started.incident_id) == 32
    int(started.incident_id, 16)


# --- repeated observations (a still picture's last finding) -------------------------------------


def test_repeated_observations_keep_time_but_are_not_hits() -> None:
    # multiple_faces needs 3 looks here: one look repeated over 2 s is one hit, whatever
    # the time; two more looks start it, dated from the first.
    e = engine(multiple_faces={"min_hits": 3})
    look = Observation(K.MULTIPLE_FACES, True, 10.0)
    repeats = [replace(look, ts=10.0 + i * FRAME, repeated=True) for i in range(1, 5)]
    assert run(e, [look, *repeats]) == []
    assert run(e, [Observation(K.MULTIPLE_FACES, True, 12.5)]) == []
    [started] = run(e, [Observation(K.MULTIPLE_FACES, True, 13.0)])
    assert (started.state, started.started_at) == (STARTED, 10.0)


def test_a_repeated_finding_carries_the_debounce() -> None:
    # One look at an empty chair, then the same picture: no_face starts after its 3 s.
    e = engine()
    look = Observation(K.NO_FACE, True, 10.0)
    repeats = [replace(look, ts=10.0 + i / 3, repeated=True) for i in range(1, 10)]
    events = run(e, [look, *repeats])
    assert [(ev.kind, ev.state, ev.started_at) for ev in events] == [(K.NO_FACE, STARTED, 10.0)]
