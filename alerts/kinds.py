"""How each alert kind is reported, which decides how the rule engine reads silence.

- SAMPLED: re-reported on every analysed frame or check. A state counts only over the span
  that observations confirm, and a source that goes quiet is treated as cleared.
- LEVEL: reported only when it changes (tab hidden, then visible again). The last report
  holds until the next one, however long that takes.
- ONE_SHOT: a single event with no end (a paste). Each one is a complete incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from core.kinds import AlertKind


class Source(StrEnum):
    SAMPLED = "sampled"
    LEVEL = "level"
    ONE_SHOT = "one_shot"


_SOURCES: Mapping[AlertKind, Source] = MappingProxyType(
    {
        # Raised by the session lifecycle after its own grace period, cleared on reconnect.
        AlertKind.STREAM_LOST: Source.LEVEL,
        # Browser events from the candidate's page over the data channel.
        AlertKind.FOCUS_LOST: Source.LEVEL,
        AlertKind.FULLSCREEN_EXIT: Source.LEVEL,
        AlertKind.COPY_PASTE: Source.ONE_SHOT,
        AlertKind.SCREEN_SHARE_STOPPED: Source.LEVEL,
        AlertKind.NOT_ENTIRE_SCREEN: Source.ONE_SHOT,
        AlertKind.SECOND_MONITOR: Source.LEVEL,
    }
)


def source_of(kind: AlertKind) -> Source:
    """Frame and audio detectors are the common case, so anything unlisted is SAMPLED."""
    return _SOURCES.get(kind, Source.SAMPLED)
