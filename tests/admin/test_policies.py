"""The Policies area of the panel (admins): caseload policy, messaging policy, the warm line and the numbers."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.database import db, utcnow
from backend.messaging.models import MessagingPolicy
from backend.programs.models import CaseloadPolicy, WarmLine
from tests.admin.conftest import csrf_token
from tests.factories import PASSWORD

CASELOAD = {"default_cap": "30", "weight_low": "0.4", "weight_standard": "1", "weight_high": "2.5",
            "max_shift_hours": "10", "watch_utilisation_pct": "85", "after_hours_contacts": "6", "crisis_contacts": "4",
            "consecutive_contact_days": "7", "supervision_gap_days": "21", "stress_threshold": "4",
            "after_hours_calls": "3", "phone_minutes_per_day": "200", "escalate_overdue_after_hours": "24"}
LINE = {"crisis_number": "988", "crisis_transfer_number": "+18002738255", "ring_timeout_seconds": "20",
        "max_coaches": "4", "max_wait_seconds": "90", "recording_retention_days": "14", "callback_due_minutes": "45",
        "transcribe_voicemail": "on"}


def week(**days) -> dict:
    """The hours form: every day 08:00-20:00 unless given (None: closed, or (opens, closes))."""
    form = {}
    for day, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun")):
        slot = days.get(name, ("08:00", "20:00"))
        if slot is None:
            form[f"hours-{day}-closed"] = "on"
        else:
            form[f"hours-{day}-opens"], form[f"hours-{day}-closes"] = slot
    return form


@pytest.fixture
def as_admin(panel_login, client, admin_user):
    panel_login(admin_user.email, PASSWORD)
    return lambda: csrf_token(client.get("/admin/policies").get_data(as_text=True))


def read(app, model, program_id):
    with app.app_context():
        return db.session.get(model, program_id)


def audited(app, action: str, resource: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action,
                                                                   AuditEvent.resource == resource)))


def test_the_page_shows_each_policy_and_the_programmes_numbers(as_admin, client):
    as_admin()
    page = client.get("/admin/policies").get_data(as_text=True)
    for heading in ("Caseload policy", "Messaging policy", "Warm line", "Programme numbers"):
        assert f">{heading}</h2>" in page
    assert 'name="default_cap" type="number" value="25"' in page and 'value="0.5"' in page
    assert 'name="quiet_start_hour" type="number" value="21"' in page
    assert 'id="hours-0-opens" name="hours-0-opens" value="08:00"' in page
    assert "+13125550100" in page and "program-number add" in page


def test_an_admin_edits_the_caseload_policy(app, as_admin, client, program):
    response = client.post("/admin/policies/caseload", data={"csrf_token": as_admin(), **CASELOAD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/policies#caseload")
    policy = read(app, CaseloadPolicy, program.id)
    assert (policy.default_cap, policy.weight_low, policy.weight_high, policy.watch_utilisation_pct) == (
        30, 40, 250, 85)
    assert audited(app, "update", "caseload_policy")[0].details["fields"][:2] == ["after_hours_calls",
                                                                                "after_hours_contacts"]


def test_a_refused_caseload_policy_keeps_what_was_typed(app, as_admin, client, program):
    response = client.post("/admin/policies/caseload", data={"csrf_token": as_admin(), **CASELOAD,
                                                             "default_cap": "0", "weight_low": "lots"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="f-default_cap-error"' in page and 'id="f-weight_low-error"' in page
    assert 'value="0"' in page and 'value="lots"' in page and 'value="2.5"' in page
    assert read(app, CaseloadPolicy, program.id) is None and audited(app, "update", "caseload_policy") == []


def test_an_admin_edits_the_messaging_policy(app, as_admin, client, program):
    response = client.post("/admin/policies/messaging", data={
        "csrf_token": as_admin(), "quiet_start_hour": "22", "quiet_end_hour": "7", "follow_up_expiry_hours": "6",
        "sms_display_name": "Lakeside Peer Team"})
    assert response.status_code == 302
    policy = read(app, MessagingPolicy, program.id)
    assert (policy.quiet_start_hour, policy.quiet_end_hour, policy.follow_up_expiry_hours,
            policy.sms_display_name) == (22, 7, 6, "Lakeside Peer Team")
    assert len(audited(app, "update", "messaging_policy")) == 1


def test_the_messaging_policy_refuses_a_revealing_name_and_equal_hours(app, as_admin, client, program):
    revealing = client.post("/admin/policies/messaging", data={
        "csrf_token": as_admin(), "quiet_start_hour": "21", "quiet_end_hour": "8", "follow_up_expiry_hours": "12",
        "sms_display_name": "Recovery Team"})
    page = revealing.get_data(as_text=True)
    assert revealing.status_code == 422 and 'id="f-sms_display_name-error"' in page and 'value="Recovery Team"' in page
    equal = client.post("/admin/policies/messaging", data={
        "csrf_token": as_admin(), "quiet_start_hour": "9", "quiet_end_hour": "9", "follow_up_expiry_hours": "99"})
    assert equal.status_code == 422 and 'id="f-follow_up_expiry_hours-error"' in equal.get_data(as_text=True)
    same = client.post("/admin/policies/messaging", data={
        "csrf_token": as_admin(), "quiet_start_hour": "9", "quiet_end_hour": "9", "follow_up_expiry_hours": "12"})
    assert same.status_code == 422 and "Quiet hours must start and end at different hours." in same.get_data(
        as_text=True)
    assert read(app, MessagingPolicy, program.id) is None
    assert [e.outcome for e in audited(app, "update", "messaging_policy")] == ["validation_error"] * 2


def test_an_admin_sets_the_warm_line_hours_and_rules(app, as_admin, client, program):
    form = {"csrf_token": as_admin(), **LINE, **week(sat=("10:00", "16:00"), sun=None, fri=("20:00", "02:00"))}
    response = client.post("/admin/policies/warm-line", data=form)
    assert response.status_code == 302 and response.headers["Location"].endswith("#warm-line")
    line = read(app, WarmLine, program.id)
    assert [(h["weekday"], h["opens"], h["closes"]) for h in line.hours] == [
        (0, "08:00", "20:00"), (1, "08:00", "20:00"), (2, "08:00", "20:00"), (3, "08:00", "20:00"),
        (4, "20:00", "02:00"), (5, "10:00", "16:00")]
    assert (line.ring_timeout_seconds, line.max_coaches, line.max_wait_seconds, line.recording_retention_days,
            line.callback_due_minutes) == (20, 4, 90, 14, 45)
    assert line.transcribe_voicemail and not line.callbacks_for_voicemail_only
    assert len(audited(app, "update", "warm_line")) == 1
    page = client.get("/admin/policies").get_data(as_text=True)
    assert 'id="hours-6-closed" name="hours-6-closed" value="on" checked' in page


def test_a_refused_warm_line_value_shows_by_its_day_and_keeps_the_week(app, as_admin, client, program):
    form = {"csrf_token": as_admin(), **LINE, "max_coaches": "40",
            **week(wed=("25:00", "20:00"), thu=("09:00", "09:00"), sun=None)}
    response = client.post("/admin/policies/warm-line", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="hours-2-opens-error"' in page and "Use HH:MM (24-hour)" in page
    assert 'id="hours-3-closes-error"' in page and "Opens and closes at the same time." in page
    assert 'id="f-max_coaches-error"' in page and 'value="40"' in page
    assert 'value="25:00"' in page and 'id="hours-6-closed" name="hours-6-closed" value="on" checked' in page
    assert read(app, WarmLine, program.id) is None


def test_the_line_is_opened_or_closed_now_and_back_to_its_hours(app, as_admin, client, program):
    zone = ZoneInfo(program.timezone)
    later = (utcnow() + timedelta(days=1)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/admin/policies/warm-line/override", data={"csrf_token": as_admin(), "state": "closed",
                                                                       "until": later})
    assert response.status_code == 302
    line = read(app, WarmLine, program.id)
    assert line.override == "closed" and line.override_until.astimezone(zone).strftime("%Y-%m-%dT%H:%M") == later
    assert "The line is <strong>closed</strong> now" in client.get("/admin/policies").get_data(as_text=True)

    past = (utcnow() - timedelta(days=1)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    refused = client.post("/admin/policies/warm-line/override", data={"csrf_token": as_admin(), "state": "open",
                                                                      "until": past})
    assert refused.status_code == 422 and "Must be in the future." in refused.get_data(as_text=True)
    garbled = client.post("/admin/policies/warm-line/override", data={"csrf_token": as_admin(), "state": "shut",
                                                                      "until": "soon"})
    assert garbled.status_code == 422 and 'id="f-state-error"' in garbled.get_data(as_text=True)
    assert read(app, WarmLine, program.id).override == "closed"

    client.post("/admin/policies/warm-line/override", data={"csrf_token": as_admin(), "state": ""})
    line = read(app, WarmLine, program.id)
    assert line.override is None and line.override_until is None
    assert [(e.outcome, e.details and e.details["state"]) for e in audited(app, "override", "warm_line")] == [
        ("success", "closed"), ("validation_error", None), ("success", None)]


def test_supervisors_get_the_403_page(app, panel_login, client, supervisor, program):
    panel_login(supervisor.email, PASSWORD)
    token = csrf_token(client.get("/admin/").get_data(as_text=True))
    assert client.get("/admin/policies").status_code == 403
    for path, data in (("/admin/policies/caseload", CASELOAD), ("/admin/policies/warm-line", {**LINE, **week()}),
                       ("/admin/policies/warm-line/override", {"state": "closed"})):
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 403
    assert read(app, CaseloadPolicy, program.id) is None and read(app, WarmLine, program.id) is None


def test_an_admin_requires_a_second_factor_of_supervisors(app, panel_login, client, admin_user, program):
    from backend.database import db as database
    from backend.programs.models import Program

    panel_login(admin_user.email, PASSWORD)
    token = csrf_token(client.get("/admin/policies").get_data(as_text=True))
    done = client.post("/admin/policies/second-factor", data={"supervisors": "on", "csrf_token": token},
                       follow_redirects=True)
    assert "Supervisors now sign in with a second factor." in done.get_data(as_text=True)
    with app.app_context():
        assert database.session.get(Program, program.id).require_mfa_for_supervisors is True
    client.post("/admin/policies/second-factor", data={"csrf_token": token})
    with app.app_context():
        assert database.session.get(Program, program.id).require_mfa_for_supervisors is False
