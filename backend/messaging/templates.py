"""Message templates (per language, falling back to English) and the lock-screen privacy check.

A text lands on a lock screen: no template may name drugs, treatment, addiction
or recovery programmes, and free text that does needs the coach's confirmation.
"""

from __future__ import annotations

import re
import string
import unicodedata

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
TEMPLATE_VARIABLES = {"first_name", "coach_name", "program_phone", "program_name", "appointment_time", "hours",
                      "crisis_number"}

# Words that reveal substance use or treatment on a lock screen (accents and case ignored).
SENSITIVE_TERMS = {
    "en": ["drug", "drugs", "alcohol", "opioid", "opioids", "opiate", "heroin", "fentanyl", "cocaine", "crack",
           "meth", "overdose", "overdosed", "addiction", "addict", "addicted", "rehab", "detox", "treatment",
           "recovery", "sober", "sobriety", "relapse", "methadone", "suboxone", "buprenorphine", "naloxone",
           "narcan", "naltrexone", "vivitrol", "substance", "withdrawal", "narcotics", "alcoholics anonymous"],
    "es": ["droga", "drogas", "alcohol", "opioide", "opioides", "heroina", "fentanilo", "cocaina", "sobredosis",
           "adiccion", "adicto", "adicta", "rehabilitacion", "desintoxicacion", "tratamiento", "recuperacion",
           "sobrio", "sobria", "recaida", "metadona", "buprenorfina", "naloxona", "sustancia", "sustancias",
           "abstinencia", "narcoticos"],
}
_SENSITIVE = re.compile(
    r"\b(" + "|".join(sorted({re.escape(t) for terms in SENSITIVE_TERMS.values() for t in terms}, key=len,
                             reverse=True)) + r")\b")


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def sensitive_terms_in(text: str) -> list[str]:
    """The sensitive words a text contains (empty when it is safe for a lock screen)."""
    return sorted(set(_SENSITIVE.findall(_fold(text))))


def language_of(language: str | None, key: str) -> str:
    """The patient's language if the template has it, else English."""
    base = (language or "en").split("-")[0].lower()
    return base if base in TEMPLATES[key] else "en"


def render(key: str, language: str | None, variables: dict[str, str]) -> str:
    """The template's text in the patient's language with its variables filled in."""
    text = TEMPLATES[key][language_of(language, key)]
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    return text.format(**{name: variables.get(name, "") for name in names})
