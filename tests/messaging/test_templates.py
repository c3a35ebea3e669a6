"""Templates are safe on a lock screen, in English and Spanish."""

from __future__ import annotations

import pytest

from backend.messaging.templates import TEMPLATE_VARIABLES, TEMPLATES, render, sensitive_terms_in

VARIABLES = {"first_name": "Rosa", "coach_name": "Marisol", "program_phone": "(312) 555-0100",
             "program_name": "Lakeside Health", "appointment_time": "Tue 10:00"}


@pytest.mark.parametrize("key", sorted(TEMPLATES))
@pytest.mark.parametrize("language", ["en", "es"])
def test_every_template_is_lock_screen_safe(key, language):
    assert language in TEMPLATES[key]
    assert sensitive_terms_in(TEMPLATES[key][language]) == []
    assert sensitive_terms_in(render(key, language, VARIABLES)) == []


def test_templates_only_use_known_variables():
    import string

    for texts in TEMPLATES.values():
        for text in texts.values():
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            assert names <= TEMPLATE_VARIABLES


@pytest.mark.parametrize("text", ["Did you make it to detox?", "¿Fuiste al tratamiento?", "Your METHADONE dose",
                                  "la sobredosis de ayer", "Recovery meeting at 6", "Rehabilitación mañana"])
def test_term_list_catches_english_and_spanish(text):
    assert sensitive_terms_in(text)


@pytest.mark.parametrize("text", ["See you Tuesday!", "¿Cómo estás hoy?", "Call me back when you can"])
def test_everyday_words_pass(text):
    assert sensitive_terms_in(text) == []


def test_unknown_language_falls_back_to_english():
    assert render("check_in", "fr", VARIABLES).startswith("Hi Rosa")
    assert render("check_in", "es-MX", VARIABLES).startswith("Hola Rosa")
