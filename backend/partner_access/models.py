"""PartnerKey: an API key a programme admin issued to a partner's system; only its digest is kept."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import db, utcnow


class PartnerKey(db.Model):
    """One key: its programme, the partner organisation it speaks for (required for FHIR), its scopes.

    The secret is shown once, at issue; the table holds its public look-up part (`lookup`, also shown in the
    panel so a partner's IT lead can tell keys apart) and the SHA-256 digest of the whole key.
    """

    __tablename__ = "partner_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"), index=True)
    organization_id: Mapped[str | None] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    lookup: Mapped[str] = mapped_column(sa.String(16), unique=True)
    digest: Mapped[str] = mapped_column(sa.String(64))
    scopes: Mapped[list] = mapped_column(sa.JSON)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def prefix(self) -> str:
        """What the key starts with (safe to show): `blk_` and the look-up part."""
        return f"blk_{self.lookup}"
