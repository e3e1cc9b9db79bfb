"""Turns a candidate session's observations into debounced incidents.

One `RuleEngine` per session. It is pure and synchronous: no I/O and no clock of its own; time
is whatever the observations (and `tick`/`close`) say, on the session's monotonic clock.

Per kind, with that kind's `RuleSettings`:

- An incident STARTS once the condition has held for `start_after` seconds *and* over
  `min_hits` consecutive active observations; its `started_at` is the first active ts.
- It ENDS once the condition has been clear for `end_after` seconds; `ended_at` is the first
  clear ts. A single active observation while clearing cancels the end (no flicker).
- Slow to accuse, quick to forgive: for SAMPLED kinds (frames, audio, identity checks) the
  start needs observations spanning `start_after`, so one bad frame followed by silence never
  starts anything; a clear state, once reported, holds until the next observation, so `tick`
  can end an incident without further input. LEVEL kinds (a hidden tab) hold either way.
- A kind with no observation for `stale_after` seconds counts as cleared: a pending run is
  dropped and an open incident ends at its first clear ts, or else at its last observation.
- ONE_SHOT kinds (copy_paste) start and end on the same observation.
- `hits_within`: a pending run whose next hit comes later than this after the previous one
  starts over at that hit (sparse checks with a long gap between are not "in a row").
- A `repeated` observation (a still picture's last finding, not looked at again) keeps the
  run's time but is not a hit: `min_hits` counts looks, not frames.
- Observations at or before the kind's last accepted ts are ignored, so duplicates and late
  arrivals cannot reorder an incident; a `tick` earlier than a previous one does nothing.

`tick(now)` and `close(now)` take `now` on the observation clock. If analysis lags real time,
pass the ts of the latest analysed input, not the wall clock, or a clear state may be held
over frames that are still being analysed.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from alerts.events import AlertEvent, IncidentState, Severity
from alerts.kinds import Source, source_of
from alerts.presets import RuleBook, RuleSettings
from core.kinds import AlertKind
from detectors.base import Observation

# A rise smaller than this is detector noise, not news for the proctor.
CONFIDENCE_STEP = 0.1


def _new_id() -> str:
    return uuid.uuid4().hex


def _confidence(value: float) -> float:
    # A NaN from a detector must not poison max() for the rest of the incident.
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0


@dataclass(slots=True)
class _Incident:
    id: str
    started_at: float
    confidence: float
    message: str
    # What the proctor was last told, to decide whether an update is news.
    told_confidence: float
    told_message: str
    told_at: float


@dataclass(slots=True)
class _Tracker:
    """Debounce state for one kind."""

    kind: AlertKind
    rule: RuleSettings
    source: Source
    update_interval: float
    new_id: Callable[[], str]
    clock: float = -math.inf
    """Latest time this kind has been advanced to, by an observation or a tick."""
    last_ts: float | None = None
    """ts of the last accepted observation."""
    run_since: float | None = None
    """First ts of the current run of active observations."""
    hits: int = 0
    last_hit: float | None = None
    """ts of the current run's latest hit."""
    run_confidence: float = 0.0
    run_message: str = ""
    incident: _Incident | None = None
    clear_since: float | None = None
    """First clear ts while an incident is open."""

    def observe(self, obs: Observation) -> list[AlertEvent]:
        ts = obs.ts
        # Not against `clock`: a tick may run ahead of a slower source (audio behind video).
        if not math.isfinite(ts) or (self.last_ts is not None and ts <= self.last_ts):
            return []
        if self.source is Source.ONE_SHOT:
            self.last_ts, self.clock = ts, max(self.clock, ts)
            return self._one_shot(obs) if obs.active else []
        events = self.advance(ts)
        self.last_ts = ts
        if obs.active:
            events.extend(self._active(obs))
        else:
            events.extend(self._clear(ts))
        return events

    def advance(self, now: float) -> list[AlertEvent]:
        """Apply the passage of time up to `now` with no new observation."""
        if not math.isfinite(now) or now < self.clock:
            return []
        self.clock = now
        rule = self.rule
        if (
            rule.stale_after is not None
            and self.last_ts is not None
            and now - self.last_ts > rule.stale_after
        ):
            return self._went_silent()
        if self.incident is not None:
            if self.clear_since is not None and now - self.clear_since >= rule.end_after:
                return [self._end(self.clear_since)]
        elif self.source is Source.LEVEL and self._start_due(now):
            return [self._start()]
        return []

    def close(self, now: float) -> list[AlertEvent]:
        events = self.advance(now)
        if self.incident is not None:
            # Still active when the session ended: it lasted until the end.
            at = self.clear_since if self.clear_since is not None else max(now, self.clock)
            events.append(self._end(at))
        self._reset_run()
        return events

    # --- transitions --------------------------------------------------------------------------

    def _active(self, obs: Observation) -> list[AlertEvent]:
        confidence = _confidence(obs.confidence)
        incident = self.incident
        if incident is not None:
            self.clear_since = None
            incident.confidence = max(incident.confidence, confidence)
            incident.message = obs.message or incident.message
            return self._maybe_update(obs.ts)
        within = self.rule.hits_within
        if (
            within is not None
            and not obs.repeated
            and self.last_hit is not None
            and obs.ts - self.last_hit > within
        ):
            self._reset_run()  # the previous hits are too far back to count with this one
        if self.run_since is None:
            self.run_since, self.hits = obs.ts, 0
            self.run_confidence, self.run_message = 0.0, ""
        if not obs.repeated:
            self.hits += 1
            self.last_hit = obs.ts
        self.run_confidence = max(self.run_confidence, confidence)
        self.run_message = obs.message or self.run_message
        return [self._start()] if self._start_due(obs.ts) else []

    def _clear(self, ts: float) -> list[AlertEvent]:
        self._reset_run()
        if self.incident is None:
            return []
        if self.clear_since is None:
            self.clear_since = ts
        if ts - self.clear_since >= self.rule.end_after:
            return [self._end(self.clear_since)]
        return []

    def _went_silent(self) -> list[AlertEvent]:
        self._reset_run()
        if self.incident is None:
            return []
        assert self.last_ts is not None  # an incident needs at least one observation
        at = self.clear_since if self.clear_since is not None else self.last_ts
        return [self._end(at)]

    def _start_due(self, now: float) -> bool:
        return (
            self.run_since is not None
            and self.hits >= self.rule.min_hits
            and now - self.run_since >= self.rule.start_after
        )

    def _start(self) -> AlertEvent:
        assert self.run_since is not None
        incident = _Incident(
            id=self.new_id(),
            started_at=self.run_since,
            confidence=self.run_confidence,
            message=self.run_message,
            told_confidence=self.run_confidence,
            told_message=self.run_message,
            told_at=self.clock,
        )
        self.incident, self.clear_since = incident, None
        self._reset_run()
        return self._event(incident, IncidentState.STARTED, None)

    def _maybe_update(self, ts: float) -> list[AlertEvent]:
        incident = self.incident
        assert incident is not None
        news = (
            incident.message != incident.told_message
            or incident.confidence > incident.told_confidence + CONFIDENCE_STEP
        )
        # Rate-limited so a detector alternating two messages cannot emit one per frame.
        if not news or ts - incident.told_at < self.update_interval:
            return []
        incident.told_confidence, incident.told_message = incident.confidence, incident.message
        incident.told_at = ts
        return [self._event(incident, IncidentState.UPDATED, None)]

    def _end(self, at: float) -> AlertEvent:
        incident = self.incident
        assert incident is not None
        self.incident, self.clear_since = None, None
        return self._event(incident, IncidentState.ENDED, max(at, incident.started_at))

    def _one_shot(self, obs: Observation) -> list[AlertEvent]:
        confidence = _confidence(obs.confidence)
        incident = _Incident(
            self.new_id(), obs.ts, confidence, obs.message, confidence, obs.message, obs.ts
        )
        return [
            self._event(incident, IncidentState.STARTED, None),
            self._event(incident, IncidentState.ENDED, obs.ts),
        ]

    def _reset_run(self) -> None:
        self.run_since, self.hits, self.last_hit = None, 0, None

    def _event(
        self, incident: _Incident, state: IncidentState, ended_at: float | None
    ) -> AlertEvent:
        return AlertEvent(
            incident_id=incident.id,
            kind=self.kind,
            state=state,
            severity=Severity(self.rule.severity),
            started_at=incident.started_at,
            ended_at=ended_at,
            confidence=incident.confidence,
            message=incident.message,
        )


