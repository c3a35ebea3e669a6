"""The phone app's team generates its client from the OpenAPI document: a client generated here with
openapi-python-client parses every answer of the main coach flow into its models (undeclared statuses raise)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from backend import create_app
from tests.conftest import app_config

PACKAGE = "bridgeline_app_client"


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """Generate the client from this build's document, once, and import it."""
    folder = tmp_path_factory.mktemp("generated_client")
    spec_app = create_app(app_config(f"sqlite:///{folder / 'unused.sqlite3'}", REDIS_URL=None))
    (folder / "openapi.json").write_text(json.dumps(spec_app.test_client().get("/api/v1/openapi.json").json))
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "openapi-python-client"), "generate", "--path", "openapi.json", "--meta", "none",
                    "--output-path", PACKAGE], cwd=folder, check=True, capture_output=True,
                   env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))


def api(name: str):
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def models():
    return importlib.import_module(f"{PACKAGE}.models")


def test_the_generated_client_parses_the_main_coach_flow(generated, app, factory, coach):
    patient = factory.patient(coach, first_name="Marisol", last_name="Quintero")
    factory.task(coach, patient)
    m = models()
    transport = httpx.WSGITransport(app=app)
    anonymous = generated.Client(base_url="http://localhost", raise_on_unexpected_status=True,
                                 httpx_args={"transport": transport})

    login = api("auth.post_api_v1_auth_login").sync_detailed(
        client=anonymous, body=m.Login(email=coach.email, password="correct horse battery staple"))
    assert login.status_code == 200 and isinstance(login.parsed, m.TokenPair)
    client = generated.AuthenticatedClient(base_url="http://localhost", token=login.parsed.access_token,
                                           raise_on_unexpected_status=True, httpx_args={"transport": transport})

    listed = api("patients.get_api_v1_patients").sync_detailed(client=client)
    assert listed.status_code == 200 and [p.id for p in listed.parsed] == [patient.id]
    assert isinstance(listed.parsed[0], m.Patient) and listed.parsed[0].closed_at is None

    read = api("patients.get_api_v1_patients_patient_id").sync_detailed(patient.id, client=client)
    assert isinstance(read.parsed, m.Patient) and read.parsed.first_name == "Marisol"
    etag = read.headers["ETag"]

    caseload = api("caseload.get_api_v1_me_caseload").sync_detailed(client=client)
    assert isinstance(caseload.parsed, m.Caseload) and caseload.parsed.patients[0].last_contact_at is None

    tasks = api("tasks.get_api_v1_me_tasks").sync_detailed(client=client)
    assert tasks.status_code == 200 and all(isinstance(t, m.Task) for t in tasks.parsed)

    contact = api("contacts.post_api_v1_patients_patient_id_contacts").sync_detailed(
        patient.id, client=client, body=m.Contact(kind=m.ContactKind.PHONE, note="Talked about housing"),
        idempotency_key="generated-client-contact-1")
    assert contact.status_code == 201 and isinstance(contact.parsed, m.Contact)

    timeline = api("timeline.get_api_v1_patients_patient_id_timeline").sync_detailed(patient.id, client=client)
    assert timeline.status_code == 200 and any(isinstance(e, m.TimelineEntry) for e in timeline.parsed)

    edit = api("patients.patch_api_v1_patients_patient_id")
    changed = edit.sync_detailed(patient.id, client=client, body=m.PatientUpdate(preferred_name="Mari"),
                                 if_match=etag)
    assert isinstance(changed.parsed, m.Patient) and changed.parsed.preferred_name == "Mari"
    stale = edit.sync_detailed(patient.id, client=client, body=m.PatientUpdate(preferred_name="M"), if_match=etag)
    assert stale.status_code == 412 and isinstance(stale.parsed, m.Error)
    assert stale.parsed.error == "precondition_failed"
