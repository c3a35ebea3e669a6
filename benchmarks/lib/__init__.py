"""Reusable pieces of the benchmark scripts: database loading, servers, load generation, reporting."""
