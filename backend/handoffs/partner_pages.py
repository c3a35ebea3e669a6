"""The public page a partner's point person opens from a confirmation link (no login)."""

from __future__ import annotations

import zoneinfo

from babel.dates import format_date, format_time
from flask import Blueprint, abort, render_template, request
from flask_wtf import FlaskForm

from backend.common.unit_of_work import transaction
from backend.consent.schemas import REDISCLOSURE_NOTICE
from backend.extensions import csrf, limiter
from backend.handoffs import confirmation

blueprint = Blueprint("partner_pages", __name__, url_prefix="/partner", template_folder="templates",
                      static_folder="static", static_url_path="/static")


class AnswerForm(FlaskForm):
    """Only the CSRF token; the answer is the button pressed."""


@blueprint.before_request
def _csrf():
    if request.method == "POST":
        csrf.protect()


@blueprint.route("/confirm/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def confirm(token: str):
    """Show initials, date and reference; take "arrived" or "did not arrive" once."""
    if len(token) > 100:
        abort(404)
    try:
        with transaction():  # the view itself is audited
            summary = confirmation.link_summary(token)
    except confirmation.LinkUnusableError as problem:
        return render_template("handoffs/confirm_done.html", message=problem.message), problem.status
    if request.method == "POST":
        answer = request.form.get("answer")
        if answer not in ("arrived", "did_not_arrive") or summary["closed"]:
            return render_template("handoffs/confirm_done.html",
                                   message="This referral is already closed. Thank you."), 409
        try:
            with transaction():
                confirmation.answer_link(token, arrived=answer == "arrived")
        except confirmation.TooEarlyError as problem:  # nothing recorded; the same link works after the time
            return _page(summary, problem.message, 409)
        except confirmation.LinkUnusableError as problem:  # answered or closed meanwhile
            return render_template("handoffs/confirm_done.html", message=problem.message), problem.status
        return render_template("handoffs/confirm_done.html", message="Thank you. Your answer was recorded.",
                               program_name=summary["program_name"])
    return _page(summary)


def appointment_text(moment, timezone: str) -> str:
    """The appointment as a partner reads it, with its time zone ("Wednesday, December 2, 2026, 11:12 AM CST")."""
    local = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    text = f"{format_date(local, 'full', locale='en')}, {format_time(local, 'short', locale='en')} " \
           f"{local.tzname()}"
    return text.replace("\u202f", " ")


def _page(summary: dict, problem: str | None = None, status: int = 200):
    when = appointment_text(summary["appointment_at"], summary["timezone"]) if summary["appointment_at"] else None
    return render_template("handoffs/confirm.html", summary=summary, form=AnswerForm(), notice=REDISCLOSURE_NOTICE,
                           when=when, problem=problem), status
