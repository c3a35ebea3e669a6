"""Partner catalogue editing (programme admins): partners, their services, point people and locations; HSDS import
by file upload (a dry run first) and the HSDS export as a download."""

from __future__ import annotations

import json

from flask import Response, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from admin.actions import panel_action
from admin.core import ADMIN, blueprint, roles
from admin.forms import flat_errors, found_or_404, load_form, refused
from admin.users import blank_to_none
from backend.common.errors import DomainError
from backend.database import db
from backend.partners import hsds_export, hsds_import
from backend.partners import service as partner_service
from backend.partners.hsds_api import IMPORT_MAX_BYTES
from backend.partners.models import Organization, Service
from backend.partners.schemas import (
    LocationSchema,
    OrganizationSchema,
    OrganizationUpdateSchema,
    PartnerContactSchema,
    ServiceInSchema,
    ServiceUpdateSchema,
)
from backend.partners.vocabulary import MOUD, PAYERS, SERVICE_TYPES

NOT_SAVED = "Nothing was saved: correct the fields marked below."
ORG_FIELDS = ("name", "alternate_name", "description", "email", "website", "phone")
SERVICE_TEXT = ("name", "description", "status", "minimum_age", "maximum_age", "eligibility_description", "hours",
                "phone", "email", "url")
CODED = {"service_types": SERVICE_TYPES, "payers": PAYERS, "moud": MOUD}
FLAGS = ("walk_in", "same_day_intake")
STATUSES = ("active", "inactive", "temporarily closed", "defunct")
CONTACT_FIELDS = ("name", "title", "phone", "email", "best_hours", "service_id")
LOCATION_FIELDS = ("name", "address_1", "city", "state_province", "postal_code", "country")


# -- reading forms -----------------------------------------------------------------------------------------------------

def _prefixed(prefix: str, names) -> dict:
    """A sub-form of a page with several (its inputs named prefix + field): the fields as typed, blank as None."""
    typed = blank_to_none(request.form, [prefix + name for name in names])
    return {name: typed[prefix + name] for name in names}


def _with_prefix(prefix: str, errors: dict) -> dict:
    return {prefix + name: texts for name, texts in flat_errors(errors).items()}


def _organization_form() -> dict:
    typed = blank_to_none(request.form, ORG_FIELDS)
    typed["description"] = typed["description"] or ""
    return typed


def _service_form() -> dict:
    """The service form as typed: the coded lists from checkboxes, languages from one comma-separated field."""
    typed = blank_to_none(request.form, SERVICE_TEXT)
    typed["status"] = typed["status"] or "active"
    for name in CODED:
        typed[name] = request.form.getlist(name)
    typed["languages"] = [code.strip().lower() for code in request.form.get("languages", "").replace(";", ",")
                          .split(",") if code.strip()]
    for flag in FLAGS:
        typed[flag] = request.form.get(flag) == "y"
    return typed


def _service_values(found: Service) -> dict:
    values = {name: getattr(found, name) for name in SERVICE_TEXT + FLAGS}
    for name, kind in partner_service.ATTRIBUTE_FIELDS.items():
        values[name] = [a.value for a in found.attributes if a.kind == kind]
    return values


# -- partners ----------------------------------------------------------------------------------------------------------

def _list_page(values: dict | None = None, errors: dict | None = None, status: int = 200):
    if errors:
        flash(NOT_SAVED, "error")
    partners = db.session.scalars(partner_service.list_organizations(current_user)).all()
    return render_template("admin/catalogue_partners.html", partners=partners, values=values or {},
                           errors=flat_errors(errors or {})), status


@blueprint.route("/catalogue/partners", methods=["GET", "POST"])
@roles(*ADMIN)
@panel_action(on_error="admin.partner_catalogue")
def partner_catalogue():
    """Every partner with its services and point people; the form adding a partner."""
    if request.method == "GET":
        return _list_page()
    typed = _organization_form()
    data, errors = load_form(OrganizationSchema(), typed)
    if data is None:
        return _list_page(typed, errors, 422)
    try:
        org = partner_service.create_organization(current_user, data)
    except DomainError as exc:
        errors, status = refused(exc, "create", "partner")
        return _list_page(typed, errors, status)
    flash(f"{org.name} is added.", "info")
    return redirect(url_for("admin.partner_page", organization_id=org.id))


