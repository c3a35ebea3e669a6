"""Catalogue answers cached per programme until its catalogue changes.

Every coach of a programme searches the same catalogue, and it changes a few
times an hour (a capacity report, an edit, an import), so a search answer is
kept under the programme's catalogue token. Any commit that wrote a partner,
service, attribute, location, point person or capacity report replaces the
token (a random one, so a restored database or a fresh test database never
meets old entries); the next search misses and recomputes. Entries also
expire after CATALOGUE_CACHE_SECONDS, which bounds how late a capacity report
is shown as stale after its 24 hours (checked against our own clock, not only
the cache server's TTL). Only catalogue data is cached, never patient data; a
cache that is down is skipped, never an error, and after a failure it is left
alone for BREAKER_SECONDS, so an outage costs searches nothing.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, Response, current_app, request
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.common.pagination import pagination_header
from backend.database import db, utcnow
from backend.extensions import cache
from backend.partners.models import (
    CapacityReport,
    CatalogueVersion,
    Location,
    Organization,
    PartnerContact,
    Service,
    ServiceAttribute,
)
from backend.users.models import User

log = logging.getLogger(__name__)
BREAKER_SECONDS = 30
PENDING = "bridgeline_catalogue_changed"  # session.info key: programmes whose catalogue this transaction wrote


def init_catalogue_cache(app: Flask) -> None:
    """Bind the cache and watch sessions for catalogue writes (listeners are registered once)."""
    cache.init_app(app)
    app.extensions["catalogue_cache_breaker"] = Breaker()
    if not sa.event.contains(Session, "after_flush", _note_catalogue_writes):
        sa.event.listen(Session, "after_flush", _note_catalogue_writes)
        sa.event.listen(Session, "before_commit", _replace_tokens)
        sa.event.listen(Session, "after_rollback", _forget_writes)


def _program_of(session: Session, obj) -> int | None:
    if isinstance(obj, Organization | Service):
        return obj.program_id
    parent = None
    if isinstance(obj, ServiceAttribute | CapacityReport):
        parent = session.get(Service, obj.service_id) if obj.service_id else None
    elif isinstance(obj, Location | PartnerContact):
        parent = session.get(Organization, obj.organization_id) if obj.organization_id else None
    return parent.program_id if parent is not None else None


def _note_catalogue_writes(session: Session, _context) -> None:
    with session.no_autoflush:
        programs = {_program_of(session, obj) for obj in itertools.chain(session.new, session.dirty, session.deleted)
                    if isinstance(obj, Organization | Service | ServiceAttribute | CapacityReport | Location
                                  | PartnerContact)}
    programs.discard(None)
    if programs:
        session.info.setdefault(PENDING, set()).update(programs)


def _replace_tokens(session: Session) -> None:
    # At commit, not at flush: the token row is locked last, so no transaction holding it waits on another.
    session.flush()
    programs = session.info.pop(PENDING, None)
    if not programs:
        return
    connection = session.connection()
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    for program_id in sorted(programs):
        stmt = insert(CatalogueVersion).values(program_id=program_id, token=uuid.uuid4().hex, changed_at=utcnow())
        connection.execute(stmt.on_conflict_do_update(
            index_elements=[CatalogueVersion.program_id],
            set_={"token": stmt.excluded.token, "changed_at": stmt.excluded.changed_at}))


def _forget_writes(session: Session) -> None:
    session.info.pop(PENDING, None)


def catalogue_token(program_id: int) -> str | None:
    """The programme's current catalogue token (None until its catalogue is first written)."""
    return db.session.scalar(sa.select(CatalogueVersion.token).where(CatalogueVersion.program_id == program_id))


def _key(program_id: int, token: str, name: str, query: dict) -> str:
    # Values within a filter are alternatives, so their order does not change the answer.
    canonical = {k: sorted(v) if isinstance(v, list) else v for k, v in query.items()}
    digest = hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f"catalogue:{program_id}:{token}:{name}:{digest}"


class Breaker:
    """After a cache failure, this process leaves the cache alone for a while (each try could wait on timeouts)."""

    def __init__(self) -> None:
        self.open_until: datetime | None = None

    def allows(self) -> bool:
        return self.open_until is None or utcnow() >= self.open_until

    def trip(self) -> None:
        self.open_until = utcnow() + timedelta(seconds=BREAKER_SECONDS)


def _cache_call(operation: str, *args):
    breaker = current_app.extensions["catalogue_cache_breaker"]
    if not breaker.allows():
        return None
    try:
        return getattr(cache, operation)(*args)
    except Exception:  # noqa: BLE001 - a cache outage must cost speed, never the answer
        log.warning("catalogue cache %s failed; answering without it for %d s", operation, BREAKER_SECONDS,
                    exc_info=True)
        breaker.trip()
        return None


def cached_page(actor: User, name: str, query: dict, search: Callable[..., tuple[list, int]], schema) -> Response:
    """A JSON page of `search(actor, **query)` dumped with `schema`, from the cache while the catalogue is unchanged.

    The answer carries an ETag: an app that sends it back in If-None-Match gets 304 and no body while
    nothing changed (a phone on a weak signal re-checks its saved list for a few bytes).
    """
    seconds = current_app.config["CATALOGUE_CACHE_SECONDS"]
    token = catalogue_token(actor.program_id) if seconds > 0 else None
    key = _key(actor.program_id, token, name, query) if token else None
    entry = _cache_call("get", key) if key else None
    if entry is not None and len(entry) == 4 and entry[3] <= utcnow().timestamp():
        entry = None  # past its time by our clock, whatever the cache server's TTL says
    if entry is None:
        items, total = search(actor, **query)
        body = current_app.json.dumps(schema.dump(items), separators=(",", ":"))
        entry = (body, pagination_header(total, query["page"], query["page_size"]),
                 hashlib.sha256(body.encode()).hexdigest()[:32], utcnow().timestamp() + seconds)
        if key:
            _cache_call("set", key, entry, seconds)
    body, headers, etag = entry[:3]
    # private: answers depend on the caller's programme; no-cache: revalidate with the ETag before reuse.
    response = Response(body, mimetype="application/json", headers={**headers, "Cache-Control": "private, no-cache"})
    response.set_etag(etag)
    return response.make_conditional(request)
