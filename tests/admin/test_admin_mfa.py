"""The panel's second factor: required for admins (and supervisors by policy), TOTP or a recovery code."""

from __future__ import annotations

import re

import pyotp
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.database import db
from backend.programs.models import Program
from tests.admin.conftest import TOTP_KEY, csrf_token
from tests.factories import PASSWORD


def password_step(client, email, password=PASSWORD):
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    return client.post("/admin/login", data={"email": email, "password": password, "csrf_token": token})


def code_step(client, code):
    page = client.get("/admin/mfa").get_data(as_text=True)
    return client.post("/admin/mfa", data={"code": code, "csrf_token": csrf_token(page)})


def enrol(client, email) -> tuple[str, list[str]]:
    password_step(client, email)
    assert client.get("/admin/").headers["Location"].endswith("/admin/mfa/setup")  # nothing else opens first
    assert client.get("/admin/partners").headers["Location"].endswith("/admin/mfa/setup")
    page = client.get("/admin/mfa/setup").get_data(as_text=True)
    wrong = client.post("/admin/mfa/setup", data={"code": "000000", "csrf_token": csrf_token(page)})
    assert wrong.status_code == 422
    page = client.get("/admin/mfa/setup").get_data(as_text=True)
    secret = TOTP_KEY.search(page).group(1).replace(" ", "")  # a fresh key for a fresh try
    done = client.post("/admin/mfa/setup", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)})
    codes = re.findall(r"<code>([0-9a-f]{6}-[0-9a-f]{6})</code>", done.get_data(as_text=True))
    assert done.status_code == 200 and len(codes) == 10
    return secret, codes


def logout(client):
    client.post("/admin/logout", data={"csrf_token": csrf_token(client.get("/admin/").get_data(as_text=True))})


def test_an_admin_sets_up_a_second_factor_and_needs_it_from_then_on(app, client, admin_user):
    secret, codes = enrol(client, admin_user.email)
    assert client.get("/admin/").status_code == 200
    logout(client)

    assert password_step(client, admin_user.email).headers["Location"].endswith("/admin/mfa")
    assert client.get("/admin/").status_code == 302  # the password alone opens nothing
    assert code_step(client, "123456").status_code == 401
    assert code_step(client, pyotp.TOTP(secret).now()).headers["Location"].endswith("/admin/")
    assert client.get("/admin/").status_code == 200
    logout(client)

    password_step(client, admin_user.email)
    assert code_step(client, codes[0]).status_code == 302  # a recovery code works once
    logout(client)
    password_step(client, admin_user.email)
    assert code_step(client, codes[0]).status_code == 401
    with app.app_context():
        outcomes = [e.outcome for e in db.session.scalars(sa.select(AuditEvent).where(AuditEvent.resource == "mfa"))]
        failed = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.outcome == "failed_second_factor"))
    assert outcomes == ["success", "success"] and failed == 2  # enrolment, recovery code used; wrong codes


def test_supervisors_need_it_only_when_the_programme_says_so(app, client, supervisor):
    password_step(client, supervisor.email)
    assert client.get("/admin/").status_code == 200
    logout(client)
    with app.app_context():
        db.session.get(Program, supervisor.program_id).require_mfa_for_supervisors = True
        db.session.commit()
    password_step(client, supervisor.email)
    assert client.get("/admin/").headers["Location"].endswith("/admin/mfa/setup")


def test_an_admin_resets_a_lost_second_factor_and_the_owner_sets_up_a_new_one(app, client, admin_user, login,
                                                                               factory, supervisor):
    from backend.users.models import User

    with app.app_context():
        db.session.get(Program, supervisor.program_id).require_mfa_for_supervisors = True
        db.session.commit()
    enrol(client, supervisor.email)
    logout(client)
    response = login(admin_user).post(f"/api/v1/users/{supervisor.id}/mfa-reset")
    assert response.status_code == 204
    with app.app_context():
        assert db.session.get(User, supervisor.id).totp_secret is None
    password_step(client, supervisor.email)
    assert client.get("/admin/").headers["Location"].endswith("/admin/mfa/setup")
    assert login(supervisor).post(f"/api/v1/users/{admin_user.id}/mfa-reset").status_code == 403


def test_the_right_password_does_not_reset_the_count_of_wrong_codes(app, client, admin_user):
    """Otherwise whoever has the password could guess codes forever, four at a time."""
    enrol(client, admin_user.email)
    logout(client)
    answers = []
    for _ in range(3):
        password_step(client, admin_user.email)
        answers += [code_step(client, "000000").status_code for _ in range(2)]
    assert answers[:5] == [401] * 5 and answers[5] == 429


def test_the_setup_page_shows_a_qr_code_of_the_key(panel_login, client, admin_user):
    from tests.admin.conftest import csrf_token

    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    client.post("/admin/login", data={"email": admin_user.email, "password": PASSWORD, "csrf_token": token})
    page = client.get("/admin/mfa/setup").get_data(as_text=True)
    qr = page.split('data-testid="totp-qr">', 1)[1].split("</figure>", 1)[0]
    assert qr.startswith("<svg") and "<path" in qr and "<script" not in qr and "style=" not in qr