def _partner_page(org: Organization, values: dict | None = None, errors: dict | None = None, status: int = 200):
    if errors:
        flash(NOT_SAVED, "error")
    current = {name: getattr(org, name) for name in ORG_FIELDS}
    return render_template("admin/partner_edit.html", org=org, values={**current, **(values or {})},
                           errors=errors or {}, service_options=[("", "The whole partner")] + [
                               (s.id, s.name) for s in org.services]), status


@blueprint.get("/catalogue/partners/<organization_id>")
@roles(*ADMIN)
@panel_action(on_error="admin.partner_catalogue")
@found_or_404
def partner_page(organization_id):
    """One partner: its details to edit, its services, point people and locations."""
    return _partner_page(partner_service.get_organization(current_user, organization_id))


@blueprint.post("/catalogue/partners/<organization_id>")
@roles(*ADMIN)
@panel_action(on_error="admin.partner_catalogue")
@found_or_404
def edit_partner(organization_id):
    """Save a partner's details (saving marks it verified today)."""
    org = partner_service.get_organization(current_user, organization_id)
    typed = _organization_form()
    changes, errors = load_form(OrganizationUpdateSchema(), typed)
    if changes is None:
        return _partner_page(org, typed, flat_errors(errors), 422)
    try:
        partner_service.update_organization(current_user, org.id, changes)
    except DomainError as exc:
        errors, status = refused(exc, "update", "partner")
        return _partner_page(org, typed, flat_errors(errors), status)
    flash(f"{org.name} is saved.", "info")
    return redirect(url_for("admin.partner_page", organization_id=org.id))


@blueprint.post("/catalogue/partners/<organization_id>/contacts")
@roles(*ADMIN)
@panel_action(on_error="admin.partner_catalogue")
@found_or_404
def add_partner_contact(organization_id):
    """Add a point person to a partner (or to one of its services)."""
    org = partner_service.get_organization(current_user, organization_id)
    typed = _prefixed("contact_", CONTACT_FIELDS)
    typed["name"] = typed["name"] or ""  # the schema lets null through (for the wire); a blank name is refused
    data, errors = load_form(PartnerContactSchema(), typed)
    if data is None:
        return _partner_page(org, _as_prefixed("contact_", typed), _with_prefix("contact_", errors), 422)
    try:
        contact = partner_service.add_contact(current_user, org.id, data)
    except DomainError as exc:
        errors, status = refused(exc, "create", "partner_contact")
        return _partner_page(org, _as_prefixed("contact_", typed), _with_prefix("contact_", errors), status)
    flash(f"{contact.name} is added as a point person.", "info")
    return redirect(url_for("admin.partner_page", organization_id=org.id))


@blueprint.post("/catalogue/partners/<organization_id>/locations")
@roles(*ADMIN)
@panel_action(on_error="admin.partner_catalogue")
@found_or_404
def add_partner_location(organization_id):
    """Add a site (address) to a partner."""
    org = partner_service.get_organization(current_user, organization_id)
    typed = _prefixed("location_", LOCATION_FIELDS)
    typed["country"] = (typed["country"] or "US").upper()
    data, errors = load_form(LocationSchema(), typed)
    if data is None:
        return _partner_page(org, _as_prefixed("location_", typed), _with_prefix("location_", errors), 422)
    partner_service.add_location(org, data, actor=current_user)
    flash("The location is added.", "info")
    return redirect(url_for("admin.partner_page", organization_id=org.id))


def _as_prefixed(prefix: str, typed: dict) -> dict:
    return {prefix + name: value for name, value in typed.items()}


# -- services ----------------------------------------------------------------------------------------------------------

def _service_page(org: Organization, found: Service | None, values: dict, errors: dict | None = None,
                  status: int = 200):
    if errors:
        flash(NOT_SAVED, "error")
    return render_template("admin/catalogue_service.html", org=org, service=found, values=values,
                           errors=flat_errors(errors or {}), coded=CODED,
                           statuses=[(status, status.capitalize()) for status in STATUSES]), status


