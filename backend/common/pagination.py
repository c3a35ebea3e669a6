"""Paging helpers: a page of a select, its total, the X-Pagination header."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import sqlalchemy as sa

from backend.database import db

PAGING_KEYS = ("page", "page_size")


def filters(query: dict) -> dict:
    """A parsed query string without its paging parameters (what a list service filters on)."""
    return {k: v for k, v in query.items() if k not in PAGING_KEYS}


def paginate(stmt: sa.Select, query: dict) -> tuple[list, dict]:
    """Return the rows of the page `query` asks for and the X-Pagination header (flask-smorest's shape).

    Two statements whatever the page size: a COUNT and the page. (A window COUNT
    in the page query saves a round trip but makes a programme-wide first page
    read every row instead of 25 from the index.)
    """
    items, total = page_of(stmt, query["page"], query["page_size"])
    return items, pagination_header(total, query["page"], query["page_size"])


def page_of(stmt: sa.Select, page: int, page_size: int) -> tuple[list, int]:
    """The rows of one page of a select and the select's total (a COUNT and the page)."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.session.execute(stmt.limit(page_size).offset((page - 1) * page_size)).all()
    # A select of one entity pages entities; of several, it pages rows.
    items = [row[0] if len(row) == 1 else tuple(row) for row in rows]
    return items, total


def page_total(rows: list, page: int, count_query: Callable[[], sa.Select]) -> int:
    """The total from the rows' trailing window COUNT; only a page past the end builds and runs `count_query()`."""
    if rows:
        return rows[0][-1]
    return (db.session.scalar(count_query()) or 0) if page > 1 else 0


def pagination_header(total: int, page: int, page_size: int) -> dict:
    """The X-Pagination header for a page of a list of `total` items."""
    last = max(1, math.ceil(total / page_size))
    meta = {"total": total, "total_pages": last, "first_page": 1, "last_page": last, "page": page}
    if page > 1:
        meta["previous_page"] = min(page - 1, last)
    if page < last:
        meta["next_page"] = page + 1
    return {"X-Pagination": json.dumps(meta)}
