"""The panel's blueprint and what every page shares: the session rules, role checks, error pages."""

from __future__ import annotations

import functools

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, login_user
from werkzeug.exceptions import Forbidden, HTTPException

from backend.database import db
from backend.errors import handle_http_exception
from backend.extensions import csrf, login_manager
from backend.users.models import Role, User

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
                      static_folder="static", static_url_path="/static")

login_manager.login_view = "admin.login"
login_manager.login_message = "Please log in to continue."
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.active or not user.is_staff_lead:
        return None
    # A cookie from before the last logout (a copy, a shared computer) opens nothing.
    return user if session.get("panel_version") == user.panel_session_version else None


@blueprint.before_request
def _csrf():
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def start_panel_session(user: User) -> None:
    """Log the user in to the panel under their current session version."""
    session["panel_version"] = user.panel_session_version
    login_user(user)


@blueprint.before_request
def _first_things_first():
    # A second factor to set up, or a reset password to replace: nothing else opens until it is done.
    if not current_user.is_authenticated or request.endpoint in ("admin.logout", "admin.static"):
        return None
    if session.get("mfa_enrol") and request.endpoint != "admin.mfa_enrol":
        return redirect(url_for("admin.mfa_enrol"))
    if current_user.must_change_password and request.endpoint != "admin.password" and not session.get("mfa_enrol"):
        return redirect(url_for("admin.password"))
    return None


def roles(*allowed: Role):
    """Only these roles open the page; anyone else logged in gets the panel's 403 page."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                if request.headers.get("HX-Request"):  # a refresh in place: send the whole page to the login
                    return "", 204, {"HX-Redirect": url_for("admin.login")}
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                raise Forbidden()
            return view(*args, **kwargs)

        wrapper.panel_roles = allowed
        return wrapper

    return decorator


class PanelSessionInterface(SecureCookieSessionInterface):
    """A refresh in place (htmx polling a card) does not extend the session: an unattended tab still times out."""

    def should_set_cookie(self, app, session) -> bool:
        if request.headers.get("HX-Request") and request.method == "GET":
            return session.modified
        return super().should_set_cookie(app, session)


@blueprint.record_once
def _panel_sessions(state) -> None:
    state.app.session_interface = PanelSessionInterface()


SUPERVISOR = (Role.SUPERVISOR,)
ADMIN = (Role.ADMIN,)
LEADS = (Role.SUPERVISOR, Role.ADMIN)

ERROR_TEXT = {403: ("Not for your role", "This page is for another role. The menu shows what you can open."),
              404: ("Not found", "There is nothing at this address, or it is not in your programme."),
              500: ("Something went wrong", "The problem is on our side and has been logged. Try again.")}


def _panel_error(status: int):
    title, text = ERROR_TEXT[status]
    return render_template("admin/error.html", title=title, text=text, status=status), status


@blueprint.app_errorhandler(HTTPException)
def _html_or_json(error: HTTPException):
    """Panel addresses get the panel's own 403/404 pages; everything else keeps the API's JSON."""
    if request.path.startswith("/admin") and error.code in (403, 404):
        return _panel_error(error.code)
    return handle_http_exception(error)


@blueprint.errorhandler(500)
def _server_error(error):
    return _panel_error(500)
