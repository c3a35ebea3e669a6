"""Admin panel forms (Flask-WTF, CSRF-protected) and what every area's form handling shares."""

import functools
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import flash
from flask_login import current_user
from flask_wtf import FlaskForm
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import NotFound
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from backend.audit import service as audit
from backend.common.errors import DomainError, NotFoundError
from backend.common.unit_of_work import after_rollback
from backend.errors import http_status


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField("New password again", validators=[DataRequired(), EqualTo("new_password",
                                                                                      "The two do not match.")])


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=32)])


class LogoutForm(FlaskForm):
    """Only the CSRF token: logging out is a POST."""


class ConfirmForm(FlaskForm):
    """Only the CSRF token: confirming a service's details is a POST."""


def found_or_404(view):
    """A record missing or outside the programme is the panel's 404 page, not a flash message."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except NotFoundError as exc:
            raise NotFound() from exc

    return wrapper


def load_form(schema: Schema, data: dict) -> tuple[dict | None, dict]:
    """The schema's load of what a form sent, or its errors by field as marshmallow gives them (a list field's
    by item), for the form to be shown again with them."""
    try:
        return schema.load(data), {}
    except ValidationError as exc:
        return None, exc.normalized_messages()


def flat_errors(messages: dict) -> dict[str, list[str]]:
    """Marshmallow's errors by field, a list's errors by item folded into its field ("Item 2: ...")."""
    flat = {}
    for name, found in messages.items():
        if isinstance(found, dict):
            flat[name] = [f"Item {index + 1}: {text}" if isinstance(index, int) else f"{index}: {text}"
                          for index, texts in sorted(found.items(), key=lambda item: str(item[0]).zfill(9))
                          for text in (texts if isinstance(texts, list) else [texts])]
        else:
            flat[name] = list(found) if isinstance(found, list) else [str(found)]
    return flat


def refused(exc: DomainError, action: str, resource: str, resource_id: int | None = None, **ids) -> tuple[dict, int]:
    """A service's refusal of a form: the work undone, the refusal on record (as the API records it), its message
    flashed unless it names fields; returns its errors by field and the status to answer with."""
    after_rollback(lambda: audit.record_refusal(action, resource, actor=current_user, outcome=exc.code,
                                                resource_id=resource_id, **ids))
    if not exc.errors:
        flash(exc.message, "error")
    return exc.errors or {}, http_status(exc)


def programme_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M", empty: str = "") -> str:
    """A UTC moment on the programme's clock, for people (`empty` when there is none)."""
    if moment is None:
        return empty
    return moment.astimezone(ZoneInfo(current_user.program.timezone)).strftime(fmt)
