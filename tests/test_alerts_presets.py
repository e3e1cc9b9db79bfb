"""Presets and the strict validation of exam overrides."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import pytest

from alerts.events import Severity
from alerts.presets import (
    DEFAULT_PRESET,
    IDENTITY_BANDS,
    PRESETS,
    RuleSettings,
    overrides_of,
    resolve_rules,
    rulebook_to_dict,
)
from core.kinds import AlertKind

K = AlertKind


def test_every_preset_covers_every_kind() -> None:
    assert set(PRESETS) == {"strict", "normal", "lenient"}
    for rules in PRESETS.values():
        assert set(rules) == set(AlertKind)


def test_default_is_normal_with_the_documented_numbers() -> None:
    book = resolve_rules()
    assert DEFAULT_PRESET == book.preset == "normal"
    assert book[K.NO_FACE].start_after == 3
    assert book[K.MULTIPLE_FACES].start_after == 1
    assert book[K.FACE_MISMATCH].min_hits == 3
    assert book[K.FACE_MISMATCH].start_after == 1.5
    assert (book.identity.match_at_most, book.identity.mismatch_above) == (0.5, 0.65)
    assert book[K.LOOKING_AWAY].start_after == 4
    assert book[K.TALKING].start_after == 3
    assert book[K.SPEECH].start_after == 3
    assert book[K.CAMERA_BLOCKED].start_after == 2
    assert book[K.STREAM_LOST].start_after == 0
    assert book[K.FOCUS_LOST].start_after == 2
    assert book[K.FULLSCREEN_EXIT].start_after == 0
    assert book[K.COPY_PASTE].start_after == 0


def test_strict_is_never_slower_than_normal_nor_normal_than_lenient() -> None:
    strict, normal, lenient = (PRESETS[p] for p in ("strict", "normal", "lenient"))
    for kind in AlertKind:
        assert strict[kind].start_after <= normal[kind].start_after <= lenient[kind].start_after
        assert strict[kind].min_hits <= normal[kind].min_hits <= lenient[kind].min_hits
    assert strict[K.NO_FACE].start_after < lenient[K.NO_FACE].start_after
    bands = [IDENTITY_BANDS[p] for p in ("strict", "normal", "lenient")]
    assert [b.mismatch_above for b in bands] == sorted(b.mismatch_above for b in bands)


def test_event_sources_never_go_stale_and_frame_sources_do() -> None:
    # A hidden tab reports once; treating its silence as "back" would end the alert falsely.
    for rules in PRESETS.values():
        page_kinds = (K.FOCUS_LOST, K.FULLSCREEN_EXIT, K.STREAM_LOST, K.COPY_PASTE)
        screen_kinds = (K.SCREEN_SHARE_STOPPED, K.NOT_ENTIRE_SCREEN, K.SECOND_MONITOR)
        for kind in page_kinds + screen_kinds:
            assert rules[kind].stale_after is None
        for kind in (K.NO_FACE, K.LOOKING_AWAY, K.SPEECH, K.FACE_MISMATCH):
            stale = rules[kind].stale_after
            assert stale is not None and stale > rules[kind].start_after


def test_overrides_apply_on_top_of_the_preset() -> None:
    book = resolve_rules(
        "lenient", {"no_face": {"start_after": 4.5, "severity": "high", "enabled": False}}
    )
    assert book[K.NO_FACE] == RuleSettings(4.5, 2.0, 1, Severity.HIGH, False, 10.0)
    assert book[K.TALKING] == PRESETS["lenient"][K.TALKING]


def test_an_integer_is_a_valid_number_and_stale_after_may_be_null() -> None:
    book = resolve_rules("normal", {"speech": {"end_after": 5, "stale_after": None}})
    assert book[K.SPEECH].end_after == 5.0
    assert isinstance(book[K.SPEECH].end_after, float)
    assert book[K.SPEECH].stale_after is None


def test_resolved_rules_are_read_only() -> None:
    book = resolve_rules()
    with pytest.raises(TypeError):
        book.rules[K.NO_FACE] = PRESETS["strict"][K.NO_FACE]  # type: ignore[index]


@pytest.mark.parametrize(
    ("preset", "overrides", "named"),
    [
        ("paranoid", None, "'paranoid'"),
        ("normal", {"no_faces": {"start_after": 1}}, "no_faces"),
        ("normal", {"no_face": {"start_afer": 1}}, "no_face.start_afer"),
        ("normal", {"no_face": {"start_after": -1}}, "no_face.start_after"),
        ("normal", {"no_face": {"start_after": "3"}}, "no_face.start_after"),
        ("normal", {"no_face": {"start_after": True}}, "no_face.start_after"),
        ("normal", {"no_face": {"end_after": float("inf")}}, "no_face.end_after"),
        ("normal", {"no_face": {"end_after": float("nan")}}, "no_face.end_after"),
        ("normal", {"face_mismatch": {"min_hits": 0}}, "face_mismatch.min_hits"),
        ("normal", {"face_mismatch": {"min_hits": 2.0}}, "face_mismatch.min_hits"),
        ("normal", {"talking": {"severity": "critical"}}, "talking.severity"),
        ("normal", {"talking": {"enabled": "yes"}}, "talking.enabled"),
        ("normal", {"talking": {"stale_after": 0}}, "talking.stale_after"),
        ("normal", {"talking": 3}, "talking"),
        ("normal", ["no_face"], "overrides"),
    ],
)
def test_bad_input_is_rejected_naming_the_key(preset: str, overrides: Any, named: str) -> None:
    with pytest.raises(ValueError, match=r".") as error:
        resolve_rules(preset, overrides)
    assert named in str(error.value)


def test_the_bad_value_is_shown_too() -> None:
    with pytest.raises(ValueError, match=r"no_face\.start_after.*-2"):
        resolve_rules("normal", {"no_face": {"start_after": -2}})


def test_validation_covers_every_setting() -> None:
    # A new RuleSettings field must be overridable, or exams could never change it.
    every: dict[str, Any] = {
        f.name: getattr(PRESETS["normal"][K.SPEECH], f.name) for f in fields(RuleSettings)
    }
    every["severity"] = "low"
    assert resolve_rules("normal", {"speech": every})[K.SPEECH].severity is Severity.LOW


def test_rulebook_serialises_to_json() -> None:
    data = rulebook_to_dict(resolve_rules("strict"))
    assert json.loads(json.dumps(data)) == data
    assert data["preset"] == "strict"
    assert data["identity"] == {"match_at_most": 0.5, "mismatch_above": 0.6}
    assert data["rules"]["no_face"] == {
        "start_after": 2.0,
        "end_after": 3.0,
        "min_hits": 1,
        "severity": "high",
        "enabled": True,
        "stale_after": 10.0,
        "hits_within": None,
    }


def test_overrides_round_trip_through_json() -> None:
    given: dict[str, dict[str, Any]] = {
        "no_face": {"start_after": 5, "severity": "low"},
        "copy_paste": {"enabled": False},
    }
    book = resolve_rules("normal", given)
    stored = json.loads(json.dumps(overrides_of(book)))
    assert stored == {
        "no_face": {"start_after": 5.0, "severity": "low"},
        "copy_paste": {"enabled": False},
    }
    assert resolve_rules("normal", stored) == book


def test_an_override_equal_to_the_preset_is_not_stored() -> None:
    book = resolve_rules("normal", {"no_face": {"start_after": 3}})
    assert overrides_of(book) == {}
