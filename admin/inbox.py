"""Texts from numbers that match no patient: supervisors read them, file each with its patient or put it aside."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from admin.actions import panel_action
from admin.core import LEADS, blueprint, roles
from backend.common.pagination import page_of
from backend.messaging import received
from backend.messaging.schemas import AssignTextSchema

PAGE_SIZE = 25


def _render(errors: dict | None = None, failed: int | None = None, status: int = 200):
    page = max(request.args.get("page", type=int) or 1, 1)
    texts, total = page_of(received.unknown_texts(current_user), page, PAGE_SIZE)
    received.audit_unknown(current_user, texts)
    return render_template("admin/inbox.html", texts=texts, total=total, page=page,
                           pages=max(-(-total // PAGE_SIZE), 1), errors=errors or {}, failed=failed,
                           typed=request.form), status


@blueprint.get("/unknown-texts")
@roles(*LEADS)
@panel_action()
def unknown_texts():
    """Texts from unknown numbers, newest first, with the number and the words (audited)."""
    return _render()


@blueprint.post("/unknown-texts/<int:message_id>/assign")
@roles(*LEADS)
@panel_action(on_error="admin.unknown_texts")
def assign_unknown_text(message_id):
    """File the text with the patient who sent it (their coach gets a task)."""
    try:
        data = AssignTextSchema().load({"patient_id": request.form.get("patient_id", "")})
    except ValidationError as exc:
        return _render({k: v for k, v in exc.messages.items()}, message_id, 422)
    received.assign_text(current_user, message_id, data["patient_id"])
    flash("The text is filed with the patient; their coach has a task to answer it.", "info")
    return redirect(url_for("admin.unknown_texts"))


@blueprint.post("/unknown-texts/<int:message_id>/dismiss")
@roles(*LEADS)
@panel_action(on_error="admin.unknown_texts")
def dismiss_unknown_text(message_id):
    """Put the text aside (a wrong number, spam); it stays on record."""
    received.dismiss_text(current_user, message_id)
    flash("The text is put aside.", "info")
    return redirect(url_for("admin.unknown_texts"))