class RuleEngine:
    """Debounces one session's observations into started/updated/ended alert events."""

    def __init__(
        self,
        rules: RuleBook,
        *,
        update_interval: float = 5.0,
        new_id: Callable[[], str] = _new_id,
    ) -> None:
        """`update_interval`: least seconds between two events of one incident that are
        only news (a new message, confidence up by more than CONFIDENCE_STEP)."""
        self._trackers = {
            AlertKind(kind): _Tracker(
                kind=AlertKind(kind),
                rule=rule,
                source=source_of(AlertKind(kind)),
                update_interval=update_interval,
                new_id=new_id,
            )
            for kind, rule in rules.rules.items()
            if rule.enabled
        }
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def feed(self, obs: Observation) -> list[AlertEvent]:
        """Events caused by one observation; disabled or unknown kinds are ignored."""
        tracker = self._trackers.get(obs.kind)
        if self._closed or tracker is None:
            return []
        return tracker.observe(obs)

    def feed_all(self, observations: Iterable[Observation]) -> list[AlertEvent]:
        """`feed` for each observation in order, e.g. a `FrameAnalysis.observations`."""
        return [event for obs in observations for event in self.feed(obs)]

    def tick(self, now: float) -> list[AlertEvent]:
        """Events due by `now` without new input: ends after a clear spell, stale sources,
        and starts of LEVEL kinds that have now held long enough."""
        if self._closed:
            return []
        return [event for t in self._trackers.values() for event in t.advance(now)]

    def close(self, now: float) -> list[AlertEvent]:
        """End every open incident (session submitted or ended); later input is ignored."""
        if self._closed:
            return []
        self._closed = True
        return [event for t in self._trackers.values() for event in t.close(now)]
