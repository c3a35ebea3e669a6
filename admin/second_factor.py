"""The panel's second factor: entering a code after the password, and setting up an authenticator app."""

from __future__ import annotations

import functools

import segno
from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from admin.core import blueprint, start_panel_session
from admin.forms import CodeForm, LogoutForm
from backend.auth import mfa
from backend.auth import service as auth_service
from backend.common.errors import DomainError
from backend.common.unit_of_work import after_rollback, transaction
from backend.database import db
from backend.errors import http_status
from backend.users.models import User


@blueprint.route("/mfa", methods=["GET", "POST"])
def mfa_code():
    """After the password: a code from the authenticator app, or a recovery code."""
    user = db.session.get(User, session["mfa_user"]) if session.get("mfa_user") else None
    if user is None or not user.active or not user.totp_secret:
        return redirect(url_for("admin.login"))
    form, status = CodeForm(), 200
    if form.validate_on_submit():
        try:
            with transaction():
                passed = mfa.passes_second_factor(user, form.code.data, request.remote_addr)
                if passed:
                    auth_service.complete_login(user, request.remote_addr)
        except DomainError as exc:  # too many wrong attempts
            flash(exc.message, "error")
            status = http_status(exc)
        else:
            if passed:
                session.pop("mfa_user")
                start_panel_session(user)
                return redirect(url_for("admin.dashboard"))
            after_rollback(functools.partial(mfa.note_wrong_code, user, request.remote_addr))
            flash("That code is not right. Use the current code from your app, or a recovery code.", "error")
            status = 401
    return render_template("admin/mfa.html", form=form), status


@blueprint.route("/mfa/setup", methods=["GET", "POST"])
@login_required
def mfa_enrol():
    """Set up an authenticator app: scan or type the key, confirm with a code, keep the recovery codes."""
    form, status = CodeForm(), 200
    if current_user.totp_secret:
        session.pop("mfa_enrol", None)
        return redirect(url_for("admin.dashboard"))
    if form.validate_on_submit() and session.get("mfa_secret"):
        try:
            with transaction():
                codes = mfa.enrol(current_user, session["mfa_secret"], form.code.data)
        except DomainError as exc:
            flash(exc.message, "error")
            status = http_status(exc)
        else:
            session.pop("mfa_secret")
            session.pop("mfa_enrol", None)
            return render_template("admin/mfa_setup.html", recovery_codes=codes, logout_form=LogoutForm())
    secret, uri = mfa.new_secret(current_user)
    session["mfa_secret"] = secret  # kept only in this signed session until a code confirms it
    # The QR code an authenticator app scans: segno's own SVG of paths (no script, no style: the CSP holds), made
    # from our URI only, so it is safe to put in the page as it is.
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#1d2433", title="QR code for the authenticator")
    qr = Markup(svg)  # noqa: S704
    return render_template("admin/mfa_setup.html", form=form, secret=secret, uri=uri, qr=qr,
                           grouped=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                           logout_form=LogoutForm()), status
