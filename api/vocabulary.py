"""`GET /api/vocabulary`: how the pages name, colour and weigh each alert kind, and the risk
bands, so no page repeats the kinds or the thresholds: this is their one source."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from alerts.kinds import source_of
from alerts.risk import KIND_WEIGHT, RISK_BANDS
from api.operation import Call
from api.schemas import KindOut, RiskBandOut, VocabularyOut
from core.kinds import AlertKind

__all__ = ["KIND_TEXTS", "vocabulary"]


class KindText(NamedTuple):
    label: str
    """What the proctor sees."""
    notice: str
    """What the candidate is told when it starts."""
    color: str


KIND_TEXTS: Mapping[AlertKind, KindText] = MappingProxyType(
    {
        AlertKind.NO_FACE: KindText(
            "No face", "We can't see your face. Please stay in front of the camera.", "#f79009"
        ),
        AlertKind.MULTIPLE_FACES: KindText(
            "Multiple faces",
            "Someone else seems to be in view. Please make sure you are alone.",
            "#f04438",
        ),
        AlertKind.FACE_MISMATCH: KindText(
            "Different person",
            "The person in view doesn't match your reference photo.",
            "#b42318",
        ),
        AlertKind.LOOKING_AWAY: KindText(
            "Looking away", "Please keep your eyes on the exam.", "#7a5af8"
        ),
        AlertKind.TALKING: KindText("Talking", "Please don't talk during the exam.", "#0ba5ec"),
        AlertKind.SPEECH: KindText(
            "Voice detected", "Voices were detected. Please keep the room quiet.", "#06aed4"
        ),
        AlertKind.CAMERA_BLOCKED: KindText(
            "Camera blocked", "Your camera seems covered or too dark.", "#475467"
        ),
        AlertKind.STREAM_LOST: KindText(
            "Stream lost", "Your video connection was interrupted.", "#98a2b3"
        ),
        AlertKind.FOCUS_LOST: KindText(
            "Left the exam tab", "Please stay on the exam tab.", "#ee46bc"
        ),
        AlertKind.FULLSCREEN_EXIT: KindText(
            "Left fullscreen", "Please return to fullscreen.", "#9e77ed"
        ),
        AlertKind.COPY_PASTE: KindText(
            "Copy / paste", "Copying and pasting is recorded.", "#15b79e"
        ),
        AlertKind.SCREEN_SHARE_STOPPED: KindText(
            "Screen share stopped", "Please share your entire screen again.", "#dc6803"
        ),
        AlertKind.NOT_ENTIRE_SCREEN: KindText(
            "Not the entire screen",
            "Please share your entire screen, not a window or a tab.",
            "#f38744",
        ),
        AlertKind.SECOND_MONITOR: KindText(
            "Second monitor", "Please disconnect any other screen.", "#6172f3"
        ),
    }
)

_VOCABULARY = VocabularyOut(
    kinds=[
        KindOut(
            kind=kind,
            label=KIND_TEXTS[kind].label,
            notice=KIND_TEXTS[kind].notice,
            color=KIND_TEXTS[kind].color,
            risk_weight=KIND_WEIGHT.get(kind, 1.0),
            reported=source_of(kind),
        )
        for kind in AlertKind
    ],
    risk_bands=[RiskBandOut(name=name, from_score=lower) for name, lower in RISK_BANDS],
)


async def vocabulary(call: Call) -> VocabularyOut:
    return _VOCABULARY
