"""The partner's single-use confirmation link: initials, date and reference only; one answer."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import time_machine

from backend import create_app
from backend.common.unit_of_work import transaction
from backend.database import db, utcnow
from backend.handoffs import confirmation
from backend.handoffs.models import ConfirmationLink
from tests.conftest import app_config
from tests.handoffs.test_handoffs import setup_handoff

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def handoff_with_link(coach_api, supervisor_api, factory, coach):
    patient, _, service_id = setup_handoff(coach_api, supervisor_api, factory, coach, first_name="Rosa",
                                           last_name="Delgado")
    appointment = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    handoff = coach_api.post("/api/v1/handoffs", json={"patient_id": patient.id, "service_id": service_id,
                                                       "kind": "warm", "appointment_at": appointment.isoformat()}).json
    link = coach_api.post(f"/api/v1/handoffs/{handoff['id']}/confirmation-link")
    assert link.status_code == 201
    return handoff, urlsplit(link.json["url"]).path


def answer(client, path, value, *, early: bool = False):
    """The partner answers, by default once the appointment (two days ahead) has passed."""
    with time_machine.travel(utcnow() + timedelta(hours=1 if early else 72), tick=True):
        page = client.get(path)
        token = CSRF.search(page.get_data(as_text=True)).group(1)
        return client.post(path, data={"answer": value, "csrf_token": token})


def test_page_shows_only_initials_date_and_reference(client, coach_api, supervisor_api, factory, coach):
    handoff, path = handoff_with_link(coach_api, supervisor_api, factory, coach)
    page = client.get(path).get_data(as_text=True)
    assert "R.D." in page and handoff["reference"] in page
    assert "Rosa" not in page and "Delgado" not in page and "+1" not in page
    assert "42 CFR part 2" in page  # the redisclosure notice travels with what the partner sees


def test_arrived_closes_the_loop_once(client, coach_api, supervisor_api, factory, coach):
    handoff, path = handoff_with_link(coach_api, supervisor_api, factory, coach)
    assert answer(client, path, "arrived").status_code == 200
    shown = coach_api.get(f"/api/v1/handoffs/{handoff['id']}").json
    assert shown["status"] == "completed" and shown["outcome"] == "attended"
    reused = client.get(path)
    assert reused.status_code == 410


def test_an_answer_before_the_appointment_is_refused_and_the_link_still_works(client, coach_api, supervisor_api,
                                                                           factory, coach):
    handoff, path = handoff_with_link(coach_api, supervisor_api, factory, coach)
    early = answer(client, path, "arrived", early=True)
    assert early.status_code == 409 and "has not started yet" in early.get_data(as_text=True)
    assert coach_api.get(f"/api/v1/handoffs/{handoff['id']}").json["status"] == "requested"
    assert answer(client, path, "arrived").status_code == 200


def test_the_page_names_the_programme_and_the_time_zone(client, coach_api, supervisor_api, factory, coach):
    _, path = handoff_with_link(coach_api, supervisor_api, factory, coach)
    page = client.get(path).get_data(as_text=True)
    assert "A referral from <strong>Test Programme</strong>" in page
    assert re.search(r'data-testid="appointment">\w+day, \w+ \d+, 20\d\d, \d+:\d\d [AP]M C[SD]T<', page)


def test_did_not_arrive_is_a_no_show(client, coach_api, supervisor_api, factory, coach):
    handoff, path = handoff_with_link(coach_api, supervisor_api, factory, coach)
    answer(client, path, "did_not_arrive")
    assert coach_api.get(f"/api/v1/handoffs/{handoff['id']}").json["outcome"] == "no_show"


def test_expired_unknown_and_forged_links(app, client, coach_api, supervisor_api, factory, coach):
    handoff, path = handoff_with_link(coach_api, supervisor_api, factory, coach)
    with app.app_context():
        db.session.execute(sa.update(ConfirmationLink).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    assert client.get(path).status_code == 410
    assert client.get("/partner/confirm/not-a-real-token").status_code == 404
    assert client.post(path, data={"answer": "arrived"}).status_code == 400  # no CSRF token
    assert coach_api.get(f"/api/v1/handoffs/{handoff['id']}").json["status"] == "requested"


def test_link_is_stored_as_a_digest_and_rate_limited(app, client, coach_api, supervisor_api, factory, coach):
    _, path = handoff_with_link(coach_api, supervisor_api, factory, coach)
    token = path.rsplit("/", 1)[1]
    with app.app_context():
        assert db.session.scalar(sa.select(ConfirmationLink.token_hash)) == hashlib.sha256(token.encode()).hexdigest()
    statuses = [client.get("/partner/confirm/guess" + str(n)).status_code for n in range(35)]
    assert 429 in statuses


def test_an_answer_given_meanwhile_makes_the_second_a_410(app, coach_api, supervisor_api, factory, coach):
    handoff, path = handoff_with_link(coach_api, supervisor_api, factory, coach)
    token = path.rsplit("/", 1)[1]
    second = create_app(app_config(app.config["SQLALCHEMY_DATABASE_URI"]))  # another server process
    with app.app_context(), time_machine.travel(utcnow() + timedelta(days=3), tick=True):  # after the appointment
        assert confirmation.link_summary(token)["closed"] is False  # this request read the link unused...
        db.session.commit()  # (the page commits the view's audit row)
        with second.app_context():  # ...while another answered it (its page commits the answer)
            with transaction():
                confirmation.answer_link(token, arrived=True)
            db.engine.dispose()
        with pytest.raises(confirmation.LinkUnusableError) as problem:
            confirmation.answer_link(token, arrived=False)
        assert problem.value.status == 410
        db.session.rollback()
    assert coach_api.get(f"/api/v1/handoffs/{handoff['id']}").json["outcome"] == "attended"


def test_the_partner_viewing_the_page_is_audited(app, client, coach_api, supervisor_api, factory, coach):
    import sqlalchemy as sa

    from backend.audit.models import AuditEvent

    handoff, path = handoff_with_link(coach_api, supervisor_api, factory, coach)
    assert client.get(path).status_code == 200
    with app.app_context():
        (event,) = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.resource == "confirmation_link",
                                                                  AuditEvent.action == "view"))
    assert (event.program_id, event.patient_id, event.resource_id, event.user_id) == (
        coach.program_id, handoff["patient_id"], str(handoff["id"]), None)
