"""The database roles of a production deployment: migrations run as the owner, the app as a role that may
only add to and read the audit trail (no UPDATE, DELETE, TRUNCATE or ALTER, and not the tables' owner)."""

from __future__ import annotations

import re

import sqlalchemy as sa

APPEND_ONLY = ("audit_events", "audit_seals")
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grant_app_role(connection: sa.Connection, role: str) -> None:
    """Give the app's role what it needs on every table, and only INSERT and SELECT on the audit trail."""
    if not ROLE_NAME.fullmatch(role):
        raise ValueError("BRIDGELINE_APP_ROLE must be a plain lower-case role name")
    for statement in (
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE ALL ON {', '.join(APPEND_ONLY)} FROM {role}",
        f"GRANT SELECT, INSERT ON {', '.join(APPEND_ONLY)} TO {role}",
        f"REVOKE ALL ON alembic_version FROM {role}",
        f"GRANT SELECT ON alembic_version TO {role}",  # readiness compares it with the migrations' head
    ):
        connection.execute(sa.text(statement))
