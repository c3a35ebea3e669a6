"""CLI: create-user and seed-demo."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from backend import create_app
from backend.config import ConfigError
from backend.database import db
from backend.patients.models import Patient
from backend.programs.models import ProgramNumber
from backend.users.models import User
from tests.conftest import app_config


def test_seed_demo_loads_synthetic_data_once(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "coach1@demo.test" in result.output
    with app.app_context():
        users = list(db.session.scalars(sa.select(User)))
        patients = list(db.session.scalars(sa.select(Patient)))
    assert {u.email for u in users} == {"admin@demo.test", "supervisor@demo.test"} | {
        f"coach{i}@demo.test" for i in range(1, 7)}
    assert len(patients) == 120
    assert all(re.fullmatch(r"\+1\d{3}55501\d{2}", p.phone) for p in patients)
    with app.app_context():
        lines = set(db.session.scalars(sa.select(ProgramNumber.number)))
        staff = {u.phone for u in users if u.phone}
    # A text or call is matched to a patient by number: none may share one with the line or a staff phone.
    assert lines == {"+13125550100"} and not ({p.phone for p in patients} & (lines | staff))
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "already has data" in again.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 120


def test_demo_logins_work(app, client):
    app.test_cli_runner().invoke(args=["seed-demo"])
    for email in ("admin@demo.test", "supervisor@demo.test", "coach6@demo.test"):
        response = client.post("/api/v1/auth/login", json={"email": email, "password": "bridgeline-demo"})
        assert response.status_code == 200, email
    coach = client.post("/api/v1/auth/login", json={"email": "coach1@demo.test", "password": "bridgeline-demo"})
    patients = client.get("/api/v1/patients", headers={"Authorization": f"Bearer {coach.json['access_token']}"})
    assert len(patients.json) > 0


def test_program_number_add_gives_a_programme_a_number_once(app, factory):
    program = factory.program("General Hospital", phone="+13125550150")
    runner = app.test_cli_runner()
    added = runner.invoke(args=["program-number", "add", "(312) 555-0161", "--program", "General Hospital",
                                "--no-voice"])
    assert added.exit_code == 0 and "ending 0161" in added.output, added.output
    with app.app_context():
        row = db.session.scalar(sa.select(ProgramNumber).where(ProgramNumber.number == "+13125550161"))
    assert (row.program_id, row.sms, row.voice) == (program.id, True, False)
    other = factory.program("Other Hospital", phone="+13125550151")
    taken = runner.invoke(args=["program-number", "add", "+13125550161", "--program", other.name])
    assert taken.exit_code != 0 and "already belongs" in taken.output
    bad = runner.invoke(args=["program-number", "add", "12", "--program", other.name])
    assert bad.exit_code != 0 and "Not a valid phone number" in bad.output
    service = runner.invoke(args=["program-number", "messaging-service", "MG" + "a" * 32, "--program", other.name])
    assert service.exit_code == 0, service.output
    stolen = runner.invoke(args=["program-number", "messaging-service", "MG" + "a" * 32, "--program", program.name])
    assert stolen.exit_code != 0 and "another programme" in stolen.output
    listed = runner.invoke(args=["program-number", "list"]).output
    assert "General Hospital: +13125550150 (sms+voice), +13125550161 (sms)" in listed
    assert f"Other Hospital: +13125550151 (sms+voice); messaging service MG{'a' * 32}" in listed


def test_seed_demo_refuses_in_production(database_url):
    app = create_app(app_config(database_url, BRIDGELINE_ENV="production"))
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0 and "production" in result.output


def test_create_user_prompts_for_password(app, client):
    result = app.test_cli_runner().invoke(
        args=["create-user", "--email", "Lead@Hospital.test", "--full-name", "Lead Person", "--role", "admin",
              "--program", "General Hospital"],
        input="a very good password\na very good password\n")
    assert result.exit_code == 0, result.output
    assert "a very good password" not in result.output
    login = client.post("/api/v1/auth/login", json={"email": "lead@hospital.test", "password": "a very good password"})
    assert login.status_code == 200 and login.json["user"]["role"] == "admin"


def test_create_user_rejects_short_password(app):
    result = app.test_cli_runner().invoke(
        args=["create-user", "--email", "a@hospital.test", "--full-name", "A", "--role", "coach", "--program", "P"],
        input="short\nshort\n")
    assert result.exit_code != 0 and "12 characters" in result.output


def test_production_refuses_default_secret_or_missing_database(monkeypatch):
    monkeypatch.setenv("BRIDGELINE_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1/x")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app()
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1/x")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_development_defaults_to_sqlite_under_instance(monkeypatch):
    for name in ("DATABASE_URL", "BRIDGELINE_ENV", "SECRET_KEY", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("/instance/bridgeline.sqlite3")
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
