"""Benchmarks (scripts, not tests): see benchmarks/api.py and docs/PERFORMANCE.md."""
