"""Logging in and out of the panel, and changing one's password."""

from __future__ import annotations

import functools

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user

from admin.core import blueprint, start_panel_session
from admin.forms import LoginForm, LogoutForm, PasswordForm
from backend.auth import mfa
from backend.auth import service as auth_service
from backend.auth.api import login_address_limiter
from backend.common.errors import DomainError
from backend.common.unit_of_work import after_rollback, transaction
from backend.database import db
from backend.errors import http_status
from backend.users import service as users_service


@blueprint.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Choose a new password; every other session of this account ends."""
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            with transaction():
                users_service.change_password(current_user, form.current_password.data, form.new_password.data)
        except DomainError as exc:
            flash(exc.message, "error")
            status = http_status(exc)
        else:
            session["panel_version"] = current_user.panel_session_version  # this browser stays logged in
            flash("Your password is changed. Other sessions of your account have ended.", "info")
            return redirect(url_for("admin.dashboard"))
    elif request.method == "POST":
        for errors in form.errors.values():
            flash(errors[0], "error")
        status = 422
    return render_template("admin/password.html", form=form), status


@blueprint.route("/login", methods=["GET", "POST"])
@login_address_limiter
def login():
    """Log in with the same rules as the app (throttling, one message for bad credentials)."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = auth_service.authenticate(form.email.data, form.password.data, request.remote_addr)
        except DomainError as exc:
            if isinstance(exc, auth_service.InvalidCredentialsError):
                after_rollback(functools.partial(auth_service.record_failed_login, exc))
            else:
                db.session.rollback()
            flash(exc.message, "error")
            status = http_status(exc)
        else:
            if not user.is_staff_lead:
                db.session.rollback()
                flash("The panel is for supervisors and admins. Coaches use the Bridgeline app.", "error")
                status = 403
            else:
                if not user.totp_secret:
                    auth_service.complete_login(user, request.remote_addr)
                db.session.commit()
                session.clear()  # a fresh session on login (no fixation)
                session.permanent = True
                if user.totp_secret:  # the password was right; the second factor comes next
                    session["mfa_user"] = user.id
                    return redirect(url_for("admin.mfa_code"))
                start_panel_session(user)
                if mfa.required_for(user):
                    session["mfa_enrol"] = True  # set it up before anything else
                return redirect(url_for("admin.dashboard"))
    elif request.method == "POST":
        status = 400
    return render_template("admin/login.html", form=form), status


@blueprint.post("/logout")
@login_required
def logout():
    """End the panel session."""
    if LogoutForm().validate_on_submit():
        with transaction():
            auth_service.end_panel_sessions(current_user)
        logout_user()
        session.clear()
        flash("You are logged out.", "info")
    return redirect(url_for("admin.login"))
