"""Every text and spoken answer the product writes itself, checked in both languages with sample values:
no English word in a Spanish one, no lock-screen term anywhere, dates in the patient's language and zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from backend.messaging.templates import NEUTRAL_SENDER, NO_COACH, REPLIES, TEMPLATES, local_time, render
from backend.messaging.templates import sensitive_terms_in as lock_screen_terms
from backend.users.models import User, name_for_texts
from backend.voice.prompts import PROMPTS, prompt

SAMPLE = {"first_name": "Lucía", "coach_name": "Robin", "program_phone": "(312) 555-0100",
          "program_name": "Lakeside General", "hours": "todos los días, de 08:00 a 22:00", "crisis_number": "988"}
# English words that have no business in a Spanish text (a small list, enough to catch a forgotten string).
ENGLISH = {"hi", "hello", "your", "you", "the", "and", "reply", "call", "care", "team", "coach's", "thanks", "we",
           "at", "on", "wed", "dec", "am", "pm", "please", "message", "when", "open", "closed", "goodbye"}
APPOINTMENT = datetime(2026, 12, 2, 17, 12, tzinfo=UTC)


def words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-zÁÉÍÓÚÑáéíóúñü']+", text)}


def spanish_texts() -> dict[str, str]:
    texts = {f"template {key}": render(key, "es", {**SAMPLE, "appointment_time": local_time(
        APPOINTMENT, "America/Chicago", "es")}) for key in TEMPLATES}
    texts.update({f"reply {key}": value["es"].format(program_name=SAMPLE["program_name"])
                  for key, value in REPLIES.items()})
    texts.update({"neutral sender": NEUTRAL_SENDER["es"], "no coach": NO_COACH["es"]})
    texts.update({f"spoken {key}": prompt(key, "es", program="Lakeside", hours="lunes 08:00 a 22:00",
                                          crisis="9 8 8") for key in PROMPTS["es"]})
    return texts


def english_texts() -> dict[str, str]:
    texts = {f"template {key}": render(key, "en", {**SAMPLE, "appointment_time": local_time(
        APPOINTMENT, "America/Chicago", "en")}) for key in TEMPLATES}
    texts.update({f"reply {key}": value["en"] for key, value in REPLIES.items()})
    texts.update({f"spoken {key}": prompt(key, "en", program="Lakeside", hours="Monday 08:00 to 22:00",
                                          crisis="9 8 8") for key in PROMPTS["en"]})
    return texts


@pytest.mark.parametrize(("name", "text"), sorted(spanish_texts().items()))
def test_spanish_texts_are_wholly_spanish(name, text):
    assert words(text) & ENGLISH == set(), f"{name}: {text}"


@pytest.mark.parametrize(("name", "text"), sorted({**english_texts(), **spanish_texts()}.items()))
def test_nothing_the_product_writes_reveals_treatment_on_a_lock_screen(name, text):
    if name == "spoken partner_notice":  # the Part 2 notice a partner hears after pressing 1 (it must say so)
        return
    assert lock_screen_terms(text) == [], f"{name}: {text}"


def test_every_spoken_prompt_callers_hear_exists_in_spanish():
    caller_facing = {"connecting", "closed", "all_busy", "crisis", "voicemail", "voicemail_closed", "goodbye",
                     "sorry", "not_in_service"}
    assert caller_facing <= set(PROMPTS["es"])


def test_dates_are_in_the_patients_language_and_time_zone():
    assert local_time(APPOINTMENT, "America/Chicago", "en") == "Wed, Dec 2, 11:12 AM"
    assert local_time(APPOINTMENT, "America/Chicago", "es") == "mié, 2 de diciembre, 11:12"
    assert local_time(APPOINTMENT, "America/Los_Angeles", "es").endswith("9:12")


def test_a_coach_is_named_in_texts_by_first_name_or_the_name_they_chose():
    assert name_for_texts(User(full_name="Coach Robin Reyes")) == "Robin"
    assert name_for_texts(User(full_name="Dr. Ana Ruiz")) == "Ana"
    assert name_for_texts(User(full_name="Coach Robin Reyes", text_name="Rob")) == "Rob"
