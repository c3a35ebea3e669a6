"""The audit log in the panel (admins): filters, pages, CSV, its own reading audited; the accounting of
disclosures of one patient."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from backend.audit import service as audit
from backend.audit.models import AuditEvent
from backend.consent.models import Consent, Disclosure, SignatureMethod
from backend.database import db, utcnow
from backend.partners.models import Organization
from tests.factories import PASSWORD

EVENT = re.compile(r'data-testid="event-(\d+)"')


@pytest.fixture
def as_admin(panel_login, admin_user):
    panel_login(admin_user.email, PASSWORD)


def record(app, actor, action="read", resource="patient", *, patient_id=None, outcome="success", details=None,
           days_ago=0, program_id=None) -> int:
    """An audit event by `actor` (None: the system of `program_id`), `days_ago` days back; returns its id."""
    with app.app_context(), time_machine.travel(utcnow() - timedelta(days=days_ago)):
        audit.record(action, resource, actor=actor, patient_id=patient_id, outcome=outcome, details=details,
                     program_id=program_id)
        db.session.commit()
        return db.session.scalar(sa.select(sa.func.max(AuditEvent.id)))


def reads_of_the_log(app) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.resource == "audit_event")
                                       .order_by(AuditEvent.id)))


def disclose(app, patient, coach, *, organization: str | None = "Northside Health", days_ago: int = 0) -> int:
    """A consent to one partner (or a described class of recipients) and a disclosure under it."""
    with app.app_context():
        org = None
        if organization:
            org = Organization(program_id=patient.program_id, name=organization)
            db.session.add(org)
            db.session.flush()
        consent = Consent(program_id=patient.program_id, patient_id=patient.id,
                          recipient_organization_id=org.id if org else None,
                          recipient_description=None if org else "My treatment providers",
                          purpose="Arrange treatment", information="Name, phone and appointment time",
                          signature_method=SignatureMethod.ELECTRONIC, signed_at=utcnow() - timedelta(days=400),
                          revocation_explained=True, created_by_id=coach.id)
        db.session.add(consent)
        db.session.flush()
        disclosure = Disclosure(program_id=patient.program_id, patient_id=patient.id, consent_id=consent.id,
                                recipient_organization_id=consent.recipient_organization_id,
                                recipient_description=consent.recipient_description,
                                information="Referral reason and appointment", purpose="Arrange treatment",
                                channel="handoff_fax", disclosed_by_id=coach.id,
                                disclosed_at=utcnow() - timedelta(days=days_ago))
        db.session.add(disclosure)
        db.session.commit()
        return disclosure.id


def test_events_show_newest_first_by_name_in_pages_of_25(app, as_admin, client, coach, supervisor):
    ids = [record(app, coach, patient_id=7) for _ in range(26)]
    system = record(app, None, "opt_out", "patient", details={"via": "sms"}, program_id=coach.program_id)
    first = client.get("/admin/audit").get_data(as_text=True)
    shown = [int(i) for i in EVENT.findall(first)]
    assert len(shown) == 25 and shown[0] == system and shown[1] == ids[-1]
    assert shown == sorted(shown, reverse=True)
    assert coach.full_name in first and "system" in first and "Page 1 of 2" in first
    second = client.get("/admin/audit?page=2").get_data(as_text=True)
    assert [int(i) for i in EVENT.findall(second)][-1] < shown[-1]


def test_reading_the_log_is_audited_once_per_view(app, as_admin, client, coach):
    record(app, coach, patient_id=7)
    before = len(reads_of_the_log(app))
    client.get("/admin/audit?patient_id=7")
    reads = reads_of_the_log(app)[before:]
    assert [(e.action, e.patient_id, e.details) for e in reads] == [("list", 7, {"count": 1,
                                                                               "filters": ["patient_id"]})]


def test_filters_by_staff_patient_action_outcome_and_days(app, as_admin, client, coach, supervisor, program):
    read = record(app, coach, "read", patient_id=11)
    update = record(app, coach, "update", patient_id=12)
    refused = record(app, supervisor, "read", patient_id=11, outcome="not_found")
    old = record(app, supervisor, "update", patient_id=11, days_ago=10)

    mine = {read, update, refused, old}

    def shown(query: str) -> set[int]:
        """The events of this test the filtered page shows (logins and the log's own reading are there too)."""
        response = client.get(f"/admin/audit?{query}")
        assert response.status_code == 200
        return {int(i) for i in EVENT.findall(response.get_data(as_text=True))} & mine

    assert shown(f"user_id={coach.id}") == {read, update}
    assert shown("patient_id=11") == {read, refused, old}
    assert shown("action=update") == {update, old} and shown("action=UPDATE") == {update, old}
    assert shown(f"outcome=refused&user_id={supervisor.id}") == {refused}
    assert shown("outcome=success") == {read, update, old}
    zone = ZoneInfo(program.timezone)
    with app.app_context():  # the programme's local days the events fell on
        day_of = {i: db.session.get(AuditEvent, i).occurred_at.astimezone(zone).date() for i in (read, old)}
    assert shown(f"date_from={day_of[old]}&date_to={day_of[old]}") == {old}
    assert shown(f"date_from={day_of[read] - timedelta(days=1)}&date_to={day_of[read]}") >= {read}
    assert old not in shown(f"date_from={day_of[old] + timedelta(days=1)}")
    page = client.get(f"/admin/audit?user_id={coach.id}").get_data(as_text=True)
    assert f'<option value="{coach.id}" selected>{coach.full_name}</option>' in page


def test_bad_filters_are_refused_by_field(app, as_admin, client):
    before = len(reads_of_the_log(app))
    response = client.get("/admin/audit?patient_id=abc&date_from=2026-05-02&date_to=2026-05-01&outcome=maybe")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert all(f'id="f-{name}-error"' in page for name in ("patient_id", "date_to", "outcome"))
    assert 'value="abc"' in page and EVENT.search(page) is None
    assert len(reads_of_the_log(app)) == before  # nothing was shown, so nothing was read


def test_the_csv_holds_the_filtered_rows_with_formulas_neutralised(app, as_admin, client, coach, supervisor):
    record(app, coach, "=HYPERLINK(\"http://evil.test\")", patient_id=21, details={"note": "-1+1"})
    record(app, coach, "@SUM(A1)", patient_id=21)
    record(app, supervisor, "read", patient_id=22)
    response = client.get(f"/admin/audit.csv?patient_id=21&user_id={coach.id}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["action"] for row in rows] == ["'@SUM(A1)", "'=HYPERLINK(\"http://evil.test\")"]
    assert {row["staff"] for row in rows} == {coach.full_name} and {row["patient_id"] for row in rows} == {"21"}
    assert rows[1]["details"] == '{"note": "-1+1"}'
    export = reads_of_the_log(app)[-1]
    assert (export.action, export.patient_id, export.details["count"]) == ("export", 21, 2)


def test_the_log_links_to_the_patients_accounting_of_disclosures(app, as_admin, client, coach):
    record(app, coach, patient_id=31)
    page = client.get("/admin/audit?patient_id=31").get_data(as_text=True)
    assert 'href="/admin/patients/31/disclosures"' in page
    assert "/admin/patients/31/disclosures" not in client.get("/admin/audit").get_data(as_text=True)
    lookup = client.get("/admin/disclosures?patient_id=31")
    assert lookup.status_code == 302 and lookup.headers["Location"].endswith("/admin/patients/31/disclosures")
    bad = client.get("/admin/disclosures?patient_id=x1")
    assert bad.status_code == 422 and 'id="f-patient_id-error"' in bad.get_data(as_text=True)
    assert client.get("/admin/disclosures?patient_id=").status_code == 422
    assert client.get("/admin/disclosures").status_code == 200


def test_the_accounting_of_disclosures_lists_each_one_and_is_audited(app, as_admin, client, factory, coach):
    patient = factory.patient(coach)
    named = disclose(app, patient, coach, days_ago=2)
    described = disclose(app, patient, coach, organization=None, days_ago=1)
    disclose(app, patient, coach, organization="Old Partner", days_ago=4 * 365)  # beyond the three years
    response = client.get(f"/admin/patients/{patient.id}/disclosures")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"{patient.first_name} {patient.last_name}" in page
    assert [int(i) for i in re.findall(r'data-testid="disclosure-(\d+)"', page)] == [described, named]
    assert "Northside Health" in page and "My treatment providers" in page and "Old Partner" not in page
    assert "Referral reason and appointment" in page and "Arrange treatment" in page and "handoff fax" in page
    assert coach.full_name in page and "people.css" in page
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.resource == "disclosure")))
    assert [(e.action, e.patient_id) for e in rows] == [("list", patient.id)]


