"""What the candidate's page reports about its screen share becomes incidents through the
exam's rules (normal preset): a stopped share after its debounce, a window or tab at once,
a second monitor for as long as the screen is extended."""

from __future__ import annotations

from alerts.engine import RuleEngine
from alerts.events import IncidentState
from alerts.presets import resolve_rules
from core.kinds import AlertKind
from live.page_events import observations_from_page

K = AlertKind
STARTED, ENDED = IncidentState.STARTED, IncidentState.ENDED


def steps(engine: RuleEngine, message: dict[str, object], ts: float) -> list[tuple[str, str]]:
    observations = observations_from_page(message, ts)
    assert observations is not None, message
    return [(str(e.kind), str(e.state)) for e in engine.feed_all(observations)]


def test_screen_share_events_become_incidents() -> None:
    engine = RuleEngine(resolve_rules("normal", None))
    shared = {"type": "screen", "state": "shared", "extended": False}
    assert steps(engine, shared, 0.0) == []
    # Stopped: an incident once the 2 s debounce has passed, ended when shared again.
    assert steps(engine, {"type": "screen", "state": "stopped"}, 10.0) == []
    assert [(str(e.kind), str(e.state)) for e in engine.tick(11.0)] == []
    [started] = engine.tick(12.1)
    assert (started.kind, started.state) == (K.SCREEN_SHARE_STOPPED, STARTED)
    assert started.message == "the screen share was stopped"
    assert steps(engine, shared, 20.0) == [("screen_share_stopped", "ended")]
    # A tab instead of the screen: one complete incident, saying what was picked.
    refused = {"type": "screen", "state": "refused", "surface": "browser"}
    observations = observations_from_page(refused, 30.0)
    assert observations is not None
    events = engine.feed_all(observations)
    assert [(e.kind, e.state) for e in events] == [
        (K.NOT_ENTIRE_SCREEN, STARTED),
        (K.NOT_ENTIRE_SCREEN, ENDED),
    ]
    assert events[0].message == "a browser tab was shared instead of the entire screen"
    # A second monitor, as long as the browser says the screen is extended.
    extended = {"type": "screen", "state": "shared", "extended": True}
    assert steps(engine, extended, 40.0) == [("second_monitor", "started")]
    assert steps(engine, shared, 50.0) == [("second_monitor", "ended")]


def test_malformed_screen_events_are_ignored() -> None:
    for message in (
        {"type": "screen", "state": "paused"},
        {"type": "screen", "state": "refused", "surface": "x" * 100},
        {"type": "screen", "state": "shared", "extended": "yes please"},
    ):
        assert observations_from_page(message, 1.0) is None
