"""Browser events the candidate's page reports over the `proctor` data channel.

    {"type": "focus", "state": "lost" | "back"}            tab hidden or window blurred
    {"type": "fullscreen", "state": "exited" | "entered"}
    {"type": "clipboard", "action": "copy" | "cut" | "paste"}
    {"type": "screen", "state": "shared" | "stopped" | "refused",
     "surface": "monitor" | "window" | "browser" | ..., "extended": bool}
                                                           the screen share (exams that
                                                           record the screen): "refused" when
                                                           the candidate picked a window or a
                                                           tab, which the page does not send

Anything else is ignored (and logged at debug level by the caller): the page is not trusted
to be well-formed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from core.kinds import AlertKind
from detectors.base import Observation

__all__ = [
    "PAGE_EVENT",
    "ClipboardEvent",
    "FocusEvent",
    "FullscreenEvent",
    "PageEvent",
    "ScreenEvent",
    "observations_from_page",
]


class _PageEvent(BaseModel):
    model_config = ConfigDict(frozen=True)


class FocusEvent(_PageEvent):
    """The exam tab was hidden or the window blurred ("lost"), or came back."""

    type: Literal["focus"]
    state: Literal["lost", "back"]

    def observations(self, ts: float) -> list[Observation]:
        lost = self.state == "lost"
        message = "the exam tab lost focus" if lost else ""
        return [Observation(AlertKind.FOCUS_LOST, lost, ts, message=message)]


class FullscreenEvent(_PageEvent):
    type: Literal["fullscreen"]
    state: Literal["exited", "entered"]

    def observations(self, ts: float) -> list[Observation]:
        exited = self.state == "exited"
        message = "fullscreen was exited" if exited else ""
        return [Observation(AlertKind.FULLSCREEN_EXIT, exited, ts, message=message)]


class ClipboardEvent(_PageEvent):
    type: Literal["clipboard"]
    action: Literal["copy", "cut", "paste"]

    def observations(self, ts: float) -> list[Observation]:
        message = f"{self.action} in the exam page"
        return [Observation(AlertKind.COPY_PASTE, True, ts, message=message)]


_SURFACES = {"window": "a window", "browser": "a browser tab", "application": "an application"}


class ScreenEvent(_PageEvent):
    """The candidate's screen share started ("shared", with whether the browser says the
    screen is extended over several monitors), ended, or was refused by the page because
    it was not the entire screen (`surface` says what was picked)."""

    type: Literal["screen"]
    state: Literal["shared", "stopped", "refused"]
    surface: Annotated[str, StringConstraints(max_length=32)] | None = None
    extended: bool | None = None
    """`window.screen.isExtended` where the browser has it (Chromium)."""

    def observations(self, ts: float) -> list[Observation]:
        if self.state == "refused":
            picked = _SURFACES.get(self.surface or "", "something else")
            message = f"{picked} was shared instead of the entire screen"
            return [Observation(AlertKind.NOT_ENTIRE_SCREEN, True, ts, message=message)]
        stopped = self.state == "stopped"
        found = [
            Observation(
                AlertKind.SCREEN_SHARE_STOPPED,
                stopped,
                ts,
                message="the screen share was stopped" if stopped else "",
            )
        ]
        if self.extended is not None:
            message = "the screen extends over a second monitor" if self.extended else ""
            found.append(Observation(AlertKind.SECOND_MONITOR, self.extended, ts, message=message))
        return found


PageEvent = Annotated[
    FocusEvent | FullscreenEvent | ClipboardEvent | ScreenEvent, Field(discriminator="type")
]
PAGE_EVENT: TypeAdapter[PageEvent] = TypeAdapter(PageEvent)


def observations_from_page(message: dict[str, Any], ts: float) -> list[Observation] | None:
    """The observations a page event stands for at `ts`; None for anything else."""
    try:
        return PAGE_EVENT.validate_python(message).observations(ts)
    except ValidationError:
        return None
