"""A bare Flask app: the ceiling the API benchmark compares against.

Same interpreter, same gunicorn settings, no database, no extensions: what
Flask and gunicorn cost on this machine for a small JSON list. Served by the
api scenario (benchmarks/api.py) as ``gunicorn ... 'benchmarks.bare_app:app'``.
"""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)

ITEMS = [
    {"id": 1, "name": "alpha", "active": True},
    {"id": 2, "name": "bravo", "active": False},
    {"id": 3, "name": "charlie", "active": True},
]


@app.get("/bare")
def bare():
    """A small JSON list, nothing else."""
    return jsonify(ITEMS)
