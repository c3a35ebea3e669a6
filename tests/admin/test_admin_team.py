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


def test_admins_are_sent_back_to_the_dashboard(panel_login, client, admin_user):
    panel_login(admin_user.email, PASSWORD)
    response = client.get("/admin/team", follow_redirects=True)
    assert "The team view is for supervisors." in response.get_data(as_text=True)
