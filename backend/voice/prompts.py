"""What the warm line says, in English and Spanish.

Callers hear the crisis number whenever nobody can take their call. Coaches and partners hear a whisper that
never names the caller or anything about their care: phones are answered on speaker in ED hallways.
"""

from __future__ import annotations

PROMPTS: dict[str, dict[str, str]] = {
    "en": {
        "connecting": "Thanks for calling. Please hold while we connect you with a peer.",
        "closed": "Thanks for calling {program}. The warm line is closed now. Our hours are {hours}.",
        "all_busy": "Thanks for calling {program}. All our peers are on other calls right now.",
        "crisis": "If you are in crisis or thinking about harming yourself, hang up and call {crisis} now.",
        "voicemail": "Please leave a message with your name and number after the tone, then hang up. "
                     "A peer will call you back.",
        "voicemail_closed": "Please leave a message with your name and number after the tone, then hang up. "
                            "A peer will call you back when we open.",
        "goodbye": "Thank you. Goodbye.",
        "sorry": "We are sorry, something went wrong on our side.",
        "not_in_service": "This number is not in service. Goodbye.",
        "screen_known": "Bridgeline warm line, number on file. Press 1 to take the call.",
        "screen_new": "Bridgeline warm line, new caller. Press 1 to take the call.",
        "screen_outbound": "Bridgeline. Press 1 to place your call.",
        "screen_partner": "This is a call from Bridgeline to introduce a client. Press 1 to join the call.",
        "not_taken": "The call was not taken. Goodbye.",
        "gone": "This call is no longer waiting. Goodbye.",
        "partner_notice": "This call shares information protected by federal confidentiality rules, "
                          "42 C F R part 2. You may not disclose it further without the person's written "
                          "consent or as the rules allow. Connecting you now.",
        "outbound_no_answer": "Your patient did not answer. Goodbye.",
    },
    "es": {
        "connecting": "Gracias por llamar. Espere un momento mientras le comunicamos con un compañero.",
        "closed": "Gracias por llamar a {program}. La línea está cerrada ahora. Nuestro horario es {hours}.",
        "all_busy": "Gracias por llamar a {program}. Todos nuestros compañeros están en otras llamadas.",
        "crisis": "Si está en crisis o piensa hacerse daño, cuelgue y llame al {crisis} ahora.",
        "voicemail": "Deje un mensaje con su nombre y número después del tono y cuelgue. "
                     "Un compañero le devolverá la llamada.",
        "voicemail_closed": "Deje un mensaje con su nombre y número después del tono y cuelgue. "
                            "Un compañero le llamará cuando abramos.",
        "goodbye": "Gracias. Adiós.",
        "sorry": "Lo sentimos, hubo un problema de nuestra parte.",
        "not_in_service": "Este número no está en servicio. Adiós.",
    },
}


def prompt(key: str, language: str, **values: str) -> str:
    """One sentence in the language (English where a staff-facing prompt has only English)."""
    text = PROMPTS.get(language, PROMPTS["en"]).get(key) or PROMPTS["en"][key]
    return text.format(**values)


def spoken_number(number: str) -> str:
    """A number read digit by digit ("9 8 8"), so text-to-speech never says "nine hundred eighty-eight"."""
    return " ".join(ch for ch in number if ch.isdigit())
