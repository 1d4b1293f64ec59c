"""Benchmarks (``make bench``). Each module's ``collect()`` returns metrics for latest.json."""
