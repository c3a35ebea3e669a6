"""Benchmarks (scripts, not tests): benchmarks/api.py and benchmarks/caseload.py, pieces in benchmarks/lib/.

Results go to docs/PERFORMANCE.md.
"""
