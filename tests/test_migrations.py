"""Migrations build the models' schema exactly, on SQLite and PostgreSQL, and undo cleanly."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from backend import create_app
from backend.config import normalise_database_url
from backend.database import db
from tests.conftest import BACKENDS, TEST_DATABASE_URL, app_config


@pytest.fixture(params=BACKENDS)
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    base = sa.engine.make_url(normalise_database_url(TEST_DATABASE_URL))
    name = f"bridgeline_migrations_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_matches_models_and_downgrade_is_clean(empty_database):
    app = create_app(app_config(empty_database, REDIS_URL=None))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diff == [], diff
        downgrade(revision="base")
        with db.engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
        upgrade()  # and back up again, as a deploy after a rollback would
        db.engine.dispose()


def test_programme_phones_become_owned_numbers_unless_shared(empty_database):
    """0010: a programme's own phone becomes its number; one two programmes share is left for the operator."""
    app = create_app(app_config(empty_database, REDIS_URL=None))
    with app.app_context():
        upgrade(revision="0009_assignment_removals")
        with db.engine.begin() as conn:
            for name, phone in (("A", "+13125550100"), ("B", "+13125550101"), ("C", "+13125550101")):
                conn.execute(sa.text("INSERT INTO programs (name, timezone, phone, created_at, updated_at) "
                                     "VALUES (:n, 'UTC', :p, :t, :t)"),
                             {"n": name, "p": phone, "t": "2026-01-01 00:00:00+00:00"})
            # Staff reference the programme, as in every real database (batch migrations must cope with that).
            conn.execute(sa.text("INSERT INTO users (program_id, email, full_name, role, active, password_hash, "
                                 "on_shift, created_at, updated_at) SELECT id, 'a@example.test', 'A', 'admin', "
                                 ":yes, 'x', :no, created_at, created_at FROM programs WHERE name = 'A'"),
                         {"yes": True, "no": False})
        upgrade()
        with db.engine.connect() as conn:
            owned = conn.execute(sa.text("SELECT p.name, n.number, n.sms, n.voice FROM program_numbers n "
                                         "JOIN programs p ON p.id = n.program_id")).all()
        assert [(name, number, bool(sms), bool(voice)) for name, number, sms, voice in owned] == [
            ("A", "+13125550100", True, True)]
        db.engine.dispose()


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="database roles are PostgreSQL's")
def test_the_app_role_can_add_to_the_audit_trail_but_never_rewrite_it(empty_database):
    """`flask db upgrade` as the owner grants the app's role INSERT and SELECT only on the audit trail."""
    if empty_database.startswith("sqlite"):
        pytest.skip("database roles are PostgreSQL's")
    owner = sa.create_engine(empty_database, isolation_level="AUTOCOMMIT")
    role = "bridgeline_app_test"
    with owner.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
            conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
    app = create_app(app_config(empty_database, REDIS_URL=None, APP_DB_ROLE=role))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    with owner.connect() as conn:
        conn.execute(sa.text("INSERT INTO audit_events (occurred_at, action, resource, outcome) "
                             "VALUES (now(), 'read', 'patient', 'success')"))
    as_app = sa.create_engine(sa.engine.make_url(empty_database).set(username=role, password=None),
                              isolation_level="AUTOCOMMIT")
    try:
        with as_app.connect() as conn:
            conn.execute(sa.text("INSERT INTO audit_events (occurred_at, action, resource, outcome) "
                                 "VALUES (now(), 'read', 'patient', 'success')"))
            assert conn.scalar(sa.text("SELECT count(*) FROM audit_events")) == 2
            conn.execute(sa.text("SELECT count(*) FROM patients"))  # the rest of the schema is the app's to use
            for attempt in ("UPDATE audit_events SET outcome = 'x'", "DELETE FROM audit_events",
                            "TRUNCATE audit_events", "ALTER TABLE audit_events DISABLE TRIGGER ALL",
                            "DROP TRIGGER audit_events_no_update_delete ON audit_events",
                            "SET session_replication_role = replica", "UPDATE audit_seals SET digest = 'x'",
                            "DELETE FROM alembic_version"):
                with pytest.raises(sa.exc.DBAPIError):
                    conn.execute(sa.text(attempt))
            assert conn.scalar(sa.text("SELECT count(*) FROM audit_events")) == 2
    finally:
        as_app.dispose()
        with owner.connect() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {role}"))
        owner.dispose()
