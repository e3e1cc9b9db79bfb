"""Cross-cutting pieces: settings, errors, typed app keys."""
