"""Benchmarks for the performance targets of operations.md; results in docs/benchmarks.md.

Run from the repository root: ``python -m bench.run`` (both), ``python -m bench.ingest``,
``python -m bench.latency``. Nothing here is a test: the numbers are reported, never asserted.
"""
