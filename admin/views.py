"""Admin panel views: log in, log out, dashboard, team caseloads, partner outcomes, catalogue upkeep."""

from __future__ import annotations

import functools

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from admin.actions import panel_action
from admin.forms import ConfirmForm, LoginForm, LogoutForm, PasswordForm
from backend.auth import mfa
from backend.auth import service as auth_service
from backend.auth.api import login_address_limiter
from backend.caseload import service as caseload_service
from backend.common.errors import DomainError
from backend.common.unit_of_work import after_rollback, transaction
from backend.database import db
from backend.errors import http_status
from backend.extensions import csrf, login_manager
from backend.partners import service as partner_service
from backend.reports import partners as partner_reports
from backend.reports import service as reports
from backend.users import service as users_service
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
    return render_template("admin/password.html", form=form, logout_form=LogoutForm()), status


@blueprint.get("/")
@login_required
@panel_action()
def dashboard():
    """The supervision dashboard shell."""
    return render_template("admin/dashboard.html", summary=reports.programme_summary(current_user),
                           logout_form=LogoutForm())


@blueprint.get("/team")
@login_required
@panel_action()
def team():
    """Team caseloads: load against cap, burnout level and the reasons behind it."""
    if current_user.role != Role.SUPERVISOR:
        flash("The team view is for supervisors.", "error")
        return redirect(url_for("admin.dashboard"))
    return render_template("admin/team.html", rows=caseload_service.team_caseloads(current_user),
                           logout_form=LogoutForm())


PERIODS = (30, 90, 365)  # days a supervisor can look back over in the partner outcomes page


def _outcomes() -> tuple[list[dict], int]:
    days = request.args.get("days", type=int)
    days = days if days in PERIODS else 90
    return partner_reports.partner_outcomes(current_user, days), days  # audited: the view commits the event


@blueprint.get("/partners")
@login_required
@panel_action()
def partner_outcomes():
    """Which partners actually receive our patients: handoffs, attendance, no-shows, speed, referrals back."""
    report, days = _outcomes()
    rows = sorted(report, key=lambda row: (-row["handoffs"], row["organization_name"]))
    return render_template("admin/partners.html", rows=rows, days=days, periods=PERIODS, logout_form=LogoutForm())


@blueprint.get("/partners/outcomes.csv")
@login_required
@panel_action()
def partner_outcomes_csv():
    """The partner outcomes of the chosen period as a spreadsheet."""
    report, days = _outcomes()
    return Response(partner_reports.as_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=partner-outcomes-{days}d.csv"})


@blueprint.get("/catalogue")
@login_required
@panel_action()
def catalogue():
    """Services not verified in 90 days: call the partner, then mark the service confirmed."""
    return render_template("admin/catalogue.html", services=partner_service.services_to_verify(current_user),
                           confirm_form=ConfirmForm(), logout_form=LogoutForm())


@blueprint.post("/services/<service_id>/verified")
@login_required
@panel_action(on_error="admin.catalogue")
def confirm_service(service_id):
    """Mark a service's details confirmed with the partner today."""
    if ConfirmForm().validate_on_submit():
        card = partner_service.confirm_service(current_user, service_id)
        flash(f"{card['name']} is marked verified today.", "info")
    return redirect(url_for("admin.catalogue"))


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
