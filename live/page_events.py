"""Browser events the candidate's page reports over the `proctor` data channel.

    {"type": "focus", "state": "lost" | "back"}            tab hidden or window blurred
    {"type": "fullscreen", "state": "exited" | "entered"}
    {"type": "clipboard", "action": "copy" | "cut" | "paste"}

Anything else is ignored (and logged at debug level): the page is not trusted to be well-formed.
"""

from __future__ import annotations

from typing import Any

from core.kinds import AlertKind
from detectors.base import Observation

_LEVELS = {
    ("focus", "lost"): (AlertKind.FOCUS_LOST, True, "the exam tab lost focus"),
    ("focus", "back"): (AlertKind.FOCUS_LOST, False, ""),
    ("fullscreen", "exited"): (AlertKind.FULLSCREEN_EXIT, True, "fullscreen was exited"),
    ("fullscreen", "entered"): (AlertKind.FULLSCREEN_EXIT, False, ""),
}
_CLIPBOARD = {"copy", "cut", "paste"}


def observation_from_page(message: dict[str, Any], ts: float) -> Observation | None:
    kind = message.get("type")
    if kind == "clipboard" and message.get("action") in _CLIPBOARD:
        action = message["action"]
        return Observation(AlertKind.COPY_PASTE, True, ts, message=f"{action} in the exam page")
    level = _LEVELS.get((str(kind), str(message.get("state"))))
    if level is None:
        return None
    alert_kind, active, text = level
    return Observation(alert_kind, active, ts, message=text)
