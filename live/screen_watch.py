"""Whether a candidate who must share the screen does, judged from the connection itself.

The page reports its screen share (`live.page_events.ScreenEvent`), but a page can be
silenced or altered; the server sees what it receives. Every change of the share is a new
offer from the page (with the screen as a second video track, or without it), so each
accepted offer says whether the screen is there. A connection without it raises
`screen_share_stopped` at once once the screen has been seen in this attempt, and after
`grace` seconds otherwise (the candidate is still choosing it in the browser's picker);
the next connection with it ends the incident. LEVEL, like the page's own reports of the
same kind: either source's change holds until the next one.
"""

from __future__ import annotations

from core.kinds import AlertKind
from detectors.base import Observation

__all__ = ["ScreenWatch"]


class ScreenWatch:
    """`connected(has_screen, now)` for each accepted offer; `observations(now)` every tick."""

    def __init__(self, grace: float) -> None:
        self._grace = grace
        self._seen = False
        self._missing_from: float | None = None
        """When its absence counts (in the future during the first grace)."""
        self._reported = False

    def connected(self, has_screen: bool, now: float) -> None:
        if has_screen:
            self._seen, self._missing_from = True, None
        elif self._missing_from is None:
            self._missing_from = now if self._seen else now + self._grace

    def observations(self, now: float) -> list[Observation]:
        since = self._missing_from
        if since is not None and now >= since and not self._reported:
            self._reported = True
            message = (
                "the candidate's connection no longer carries the screen"
                if self._seen
                else f"the screen was not shared within {self._grace:g} s of connecting"
            )
            return [Observation(AlertKind.SCREEN_SHARE_STOPPED, True, since, message=message)]
        if since is None and self._reported:
            self._reported = False
            return [Observation(AlertKind.SCREEN_SHARE_STOPPED, False, now)]
        return []
