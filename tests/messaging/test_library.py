"""Templates and follow-up plans as data: versions per programme, checked on save, recorded on every text."""

from __future__ import annotations

from datetime import timedelta

from backend.database import utcnow


def test_an_admin_edits_a_template_and_new_texts_use_the_new_version(admin_api, coach_api, factory, coach):
    templates = {(t["key"], t["language"]): t for t in admin_api.get("/api/v1/program/templates").json}
    assert templates[("check_in", "es")]["version"] == 0 and "Lucía" in templates[("check_in", "es")]["preview"]
    saved = admin_api.put("/api/v1/program/templates/check_in/en",
                          json={"body": "Hey {first_name}, {coach_name} here. Thinking of you today."})
    assert saved.status_code == 200 and saved.json["version"] == 1
    assert saved.json["preview"] == "Hey Lucía, Robin here. Thinking of you today."
    patient = factory.patient(coach)
    sent = coach_api.post(f"/api/v1/patients/{patient.id}/messages", json={"template_key": "check_in"}).json
    assert sent["body"].startswith(f"Hey {patient.first_name},")
    spanish = factory.patient(coach, language="es")
    assert coach_api.post(f"/api/v1/patients/{spanish.id}/messages",
                          json={"template_key": "check_in"}).json["body"].startswith("Hola")  # es unchanged
    versions = admin_api.get("/api/v1/program/templates/check_in/en/versions").json
    assert [v["version"] for v in versions] == [1]


def test_a_template_that_reveals_treatment_or_names_an_unknown_placeholder_is_refused(admin_api, coach_api):
    refused = admin_api.put("/api/v1/program/templates/check_in/es", json={"body": "Hola, ¿cómo va tu tratamiento?"})
    assert refused.status_code == 422 and "tratamiento" in refused.json["errors"]["body"][0]
    unknown = admin_api.put("/api/v1/program/templates/check_in/en", json={"body": "Hi {patient_name}"})
    assert unknown.status_code == 422 and "patient_name" in unknown.json["errors"]["body"][0]
    broken = admin_api.put("/api/v1/program/templates/check_in/en", json={"body": "Hi {first_name"})
    assert broken.status_code == 422
    assert coach_api.put("/api/v1/program/templates/check_in/en", json={"body": "Hi"}).status_code == 403
    assert admin_api.put("/api/v1/program/templates/nope/en", json={"body": "Hi"}).status_code == 404
    assert admin_api.get("/api/v1/program/templates/check_in/en/versions").json == []


def test_a_follow_up_plan_is_edited_as_data(admin_api, coach_api, factory, coach):
    assert admin_api.get("/api/v1/program/follow-up-plans").json[0]["steps"][0] == {"days": 1,
                                                                                   "template_key": "after_visit"}
    saved = admin_api.put("/api/v1/program/follow-up-plans/after_ed_visit", json={
        "steps": [{"days": 2, "template_key": "check_in"}, {"days": 1, "template_key": "after_visit"}]})
    assert saved.status_code == 200 and saved.json["version"] == 1
    assert [s["days"] for s in saved.json["steps"]] == [1, 2]
    bad = admin_api.put("/api/v1/program/follow-up-plans/after_ed_visit",
                        json={"steps": [{"days": 1, "template_key": "help_reply"}]})
    assert bad.status_code == 422
    patient = factory.patient(coach)
    texts = coach_api.post(f"/api/v1/patients/{patient.id}/follow-ups", json={
        "plan_key": "after_ed_visit", "anchor_at": utcnow().isoformat()}).json
    assert [t["template_key"] for t in texts] == ["after_visit", "check_in"]
    assert len(texts) == 2 and texts[1]["scheduled_for"] > (utcnow() + timedelta(days=1)).isoformat()
