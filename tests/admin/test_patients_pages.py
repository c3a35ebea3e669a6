"""The panel's patient search and read-only patient page (supervisors)."""

from __future__ import annotations

import html

import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.database import db, utcnow
from backend.voice.models import Call, CallDirection, CallOutcome, CallStatus
from tests.factories import PASSWORD
from tests.handoffs.test_handoffs import setup_handoff


def audit_rows(app, **where) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return rows


def rows_of(page: str) -> list[int]:
    """The patient ids listed, in order."""
    return [int(part.split('"')[0]) for part in page.split('data-testid="patient-')[1:]]


def test_search_by_name_phone_status_and_coach_lists_only_the_programmes_patients(
        app, panel_login, client, supervisor, coach, other_coach, factory):
    lucia = factory.patient(coach, first_name="Lucía", last_name="García", phone="+17735550142")
    mateo = factory.patient(other_coach, first_name="Mateo", last_name="García", status="active")
    ana = factory.patient(coach, first_name="Ana", last_name="Zapata", status="active", preferred_name="Annie")
    stranger = factory.patient(factory.user("coach", factory.program("Elsewhere")), first_name="Luz",
                               last_name="García")
    panel_login(supervisor.email, PASSWORD)

    everyone = client.get("/admin/patients")
    assert everyone.status_code == 200
    assert rows_of(everyone.get_data(as_text=True)) == [lucia.id, mateo.id, ana.id]  # by last name, then first
    by_name = client.get("/admin/patients?q=garc").get_data(as_text=True)
    assert rows_of(by_name) == [lucia.id, mateo.id] and stranger.first_name not in by_name
    assert "2 patients found" in by_name
    assert rows_of(client.get("/admin/patients?q=Mateo Garc").get_data(as_text=True)) == [mateo.id]
    assert rows_of(client.get("/admin/patients?q=Annie").get_data(as_text=True)) == [ana.id]
    assert rows_of(client.get("/admin/patients?q=(773) 555-0142").get_data(as_text=True)) == [lucia.id]
    assert rows_of(client.get("/admin/patients?status=active").get_data(as_text=True)) == [mateo.id, ana.id]
    by_both = client.get(f"/admin/patients?status=active&coach_id={coach.id}").get_data(as_text=True)
    assert rows_of(by_both) == [ana.id]
    assert '<option value="active" selected>' in by_both and f'<option value="{coach.id}" selected>' in by_both
    assert f'href="/admin/patients/{ana.id}"' in by_both and coach.full_name in by_both
    nothing = client.get("/admin/patients?q=nobody-like-this").get_data(as_text=True)
    assert rows_of(nothing) == [] and "No patient matches this search." in nothing

    # Each list view is audited once, as GET /api/v1/patients does: the ids shown and the filters used.
    lists = audit_rows(app, action="list", resource="patient")
    assert len(lists) == 8
    assert lists[1].details == {"patient_ids": [lucia.id, mateo.id], "filters": ["q"]}
    assert lists[6].details == {"patient_ids": [ana.id], "filters": ["coach_id", "status"]}
    assert lists[0].user_id == supervisor.id and lists[0].outcome == "success"


def test_results_come_in_pages_keeping_the_search(panel_login, client, supervisor, coach, factory):
    factory.patients(coach, 30, status="engaged")
    panel_login(supervisor.email, PASSWORD)
    first = client.get("/admin/patients?status=engaged").get_data(as_text=True)
    assert len(rows_of(first)) == 25 and "Page 1 of 2" in first
    assert html.escape("/admin/patients?page=2&status=engaged") in first
    second = client.get("/admin/patients?page=2&status=engaged").get_data(as_text=True)
    assert len(rows_of(second)) == 5 and "Page 2 of 2" in second and set(rows_of(first)).isdisjoint(rows_of(second))


def test_bad_search_input_is_a_422_naming_the_field_and_lists_and_audits_nothing(
        app, panel_login, client, supervisor, coach, factory):
    factory.patient(coach)
    panel_login(supervisor.email, PASSWORD)
    for query, field, message in (("q=" + "x" * 101, "q", "Length must be between 1 and 100."),
                                  ("status=sleeping", "status", "Must be one of"),
                                  ("coach_id=abc", "coach_id", "Not a valid integer.")):
        response = client.get(f"/admin/patients?{query}")
        page = response.get_data(as_text=True)
        assert response.status_code == 422, query
        error = page.split(f'id="f-{field}-error">')[1].split("</p>")[0]
        assert message in error and f'id="f-{field}" name="{field}"' in page
        assert rows_of(page) == [] and "Nothing searched" in page
    assert 'value="' + "x" * 101 + '"' in client.get("/admin/patients?q=" + "x" * 101).get_data(as_text=True)
    assert audit_rows(app, action="list", resource="patient") == []


