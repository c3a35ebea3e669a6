"""Templates and follow-up plans as data: each programme's versions, with the built-in texts as version 0.

Editing a template or plan saves a new version (the old ones stay, for the record of what was sent); a text
records the version it was written from. A template that would reveal treatment on a lock screen, or uses a
placeholder that does not exist, is refused on save.
"""

from __future__ import annotations

import string

import sqlalchemy as sa

from backend.audit import service as audit
from backend.common.errors import field_error, not_found
from backend.common.lock_screen import sensitive_terms_in
from backend.database import db
from backend.messaging.models import FollowUpPlanVersion, MessageTemplateVersion
from backend.messaging.plans import PLANS, FollowUpPlan, Step
from backend.messaging.templates import TEMPLATE_VARIABLES, TEMPLATES
from backend.users.models import Role, User
from backend.users.service import require_role

LANGUAGES = ("en", "es")
EDITABLE = tuple(key for key in TEMPLATES if key != "help_reply")
SAMPLE_VALUES = {"first_name": "Lucía", "coach_name": "Robin", "program_phone": "(312) 555-0100",
                 "program_name": "Lakeside General", "appointment_time": "Wed, Dec 2, 11:12 AM",
                 "hours": "every day, 08:00 to 22:00", "crisis_number": "988"}


def template_text(program_id: int, key: str, language: str | None) -> tuple[str, int]:
    """The template's text in the language (English when it has none) and its version (0: built in)."""
    wanted = (language or "en").split("-")[0].lower()
    for lang in dict.fromkeys((wanted, "en")):
        row = db.session.execute(
            sa.select(MessageTemplateVersion.body, MessageTemplateVersion.version)
            .where(MessageTemplateVersion.program_id == program_id, MessageTemplateVersion.key == key,
                   MessageTemplateVersion.language == lang)
            .order_by(MessageTemplateVersion.version.desc()).limit(1)).first()
        if row is not None:
            return row.body, row.version
        if lang in TEMPLATES[key]:
            return TEMPLATES[key][lang], 0
    return TEMPLATES[key]["en"], 0


def fill(text: str, variables: dict[str, str]) -> str:
    """The text with its placeholders filled in (a missing value leaves a blank, never a crash)."""
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    return text.format(**{name: variables.get(name, "") for name in names})


def check_template(body: str) -> None:
    """Refuse a template with an unknown placeholder, broken braces, or a lock-screen term."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(body) if name is not None}
    except ValueError as exc:
        raise field_error("body", "Braces must come in pairs around a placeholder, like {first_name}.") from exc
    unknown = names - TEMPLATE_VARIABLES
    if unknown:
        raise field_error("body", f"Unknown placeholder: {', '.join(sorted(unknown))}. Use: "
                                  f"{', '.join(sorted(TEMPLATE_VARIABLES))}.")
    terms = sensitive_terms_in(fill(body, SAMPLE_VALUES))
    if terms:
        raise field_error("body", f"This would reveal treatment on a lock screen: {', '.join(terms)}.")


def save_template(actor: User, key: str, language: str, body: str) -> dict:
    """An admin saves a new version of one template in one language."""
    require_role(actor, Role.ADMIN)
    if key not in EDITABLE or language not in LANGUAGES:
        raise not_found("template")
    check_template(body)
    _, version = template_text(actor.program_id, key, language)
    current = db.session.scalar(sa.select(sa.func.max(MessageTemplateVersion.version)).where(
        MessageTemplateVersion.program_id == actor.program_id, MessageTemplateVersion.key == key,
        MessageTemplateVersion.language == language)) or 0
    row = MessageTemplateVersion(program_id=actor.program_id, key=key, language=language, version=current + 1,
                                 body=body.strip(), created_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    audit.record("update", "template", actor=actor, resource_id=f"{key}/{language}",
                 details={"version": row.version})
    return template_entry(actor.program_id, key, language)


def template_entry(program_id: int, key: str, language: str) -> dict:
    """One template as the API and the panel show it: text, version, a preview with sample values."""
    body, version = template_text(program_id, key, language)
    return {"key": key, "language": language, "body": body, "version": version,
            "preview": fill(body, SAMPLE_VALUES), "built_in": TEMPLATES[key].get(language, TEMPLATES[key]["en"])}


def catalogue(actor: User) -> list[dict]:
    """Every editable template in every language, as in use now."""
    return [template_entry(actor.program_id, key, language) for key in EDITABLE for language in LANGUAGES]


def template_versions(actor: User, key: str, language: str) -> list[MessageTemplateVersion]:
    """The saved versions of one template, newest first (leads)."""
    require_role(actor, Role.ADMIN, Role.SUPERVISOR)
    if key not in EDITABLE or language not in LANGUAGES:
        raise not_found("template")
    return list(db.session.scalars(sa.select(MessageTemplateVersion).where(
        MessageTemplateVersion.program_id == actor.program_id, MessageTemplateVersion.key == key,
        MessageTemplateVersion.language == language).order_by(MessageTemplateVersion.version.desc())))


def plan_for(program_id: int, key: str) -> tuple[FollowUpPlan, int] | None:
    """The programme's plan in use and its version (0: built in); None for an unknown plan."""
    row = db.session.scalar(sa.select(FollowUpPlanVersion).where(
        FollowUpPlanVersion.program_id == program_id, FollowUpPlanVersion.key == key)
        .order_by(FollowUpPlanVersion.version.desc()).limit(1))
    if row is not None:
        steps = tuple(Step(s["days"], s["template_key"]) for s in row.steps)
        return FollowUpPlan(row.key, row.name, steps, row.delivery_hour), row.version
    return (PLANS[key], 0) if key in PLANS else None


def save_plan(actor: User, key: str, data: dict) -> dict:
    """An admin saves a new version of a follow-up plan (steps of days after the anchor, each a template)."""
    require_role(actor, Role.ADMIN)
    if key not in PLANS:
        raise not_found("follow_up_plan")
    steps = sorted(data["steps"], key=lambda s: s["days"])
    if any(s["template_key"] not in EDITABLE for s in steps):
        raise field_error("steps", f"Each step's template must be one of: {', '.join(EDITABLE)}.")
    current = db.session.scalar(sa.select(sa.func.max(FollowUpPlanVersion.version)).where(
        FollowUpPlanVersion.program_id == actor.program_id, FollowUpPlanVersion.key == key)) or 0
    row = FollowUpPlanVersion(program_id=actor.program_id, key=key, version=current + 1,
                              name=data.get("name") or PLANS[key].name, steps=steps,
                              delivery_hour=data.get("delivery_hour", PLANS[key].delivery_hour),
                              created_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    audit.record("update", "follow_up_plan", actor=actor, resource_id=key, details={"version": row.version})
    return plan_entry(actor.program_id, key)


def plan_entry(program_id: int, key: str) -> dict:
    """A plan as the API and the panel show it."""
    plan, version = plan_for(program_id, key)
    return {"key": key, "name": plan.name, "delivery_hour": plan.delivery_hour, "version": version,
            "steps": [{"days": s.days, "template_key": s.template_key} for s in plan.steps]}


def plans(actor: User) -> list[dict]:
    """Every follow-up plan as in use now."""
    return [plan_entry(actor.program_id, key) for key in PLANS]
