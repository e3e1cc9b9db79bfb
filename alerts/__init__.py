"""Alerts: debounce observations into incidents, score risk, and fan incidents out to sinks."""

from alerts.dispatch import AlertDispatcher, AlertSink, DeliveredAlert
from alerts.engine import RuleEngine
from alerts.errors import AlertNotStored
from alerts.events import AlertEvent, IncidentState, Severity
from alerts.presets import (
    DEFAULT_PRESET,
    PRESETS,
    RuleBook,
    RuleSettings,
    overrides_of,
    resolve_rules,
    rulebook_to_dict,
)
from alerts.risk import risk_score

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "AlertDispatcher",
    "AlertEvent",
    "AlertNotStored",
    "AlertSink",
    "DeliveredAlert",
    "IncidentState",
    "RuleBook",
    "RuleEngine",
    "RuleSettings",
    "Severity",
    "overrides_of",
    "resolve_rules",
    "risk_score",
    "rulebook_to_dict",
]