def test_patient_page_shows_the_record_timeline_consents_handoffs_and_calls_each_read_audited(
        app, panel_login, client, supervisor, coach, coach_api, supervisor_api, factory):
    patient, _, service_id = setup_handoff(coach_api, supervisor_api, factory, coach, first_name="Zelda",
                                           last_name="Okafor", preferred_name="Z", language="es",
                                           acuity="high", status="engaged")
    handoff = coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                       "kind": "warm"}).json
    factory.contact(patient, coach, note="Talked about the clinic visit", duration_minutes=12)
    with app.app_context():
        db.session.add(Call(program_id=patient.program_id, direction=CallDirection.INBOUND,
                            status=CallStatus.COMPLETED, outcome=CallOutcome.ANSWERED, program_number="+13125550100",
                            external_number=patient.phone, patient_id=patient.id, coach_id=coach.id,
                            started_at=utcnow(), duration_seconds=185, note="Wants a call on Friday"))
        db.session.commit()
        call_id = db.session.scalar(sa.select(Call.id))
    panel_login(supervisor.email, PASSWORD)
    before = {row.id for row in audit_rows(app)}

    response = client.get(f"/admin/patients/{patient.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="name">Zelda Okafor<' in page and 'data-testid="status">engaged<' in page
    assert all(text in page for text in ("Z</dd>", "es</dd>", "high</dd>", "ed</dd>", coach.full_name,
                                         patient.phone))
    assert "Arrange treatment and follow up on attendance" in page and "in force" in page
    assert "To Northside Health; may disclose: Name, phone, referral reason and appointment time." in page
    assert f'data-testid="handoff-{handoff["id"]}"' in page and "Northside Health, Northside Intake" in page
    assert f'data-testid="call-{call_id}"' in page and "3:05" in page and "Wants a call on Friday" in page
    assert "Talked about the clinic visit" in page and "Warm handoff " + handoff["reference"] in page
    assert "Consent signed" in page

    # One read of each kind, by the services the API uses, all naming the patient.
    reads = [row for row in audit_rows(app) if row.id not in before]
    assert sorted((row.action, row.resource) for row in reads) == [
        ("list", "call"), ("list", "consent"), ("list", "handoff"), ("read", "patient"), ("read", "timeline")]
    assert all(row.patient_id == patient.id for row in reads if row.resource != "call")
    assert next(row for row in reads if row.resource == "call").details == {"call_ids": [call_id],
                                                                           "patient_ids": [patient.id]}


def test_timeline_pages_and_empty_sections_say_so(panel_login, client, supervisor, coach, factory):
    patient = factory.patient(coach)
    for n in range(22):
        factory.contact(patient, coach, note=f"Contact number {n}")
    panel_login(supervisor.email, PASSWORD)
    first = client.get(f"/admin/patients/{patient.id}").get_data(as_text=True)
    assert first.count('data-testid="entry-') == 20 and "Page 1 of 2" in first
    assert "No consent on file." in first and "No handoffs to partners yet." in first
    assert "No calls with this patient." in first
    second = client.get(f"/admin/patients/{patient.id}?page=2").get_data(as_text=True)
    assert second.count('data-testid="entry-') == 2 and "Page 2 of 2" in second


def test_another_programmes_patient_or_a_missing_one_is_the_404_page_and_nothing_is_audited(
        app, panel_login, client, supervisor, factory):
    elsewhere = factory.patient(factory.user("coach", factory.program("Elsewhere")))
    panel_login(supervisor.email, PASSWORD)
    for patient_id in (elsewhere.id, 999_999):
        response = client.get(f"/admin/patients/{patient_id}")
        assert response.status_code == 404 and "Not found" in response.get_data(as_text=True)
    assert audit_rows(app, resource="patient", action="read") == []


def test_the_patient_pages_are_for_supervisors(panel_login, client, admin_user, coach, factory):
    patient = factory.patient(coach)
    assert "/admin/login" in client.get("/admin/patients").headers["Location"]
    panel_login(admin_user.email, PASSWORD)
    for path in ("/admin/patients", f"/admin/patients/{patient.id}"):
        response = client.get(path)
        assert response.status_code == 403 and "Not for your role" in response.get_data(as_text=True)
    assert 'href="/admin/patients"' not in client.get("/admin/").get_data(as_text=True)


def test_disclosures_are_linked_only_when_the_page_exists_for_the_role(
        app, panel_login, client, supervisor, coach, factory):
    patient = factory.patient(coach)
    panel_login(supervisor.email, PASSWORD)
    page = client.get(f"/admin/patients/{patient.id}").get_data(as_text=True)
    view = app.view_functions.get("admin.disclosures")
    if view is not None and supervisor.role in getattr(view, "panel_roles", (supervisor.role,)):
        assert f'href="/admin/patients/{patient.id}/disclosures"' in page or "Accounting of disclosures</a>" in page
    else:
        assert "Accounting of disclosures" not in page
