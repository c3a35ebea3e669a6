"""Admin panel fixtures: a CSRF-aware form login and a live server for the browser."""

from __future__ import annotations

import re
import threading

import pytest
from werkzeug.serving import make_server

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def panel_login(client):
    """Log in through the panel's form; returns the response to the POST."""

    def _login(email: str, password: str, follow_redirects: bool = False):
        token = csrf_token(client.get("/admin/login").get_data(as_text=True))
        return client.post("/admin/login", data={"email": email, "password": password, "csrf_token": token},
                           follow_redirects=follow_redirects)

    return _login


@pytest.fixture
def live_server(app):
    """The app served over HTTP on 127.0.0.1, on a free port, for the browser."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
