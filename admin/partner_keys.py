"""Partner system keys: issue (name, scopes, partner), the secret shown once, revoke (admins)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin.actions import panel_action
from admin.core import ADMIN, blueprint, roles
from admin.forms import ConfirmForm, found_or_404, load_form, programme_time, refused
from backend.common.errors import DomainError
from backend.database import db
from backend.partner_access import service as keys_service
from backend.partner_access.schemas import PartnerKeyCreateSchema

NO_STORE = {"Cache-Control": "no-store"}  # the page with a secret key is never kept
NOT_SAVED = "No key was issued: correct the fields marked below."


def _list_page(values: dict | None = None, errors: dict | None = None, status: int = 200):
    keys = list(db.session.scalars(keys_service.list_keys(current_user)))
    keys_service.audit_list(current_user, len(keys))
    partners = keys_service.organization_names(current_user)
    if errors:
        flash(NOT_SAVED, "error")
    rows = [{"key": key, "partner": partners.get(key.organization_id, ""),
             "created": programme_time(key.created_at), "last_used": programme_time(key.last_used_at),
             "revoked": programme_time(key.revoked_at)} for key in keys]
    return render_template("admin/partner_keys.html", rows=rows, scopes=keys_service.SCOPES,
                           partner_options=list(partners.items()), values=values or {"scopes": []},
                           errors=errors or {}, revoke_form=ConfirmForm()), status


@blueprint.route("/partner-keys", methods=["GET", "POST"])
@roles(*ADMIN)
@panel_action(on_error="admin.partner_keys")
def partner_keys():
    """The programme's partner system keys; the form issuing one."""
    if request.method == "GET":
        return _list_page()
    typed = {"name": request.form.get("name", "").strip(), "scopes": request.form.getlist("scopes"),
             "organization_id": request.form.get("organization_id", "").strip() or None}
    data, errors = load_form(PartnerKeyCreateSchema(), typed)
    if data is None:
        return _list_page(typed, errors, 422)
    try:
        key, token = keys_service.issue_key(current_user, data)
    except DomainError as exc:
        errors, status = refused(exc, "create", "partner_key")
        return _list_page(typed, errors, status)
    partner = keys_service.organization_names(current_user).get(key.organization_id, "")
    return render_template("admin/partner_key_secret.html", key=key, token=token, partner=partner), 201, NO_STORE


@blueprint.post("/partner-keys/<int:key_id>/revoke")
@roles(*ADMIN)
@panel_action(on_error="admin.partner_keys")
@found_or_404
def revoke_partner_key(key_id):
    """Revoke a key: the partner's system is refused from the next request on."""
    if ConfirmForm().validate_on_submit():
        key = keys_service.revoke_key(current_user, key_id)
        flash(f"The key “{key.name}” is revoked.", "info")
    return redirect(url_for("admin.partner_keys"))
