"""The lock-screen rule: words that reveal substance use or treatment never appear in a text unconfirmed.

One place for the rule: templates, free texts, programme and coach names for texts all check here.
"""

from __future__ import annotations

import re
import unicodedata

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
