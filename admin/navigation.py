"""The panel's navigation, defined once with the roles that see each item."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request
from flask_login import current_user

from admin.core import blueprint
from admin.forms import LogoutForm
from backend.users.models import Role

S, A = Role.SUPERVISOR, Role.ADMIN


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    roles: tuple[Role, ...]
    # Other endpoints that belong to this item (the current page is marked on it).
    also: tuple[str, ...] = ()


NAV: tuple[NavItem, ...] = (
    NavItem("admin.dashboard", "Today", (S, A)),
    NavItem("admin.team", "Team", (S,), also=("admin.coach",)),
    NavItem("admin.waiting", "Waiting", (S,)),
    NavItem("admin.overdue", "Overdue", (S,)),
    NavItem("admin.patients", "Patients", (S,), also=("admin.patient",)),
    NavItem("admin.warm_line", "Warm line", (S, A)),
    NavItem("admin.unknown_texts", "Unknown texts", (S, A)),
    NavItem("admin.partner_outcomes", "Partner outcomes", (S, A)),
    NavItem("admin.catalogue", "Catalogue", (S, A)),
    NavItem("admin.partner_catalogue", "Partners", (A,), also=(
        "admin.partner_page", "admin.edit_partner", "admin.add_partner_contact", "admin.add_partner_location",
        "admin.new_partner_service", "admin.partner_service_page", "admin.hsds_import_page")),
    NavItem("admin.users", "Users", (A,), also=("admin.user",)),
    NavItem("admin.partner_keys", "Partner keys", (A,)),
    NavItem("admin.policies", "Policies", (A,)),
    NavItem("admin.templates", "Templates", (A,)),
    NavItem("admin.audit_log", "Audit log", (A,), also=("admin.disclosures",)),
)


def nav_for(role: Role) -> list[dict]:
    """The items this role sees (pages not built yet are left out), the current one marked."""
    endpoint = request.endpoint
    return [{"endpoint": item.endpoint, "label": item.label,
             "current": endpoint == item.endpoint or endpoint in item.also}
            for item in NAV if role in item.roles and panel_page_exists(item.endpoint)]


@blueprint.app_template_global()
def panel_page_exists(endpoint: str) -> bool:
    """Whether this page exists and the person's role opens it (macros link only to such pages)."""
    view = current_app.view_functions.get(endpoint)
    allowed = getattr(view, "panel_roles", None)
    return view is not None and (allowed is None or (current_user.is_authenticated and current_user.role in allowed))


@blueprint.app_context_processor
def _panel_context() -> dict:
    if request.blueprint != "admin":
        return {}
    items = nav_for(current_user.role) if current_user.is_authenticated else []
    # The panel's pages that exist (a link to a page not built yet is shown as text).
    pages = {name for name in current_app.view_functions if name.startswith("admin.")}
    return {"nav_items": items, "logout_form": LogoutForm(), "panel_pages": pages}
