"""Page a select in one query (rows plus a window COUNT), whatever the page size."""

from __future__ import annotations

import json
import math

import sqlalchemy as sa

from backend.database import db


def paginate(stmt: sa.Select, page: int, page_size: int) -> tuple[list, dict]:
    """Return the rows of one page and the X-Pagination header (flask-smorest's shape).

    The total rides along each row as COUNT(*) OVER (), so a page costs one
    round trip; only a page past the end needs a separate COUNT.
    """
    rows = db.session.execute(
        stmt.add_columns(sa.func.count().over().label("_total")).limit(page_size).offset((page - 1) * page_size)
    ).all()
    total = page_total(rows, page, sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    # A select of one entity pages entities; of several, it pages rows (without the total column).
    items = [row[0] if len(row) == 2 else tuple(row[:-1]) for row in rows]
    return items, pagination_header(total, page, page_size)


def page_total(rows: list, page: int, count_query: sa.Select) -> int:
    """The total from the rows' trailing window COUNT; a page past the end runs `count_query`."""
    if rows:
        return rows[0][-1]
    return (db.session.scalar(count_query) or 0) if page > 1 else 0


def pagination_header(total: int, page: int, page_size: int) -> dict:
    """The X-Pagination header for a page of a list of `total` items."""
    last = max(1, math.ceil(total / page_size))
    meta = {"total": total, "total_pages": last, "first_page": 1, "last_page": last, "page": page}
    if page > 1:
        meta["previous_page"] = min(page - 1, last)
    if page < last:
        meta["next_page"] = page + 1
    return {"X-Pagination": json.dumps(meta)}
