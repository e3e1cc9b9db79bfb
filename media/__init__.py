"""Media ingest: reading remote tracks and sampling them for the detectors."""
