"""Detectors: models that turn frames and audio into observations."""
