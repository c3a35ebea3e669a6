"""Admin panel fixtures: a CSRF-aware form login and a live server for the browser."""

from __future__ import annotations

import re

import pyotp
import pytest

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


TOTP_KEY = re.compile(r'data-testid="totp-key">([A-Z2-7 ]+)<')


@pytest.fixture
def panel_login(client):
    """Log in through the panel's form, with the second step as a person would (setting up an authenticator
    app the first time, typing its code later); returns the response to the password POST."""
    secrets_by_email: dict[str, str] = {}

    def _login(email: str, password: str, follow_redirects: bool = False):
        token = csrf_token(client.get("/admin/login").get_data(as_text=True))
        response = client.post("/admin/login", data={"email": email, "password": password, "csrf_token": token},
                               follow_redirects=follow_redirects)
        location = response.headers.get("Location", "")
        if location.endswith("/admin/mfa"):
            page = client.get("/admin/mfa").get_data(as_text=True)
            client.post("/admin/mfa", data={"code": pyotp.TOTP(secrets_by_email[email]).now(),
                                            "csrf_token": csrf_token(page)})
            response.headers["Location"] = "/admin/"
        elif location.endswith("/admin/") and client.get("/admin/").headers.get("Location", "").endswith(
                "/admin/mfa/setup"):
            page = client.get("/admin/mfa/setup").get_data(as_text=True)
            secret = TOTP_KEY.search(page).group(1).replace(" ", "")
            secrets_by_email[email] = secret
            client.post("/admin/mfa/setup", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)})
        return response

    _login.secrets = secrets_by_email
    return _login
