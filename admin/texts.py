"""Message templates and follow-up plans (programme admins): edit per language with a preview, versions kept."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from admin.actions import panel_action
from admin.core import ADMIN, blueprint, roles
from backend.common.errors import InvalidError
from backend.messaging import library
from backend.messaging.schemas import TemplateSchema


def _render(errors: dict | None = None, failed: tuple[str, str] | None = None, typed: str | None = None,
            status: int = 200):
    entries = library.catalogue(current_user)
    if failed and typed is not None:  # show what was typed, refused, with the reason by the field
        for entry in entries:
            if (entry["key"], entry["language"]) == failed:
                entry["body"] = typed
    versions = {(key, language): library.template_versions(current_user, key, language)[:5]
                for key in library.EDITABLE for language in library.LANGUAGES}
    return render_template("admin/templates.html", entries=entries, versions=versions, errors=errors or {},
                           failed=failed, plans=library.plans(current_user)), status


@blueprint.get("/templates")
@roles(*ADMIN)
@panel_action()
def templates():
    """Every template in English and Spanish, with its version, a preview and the last versions saved."""
    return _render()


@blueprint.post("/templates/<key>/<language>")
@roles(*ADMIN)
@panel_action(on_error="admin.templates")
def save_template(key, language):
    """Save a new version: the lock-screen check and the placeholder check run first."""
    typed = request.form.get("body", "")
    try:
        body = TemplateSchema().load({"body": typed})["body"]
        entry = library.save_template(current_user, key, language, body)
    except ValidationError as exc:
        return _render(exc.messages, (key, language), typed, 422)
    except InvalidError as exc:
        return _render(exc.errors or {"body": [exc.message]}, (key, language), typed, 422)
    flash(f"Saved {key} ({language}) as version {entry['version']}. New texts use it from now on.", "info")
    return redirect(url_for("admin.templates") + f"#t-{key}-{language}")
