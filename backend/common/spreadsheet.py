"""CSV that a spreadsheet opens as data: no cell is ever run as a formula (CSV/formula injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A text cell that a spreadsheet would read as a formula is prefixed with an apostrophe; others unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[dict], columns: list[str]) -> str:
    """Rows as CSV with a header, every text cell neutralised (partner names come from partners and imports)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: safe_cell(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue()
