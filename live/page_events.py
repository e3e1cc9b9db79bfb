"""Browser events the candidate's page reports over the `proctor` data channel.

    {"type": "focus", "state": "lost" | "back"}            tab hidden or window blurred
    {"type": "fullscreen", "state": "exited" | "entered"}
    {"type": "clipboard", "action": "copy" | "cut" | "paste"}

Anything else is ignored (and logged at debug level by the caller): the page is not trusted
to be well-formed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from core.kinds import AlertKind
from detectors.base import Observation

__all__ = [
    "PAGE_EVENT",
    "ClipboardEvent",
    "FocusEvent",
    "FullscreenEvent",
    "PageEvent",
    "observation_from_page",
]


class _PageEvent(BaseModel):
    model_config = ConfigDict(frozen=True)


class FocusEvent(_PageEvent):
    """The exam tab was hidden or the window blurred ("lost"), or came back."""

    type: Literal["focus"]
    state: Literal["lost", "back"]

    def observation(self, ts: float) -> Observation:
        lost = self.state == "lost"
        return Observation(
            AlertKind.FOCUS_LOST, lost, ts, message="the exam tab lost focus" if lost else ""
        )


class FullscreenEvent(_PageEvent):
    type: Literal["fullscreen"]
    state: Literal["exited", "entered"]

    def observation(self, ts: float) -> Observation:
        exited = self.state == "exited"
        message = "fullscreen was exited" if exited else ""
        return Observation(AlertKind.FULLSCREEN_EXIT, exited, ts, message=message)


class ClipboardEvent(_PageEvent):
    type: Literal["clipboard"]
    action: Literal["copy", "cut", "paste"]

    def observation(self, ts: float) -> Observation:
        message = f"{self.action} in the exam page"
        return Observation(AlertKind.COPY_PASTE, True, ts, message=message)


PageEvent = Annotated[FocusEvent | FullscreenEvent | ClipboardEvent, Field(discriminator="type")]
PAGE_EVENT: TypeAdapter[PageEvent] = TypeAdapter(PageEvent)


def observation_from_page(message: dict[str, Any], ts: float) -> Observation | None:
    """The observation a page event stands for at `ts`; None for anything else."""
    try:
        return PAGE_EVENT.validate_python(message).observation(ts)
    except ValidationError:
        return None
