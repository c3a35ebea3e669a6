"""Page a select: one COUNT and one page query, whatever the page size."""

from __future__ import annotations

import json
import math

import sqlalchemy as sa

from backend.database import db


def paginate(stmt: sa.Select, page: int, page_size: int) -> tuple[list, dict]:
    """Return the rows of one page and the X-Pagination header (flask-smorest's shape)."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    items = list(db.session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)).unique())
    return items, pagination_header(total or 0, page, page_size)


def pagination_header(total: int, page: int, page_size: int) -> dict:
    """The X-Pagination header for a page of a list of `total` items."""
    last = max(1, math.ceil(total / page_size))
    meta = {"total": total, "total_pages": last, "first_page": 1, "last_page": last, "page": page}
    if page > 1:
        meta["previous_page"] = min(page - 1, last)
    if page < last:
        meta["next_page"] = page + 1
    return {"X-Pagination": json.dumps(meta)}
