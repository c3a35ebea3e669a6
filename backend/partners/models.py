"""Partner organisations, their services, locations, point people and capacity reports."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.database import TimestampMixin, db, utcnow


def new_id() -> str:
    return str(uuid.uuid4())


class Organization(TimestampMixin, db.Model):
    __tablename__ = "organizations"
    __table_args__ = (sa.Index("ix_organizations_program_id_name", "program_id", "name"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    name: Mapped[str] = mapped_column(sa.Text)
    alternate_name: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    email: Mapped[str | None] = mapped_column(sa.String(254))
    website: Mapped[str | None] = mapped_column(sa.String(500))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    last_verified_at: Mapped[datetime | None]
    # HSDS fields this product does not model, kept so an import exports unchanged.
    hsds_extra: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    services: Mapped[list[Service]] = relationship(back_populates="organization", order_by="Service.name")
    contacts: Mapped[list[PartnerContact]] = relationship(order_by="PartnerContact.name")
    locations: Mapped[list[Location]] = relationship(order_by="Location.name")


class Location(db.Model):
    __tablename__ = "locations"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    name: Mapped[str | None] = mapped_column(sa.Text)
    address_1: Mapped[str | None] = mapped_column(sa.String(200))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    state_province: Mapped[str | None] = mapped_column(sa.String(100))
    postal_code: Mapped[str | None] = mapped_column(sa.String(20))
    country: Mapped[str] = mapped_column(sa.String(2), default="US")


class Service(TimestampMixin, db.Model):
    __tablename__ = "services"
    __table_args__ = (sa.Index("ix_services_program_id_name", "program_id", "name"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    location_id: Mapped[str | None] = mapped_column(sa.ForeignKey("locations.id"))
    name: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(30), default="active")
    minimum_age: Mapped[int | None]
    maximum_age: Mapped[int | None]
    eligibility_description: Mapped[str | None] = mapped_column(sa.Text)
    walk_in: Mapped[bool] = mapped_column(default=False)
    same_day_intake: Mapped[bool] = mapped_column(default=False)
    hours: Mapped[str | None] = mapped_column(sa.String(500))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    url: Mapped[str | None] = mapped_column(sa.String(500))
    last_verified_at: Mapped[datetime | None]
    hsds_extra: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # The newest capacity report, kept on the service so a search joins one row by key
    # instead of grouping the whole report history.
    latest_capacity_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("capacity_reports.id", use_alter=True, name="fk_services_latest_capacity_id_capacity_reports"))

    organization: Mapped[Organization] = relationship(back_populates="services")
    attributes: Mapped[list[ServiceAttribute]] = relationship(
        cascade="all, delete-orphan", order_by="(ServiceAttribute.kind, ServiceAttribute.value)")


class ServiceAttribute(db.Model):
    """One coded fact about a service (a service type, a payer, a MOUD, a language), for filtering."""

    __tablename__ = "service_attributes"
    __table_args__ = (sa.Index("ix_service_attributes_kind_value", "kind", "value", "service_id"),)

    service_id: Mapped[str] = mapped_column(sa.ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(40), primary_key=True)


class PartnerContact(db.Model):
    """The right person to call at a partner: name, role, direct line, best hours."""

    __tablename__ = "partner_contacts"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    service_id: Mapped[str | None] = mapped_column(sa.ForeignKey("services.id"))
    name: Mapped[str] = mapped_column(sa.Text)
    title: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    best_hours: Mapped[str | None] = mapped_column(sa.String(200))


class CapacityReport(db.Model):
    """What a coach learned about free capacity (shaped after HSDS 3.1 service_capacity)."""

    __tablename__ = "capacity_reports"
    __table_args__ = (sa.Index("ix_capacity_reports_service_id_reported_at", "service_id", "reported_at"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(sa.ForeignKey("services.id"))
    unit: Mapped[str] = mapped_column(sa.String(20))
    available: Mapped[int]
    maximum: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(sa.String(500))
    reported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogueVersion(db.Model):
    """A random token per programme, replaced whenever its catalogue changes: cached searches key on it."""

    __tablename__ = "catalogue_versions"

    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"), primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32))
    changed_at: Mapped[datetime]
