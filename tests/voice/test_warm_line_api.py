"""The warm line's API: hours and settings, the override, a coach's line, call records (scoped, audited),
voicemail playback through our own endpoint, an unknown caller made a patient, supervisors' figures."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.database import db
from backend.patients.models import Patient
from backend.tasks.models import Task
from backend.voice.models import Call
from fake_twilio.voice import Answers, Caller, NoAnswer
from tests.voice.conftest import LINE, stored


def test_supervisors_set_hours_and_rules_coaches_only_read_them(login, supervisor, coaches):
    coach_api, lead = login(coaches[0]), login(supervisor)
    state = coach_api.get("/api/v1/warm-line").json
    assert state["open_now"] is True and state["settings"]["crisis_number"] == "988"
    assert state["settings"]["ring_timeout_seconds"] == 15 and state["settings"]["max_coaches"] == 3
    hours = [{"weekday": d, "opens": "09:00", "closes": "17:00"} for d in range(5)]
    changed = lead.patch("/api/v1/warm-line", json={"hours": hours, "ring_timeout_seconds": 20})
    assert changed.status_code == 200 and changed.json["settings"]["hours"] == hours
    assert coach_api.patch("/api/v1/warm-line", json={"max_coaches": 1}).status_code == 403
    bad = lead.patch("/api/v1/warm-line", json={"hours": [{"weekday": 7, "opens": "25:00", "closes": "9"}]})
    assert bad.status_code == 422 and bad.json["error"] == "validation_error"
    assert lead.get("/api/v1/warm-line").json["settings"]["ring_timeout_seconds"] == 20


def test_the_override_opens_or_closes_the_line_now(login, supervisor, midday_clock):
    lead = login(supervisor)
    closed = lead.put("/api/v1/warm-line/override", json={"state": "closed", "until": None})
    assert closed.json["open_now"] is False and closed.json["settings"]["override"] == "closed"
    midday_clock.move_to(datetime(2026, 6, 17, 6, 0, tzinfo=UTC))  # 01:00 in Chicago: closed by the hours
    lead = login(supervisor)  # (a token from 13 hours ago has expired)
    assert lead.put("/api/v1/warm-line/override", json={"state": None}).json["open_now"] is False
    opened = lead.put("/api/v1/warm-line/override", json={"state": "open",
                                                           "until": "2026-06-17T08:00:00Z"})
    assert opened.json["open_now"] is True
    midday_clock.move_to(datetime(2026, 6, 17, 9, 0, tzinfo=UTC))  # the override ran out: the hours again
    state = login(supervisor).get("/api/v1/warm-line").json
    assert state["open_now"] is False and state["next_opening"] == "2026-06-17T13:00:00+00:00"


def test_calls_are_scoped_and_every_read_is_audited(app, net, factory, coaches, login, supervisor):
    first, second, _ = coaches
    patient = factory.patient(first)
    net.phone(first.phone, Answers(press="1"))
    net.dial(from_=patient.phone, to=LINE, caller=Caller(stay=30))
    net.run()
    call = stored(app, Call)[0]

    mine = login(first).get("/api/v1/me/calls")
    assert [c["id"] for c in mine.json] == [call.id]
    assert mine.json[0]["caller"] == {"known": True, "initials": patient.first_name[0] + "E",
                                      "reminder": mine.json[0]["caller"]["reminder"]}
    assert "relative" in mine.json[0]["caller"]["reminder"]
    assert login(first).get(f"/api/v1/patients/{patient.id}/calls").json[0]["legs"][0]["outcome"] == "accepted"
    other = login(second)
    assert other.get(f"/api/v1/calls/{call.id}").status_code == 404
    assert other.get(f"/api/v1/calls/{call.id}").json == other.get("/api/v1/calls/999999").json
    assert other.get("/api/v1/me/calls").json == []
    assert login(supervisor).get(f"/api/v1/calls/{call.id}").status_code == 200
    noted = login(first).patch(f"/api/v1/calls/{call.id}", json={"note": "Talked about the clinic visit"})
    assert noted.status_code == 200
    with app.app_context():
        reads = db.session.execute(sa.select(AuditEvent.action, AuditEvent.user_id).where(
            AuditEvent.resource == "call", AuditEvent.outcome == "success")).all()
    assert ("list", first.id) in reads and ("read", supervisor.id) in reads and ("update", first.id) in reads


def test_a_voicemail_plays_through_our_endpoint_and_is_deleted_after_retention(app, net, coaches, login,
                                                                               supervisor, midday_clock):
    for coach in coaches:
        net.phone(coach.phone, NoAnswer())
    net.dial(from_="+16305550160", to=LINE, caller=Caller(record_seconds=30))
    net.run()
    call = stored(app, Call)[0]
    assert call.outcome == "voicemail"
    [recording] = net.recordings.values()
    assert recording.sid == call.voicemail_sid and recording.duration == 30

    assignee = [c for c in coaches if c.id == stored(app, Task)[0].assignee_id][0]
    missed = login(assignee).get("/api/v1/me/calls?missed=true").json
    assert [(c["id"], c["has_voicemail"], c["external_number"]) for c in missed] == [
        (call.id, True, "+16305550160")]
    audio = login(assignee).get(f"/api/v1/calls/{call.id}/voicemail")
    assert audio.status_code == 200 and audio.mimetype == "audio/mpeg" and len(audio.data) > 0
    assert login(coaches[1] if assignee != coaches[1] else coaches[2]).get(
        f"/api/v1/calls/{call.id}/voicemail").status_code == 404

    from tests.conftest import run_named_job

    run_named_job(app, "delete_expired_voicemails")
    assert net.recordings[recording.sid].deleted is False  # younger than 30 days
    midday_clock.shift(31 * 86400)
    run_named_job(app, "delete_expired_voicemails")
    assert net.recordings[recording.sid].deleted is True
    assert login(supervisor).get(f"/api/v1/calls/{call.id}/voicemail").status_code == 404


def test_an_unknown_caller_becomes_a_patient_in_one_call(app, net, coaches, login):
    for coach in coaches:
        net.phone(coach.phone, NoAnswer())
    net.dial(from_="+16305550161", to=LINE, caller=Caller(record_seconds=5))
    net.run()
    call = stored(app, Call)[0]
    task = stored(app, Task)[0]
    assignee = [c for c in coaches if c.id == task.assignee_id][0]
    created = login(assignee).post(f"/api/v1/calls/{call.id}/patient",
                                   json={"first_name": "Ana", "last_name": "Reyes", "language": "es"})
    assert created.status_code == 201
    body = created.json
    assert (body["phone"], body["source"], body["coach_id"]) == ("+16305550161", "warm_line", assignee.id)
    assert stored(app, Call)[0].patient_id == body["id"] and stored(app, Task)[0].patient_id == body["id"]
    again = login(assignee).post(f"/api/v1/calls/{call.id}/patient", json={"first_name": "A", "last_name": "R"})
    assert again.status_code == 409 and again.json["error"] == "caller_known"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 1


def test_supervisors_see_the_line_live_and_todays_figures(app, net, factory, coaches, login, supervisor):
    first, second, third = coaches
    login(third).put("/api/v1/me/line", json={"taking_calls": False})
    net.phone(first.phone, NoAnswer())
    net.phone(second.phone, Answers(after=5, press="1"))
    net.dial(from_="+16305550162", to=LINE, caller=Caller(stay=100))
    net.run(until=30)
    live = login(supervisor).get("/api/v1/warm-line/live").json
    assert [c["status"] for c in live["calls"]] == ["in_progress"]
    assert {c["coach_id"]: c["state"] for c in live["coaches"]} == {first.id: "free", second.id: "on_call",
                                                                    third.id: "away"}
    net.run()
    today = login(supervisor).get("/api/v1/warm-line/today").json
    assert (today["calls"], today["answered"], today["answer_rate"]) == (1, 1, 1.0)
    assert today["mean_seconds_to_answer"] is not None
    assert {r["coach_id"]: (r["answered"], r["missed"]) for r in today["per_coach"]} == {
        first.id: (0, 1), second.id: (1, 0)}
    assert login(first).get("/api/v1/warm-line/live").status_code == 403