@blueprint.route("/catalogue/partners/<organization_id>/services/new", methods=["GET", "POST"])
@roles(*ADMIN)
@panel_action(on_error="admin.partner_catalogue")
@found_or_404
def new_partner_service(organization_id):
    """The form adding a service to a partner: types, payers, ages, MOUD, languages, hours."""
    org = partner_service.get_organization(current_user, organization_id)
    if request.method == "GET":
        return _service_page(org, None, {"status": "active"})
    typed = _service_form()
    data, errors = load_form(ServiceInSchema(), typed)
    if data is None:
        return _service_page(org, None, typed, errors, 422)
    try:
        card = partner_service.create_service(current_user, org.id, data)
    except DomainError as exc:
        errors, status = refused(exc, "create", "service")
        return _service_page(org, None, typed, errors, status)
    flash(f"{card['name']} is added.", "info")
    return redirect(url_for("admin.partner_page", organization_id=org.id))


@blueprint.route("/catalogue/services/<service_id>", methods=["GET", "POST"])
@roles(*ADMIN)
@panel_action(on_error="admin.partner_catalogue")
@found_or_404
def partner_service_page(service_id):
    """Edit one service (saving marks it verified today)."""
    found = partner_service.get_service(current_user, service_id)
    org = found.organization
    if request.method == "GET":
        return _service_page(org, found, _service_values(found))
    typed = _service_form()
    changes, errors = load_form(ServiceUpdateSchema(), typed)
    if changes is None:
        return _service_page(org, found, typed, errors, 422)
    try:
        card = partner_service.update_service(current_user, found.id, changes)
    except DomainError as exc:
        errors, status = refused(exc, "update", "service")
        return _service_page(org, found, typed, errors, status)
    flash(f"{card['name']} is saved.", "info")
    return redirect(url_for("admin.partner_page", organization_id=org.id))


# -- HSDS interchange ---------------------------------------------------------------------------------------------

def _import_limit() -> int:
    return current_app.config.get("HSDS_IMPORT_MAX_BYTES", IMPORT_MAX_BYTES)


def _import_page(result: dict | None = None, errors: dict | None = None, document: str | None = None,
                 message: str | None = None, status: int = 200, error_count: int = 0):
    return render_template("admin/catalogue_import.html", result=result, errors=errors or {}, document=document,
                           message=message, error_count=error_count or len(errors or {}),
                           limit_mib=_import_limit() // 1048576), status


def _uploaded() -> str | None:
    """The document sent: the uploaded file (a dry run) or the one carried from the dry run (the import)."""
    limit = _import_limit()
    request.max_content_length = limit + 65536
    request.max_form_memory_size = limit + 65536
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        return upload.read(limit + 1).decode("utf-8", errors="replace")
    return request.form.get("document") or None


@blueprint.route("/catalogue/hsds/import", methods=["GET", "POST"])
@roles(*ADMIN)
@panel_action(on_error="admin.hsds_import")
def hsds_import_page():
    """Import an HSDS 3.0 file: a dry run first (counts, warnings and errors by JSON path), then for real."""
    if request.method == "GET":
        return _import_page()
    try:
        text = _uploaded()
    except RequestEntityTooLarge:
        return _import_page(message=f"The file is larger than {_import_limit() // 1048576} MiB.", status=413)
    if not text:
        return _import_page(message="Choose an HSDS JSON file to check.", status=422)
    if len(text.encode()) > _import_limit():
        return _import_page(message=f"The file is larger than {_import_limit() // 1048576} MiB.", status=413)
    try:
        body = json.loads(text)
    except ValueError as exc:
        return _import_page(message=f"The file is not JSON: {exc}.", status=422)
    dry_run = request.form.get("step") != "import"
    try:
        result = hsds_import.import_document(current_user, body, dry_run=dry_run)
    except DomainError as exc:
        errors, status = refused(exc, "import", "hsds")
        return _import_page(errors=errors, message=exc.message, status=status,
                            error_count=exc.extra.get("error_count", 0))
    if dry_run:
        return _import_page(result=result, document=text)
    flash("The HSDS file is imported.", "info")
    return _import_page(result=result)


@blueprint.get("/catalogue/hsds/export.json")
@roles(*ADMIN)
@panel_action(on_error="admin.partner_catalogue")
def hsds_export_download():
    """The programme's partner catalogue as HSDS 3.0 JSON (the export the API serves), as a download."""
    return Response(stream_with_context(hsds_export.export_catalogue(current_user)), mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=partner-catalogue-hsds.json"})
