"""The supervisor's team caseload page in the panel."""

from __future__ import annotations

from tests.factories import PASSWORD


def test_supervisor_sees_each_coach_with_level_and_reasons(panel_login, client, supervisor, coach, factory):
    factory.patients(coach, 24)
    panel_login(supervisor.email, PASSWORD)
    page = client.get("/admin/team").get_data(as_text=True)
    assert coach.full_name in page
    assert "24 / 25" in page and "96%" in page
    assert "Caseload at 96% of the cap." in page and "No supervision session ever." in page
    assert 'class="badge level-watch"' in page


def test_a_page_for_another_role_is_the_panels_403_and_not_in_the_menu(panel_login, client, admin_user):
    panel_login(admin_user.email, PASSWORD)
    response = client.get("/admin/team")
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and "Not for your role" in html and 'href="/admin/team"' not in html
    missing = client.get("/admin/no-such-page")
    assert missing.status_code == 404 and "Not found" in missing.get_data(as_text=True)
    assert client.get("/api/v1/no-such-thing").is_json  # the API keeps its JSON errors


def test_a_refresh_in_place_keeps_no_tab_alive_and_sends_an_ended_session_to_the_login(panel_login, client,
                                                                                         supervisor):
    panel_login(supervisor.email, PASSWORD)
    polled = client.get("/admin/today/cards", headers={"HX-Request": "true"})
    assert polled.status_code == 200 and "Set-Cookie" not in polled.headers  # the idle timeout is not extended
    assert "Set-Cookie" in client.get("/admin/").headers  # a page a person opens does extend it
    client.delete_cookie("session")
    ended = client.get("/admin/today/cards", headers={"HX-Request": "true"})
    assert ended.status_code == 204 and ended.headers["HX-Redirect"] == "/admin/login"
