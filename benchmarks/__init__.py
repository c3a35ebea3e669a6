"""Benchmarks (not tests): `python -m benchmarks [--quick] [scenario ...]`, then `python -m benchmarks.render`.

Scenarios api, caseload, dispatch and partners share benchmarks/harness.py and
benchmarks/data.py, write benchmarks/results/<scenario>.json, and
benchmarks/render.py turns those into the generated blocks of docs/PERFORMANCE.md.
"""
