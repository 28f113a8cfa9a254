"""Unit tier: fast, deterministic, in-process (``python -m pytest tests/unit``; under a minute on 2 cores)."""
