"""Message templates (per language, falling back to English) and the lock-screen privacy check.

A text lands on a lock screen: no template may name drugs, treatment, addiction
or recovery programmes, and free text that does needs the coach's confirmation.
"""

from __future__ import annotations

import string
import zoneinfo
from datetime import datetime

from babel.dates import format_skeleton, format_time

from backend.common.lock_screen import SENSITIVE_TERMS, sensitive_terms_in  # noqa: F401 - re-exported

TEMPLATES: dict[str, dict[str, str]] = {
    "after_visit": {
        "en": "Hi {first_name}, it's {coach_name}. It was good to meet you. I'm here if you want to talk: "
              "reply to this text or call {program_phone}.",
        "es": "Hola {first_name}, soy {coach_name}. Me dio gusto conocerte. Si quieres hablar, responde a este "
              "mensaje o llama al {program_phone}.",
    },
    "check_in": {
        "en": "Hi {first_name}, it's {coach_name}, just checking in. How are you doing? Reply here or call "
              "{program_phone}.",
        "es": "Hola {first_name}, soy {coach_name}. Solo quería saber cómo estás. Responde aquí o llama al "
              "{program_phone}.",
    },
    "check_in_month": {
        "en": "Hi {first_name}, it's {coach_name}. It's been a month. I'd love to hear how things are going. "
              "Reply or call {program_phone} any time.",
        "es": "Hola {first_name}, soy {coach_name}. Ya pasó un mes y me gustaría saber cómo te va. "
              "Responde o llama al {program_phone} cuando quieras.",
    },
    "appointment_reminder": {
        "en": "Hi {first_name}, a reminder of your appointment on {appointment_time}. Questions? Call "
              "{program_phone}.",
        "es": "Hola {first_name}, te recordamos tu cita el {appointment_time}. ¿Preguntas? Llama al "
              "{program_phone}.",
    },
    "help_reply": {
        "en": "{program_name}: reply to reach your coach, or call {program_phone}. Reply STOP to opt out.",
        "es": "{program_name}: responde para hablar con tu coach, o llama al {program_phone}. "
              "Responde PARAR para no recibir más mensajes.",
    },
    # Sent once per 12 hours to a text that arrives while the warm line is closed.
    "line_closed": {
        "en": "{program_name}: thanks for your message. We are closed now and will reply when we open "
              "({hours}). If you need help right away, call or text {crisis_number}.",
        "es": "{program_name}: gracias por tu mensaje. Ahora estamos cerrados y te responderemos cuando abramos "
              "({hours}). Si necesitas ayuda ahora mismo, llama o escribe al {crisis_number}.",
    },
}
# Words the product says itself, per language.
NEUTRAL_SENDER = {"en": "Your care team", "es": "Tu equipo de apoyo"}
NO_COACH = {"en": "your coach", "es": "tu coach"}
# Confirmations for the keywords the product answers itself (Twilio answers the ones it handles: see inbound.py).
REPLIES = {
    "opted_out": {"en": "{program_name}: you will not get more texts from us. Reply START to get them again.",
                  "es": "{program_name}: ya no recibirás más mensajes nuestros. Responde INICIAR para volver a "
                        "recibirlos."},
    "opted_in": {"en": "{program_name}: you will get our texts again. Reply STOP to stop them.",
                 "es": "{program_name}: volverás a recibir nuestros mensajes. Responde PARAR para no recibirlos."},
}
TEMPLATE_VARIABLES = {"first_name", "coach_name", "program_phone", "program_name", "appointment_time", "hours",
                      "crisis_number"}

def language_of(language: str | None, key: str) -> str:
    """The patient's language if the template has it, else English."""
    base = (language or "en").split("-")[0].lower()
    return base if base in TEMPLATES[key] else "en"


def in_language(texts: dict[str, str], language: str | None) -> str:
    """The text in the language (English when there is none)."""
    return texts.get((language or "en").split("-")[0].lower(), texts["en"])


def local_time(moment: datetime, timezone: str, language: str | None) -> str:
    """A date and time as a patient reads it: in their time zone and language ("Wed, Dec 2, 11:12 AM")."""
    locale = (language or "en").split("-")[0].lower()
    local = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    text = f"{format_skeleton('MMMMEd', local, locale=locale)}, {format_time(local, 'short', locale=locale)}"
    # CLDR puts narrow no-break spaces before "AM": one such character makes a whole text UCS-2 (70 a segment).
    return text.replace("\u202f", " ").replace("\xa0", " ")


def render(key: str, language: str | None, variables: dict[str, str]) -> str:
    """The template's text in the patient's language with its variables filled in."""
    text = TEMPLATES[key][language_of(language, key)]
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    return text.format(**{name: variables.get(name, "") for name in names})