def test_a_patient_with_no_disclosures_gets_a_plain_statement(app, as_admin, client, factory, coach):
    patient = factory.patient(coach)
    page = client.get(f"/admin/patients/{patient.id}/disclosures").get_data(as_text=True)
    assert 'data-testid="no-disclosures"' in page


def test_another_programmes_patient_is_the_panels_404(app, as_admin, client, factory):
    elsewhere = factory.program("Elsewhere")
    stranger = factory.patient(factory.user("coach", elsewhere))
    for patient_id in (stranger.id, 99999):
        response = client.get(f"/admin/patients/{patient_id}/disclosures")
        assert response.status_code == 404 and "Not found" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.resource == "disclosure")) == 0


def test_the_log_shows_only_this_programmes_events(app, as_admin, client, factory):
    outsider = factory.user("admin", factory.program("Elsewhere"))
    theirs = record(app, outsider, "read", patient_id=5)
    assert str(theirs) not in EVENT.findall(client.get("/admin/audit").get_data(as_text=True))


def test_supervisors_get_the_403_page(panel_login, client, supervisor, factory, coach):
    patient = factory.patient(coach)
    panel_login(supervisor.email, PASSWORD)
    for path in ("/admin/audit", "/admin/audit.csv", "/admin/disclosures",
                 f"/admin/patients/{patient.id}/disclosures"):
        assert client.get(path).status_code == 403
