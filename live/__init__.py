"""Live proctoring: one `LiveSession` per active attempt, wiring the candidate's peer
connection, the samplers, the detectors, the rule engine and the alert sinks together."""
