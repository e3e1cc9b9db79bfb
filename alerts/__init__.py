"""Alerts: debounce observations into incidents, score risk, and fan incidents out to sinks."""

from alerts.engine import RuleEngine
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

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "AlertEvent",
    "IncidentState",
    "RuleBook",
    "RuleEngine",
    "RuleSettings",
    "Severity",
    "overrides_of",
    "resolve_rules",
    "rulebook_to_dict",
]
