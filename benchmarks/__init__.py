"""Benchmarks: figures recorded in BENCHMARKS.md (not part of ``make test``)."""
