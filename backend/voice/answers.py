"""What each party hears at each step, in the call's language: the voice channel's rendering, as TwiML."""

from __future__ import annotations

from backend.programs.hours import line_for, spoken_hours
from backend.programs.models import Program
from backend.twilio import twiml
from backend.voice.models import Call, CallLeg, LegKind
from backend.voice.paths import RECORDED, RECORDING, RINGBACK, absolute, call_path, leg_path
from backend.voice.prompts import prompt, spoken_number


def room(call: Call) -> str:
    """The call's own conference: named by our id, never by anything about the caller."""
    return f"bridgeline-call-{call.id}"


def _crisis(call: Call) -> str:
    return prompt("crisis", call.language, crisis=spoken_number(line_for(call.program_id).crisis_number))


def voicemail(call: Call, program: Program, *, why: str) -> str:
    """Closed, all busy or nobody answered: say so, give the crisis number, take a message."""
    line = line_for(call.program_id)
    language = call.language
    if why == "closed":
        texts = [prompt("closed", language, program=program.name, hours=spoken_hours(line, language)),
                 _crisis(call), prompt("voicemail_closed", language)]
    elif why == "busy":
        texts = [prompt("all_busy", language, program=program.name), _crisis(call), prompt("voicemail", language)]
    elif why == "sorry":
        texts = [prompt("sorry", language), _crisis(call), prompt("voicemail", language)]
    else:
        texts = [_crisis(call), prompt("voicemail", language)]
    return twiml.take_voicemail(texts, language, absolute(RECORDED), absolute(RECORDING),
                                line.transcribe_voicemail, prompt("goodbye", language))


def wait_for_coach(call: Call) -> str:
    """The caller waits in the call's conference, hearing ringing, while coaches are rung one at a time."""
    return twiml.wait_in_room([prompt("connecting", call.language)], call.language, room(call),
                              absolute(call_path(call.id, "wait")), absolute(call_path(call.id, "events")),
                              absolute(call_path(call.id, "after")))


def ringback() -> str:
    """The waiting caller's ringing."""
    return twiml.ringback(absolute(RINGBACK))


def screen(call: Call, leg: CallLeg) -> str:
    """The whisper: what kind of call, never who; press 1 to take it (staff prompts are in English)."""
    if leg.kind == LegKind.PARTNER:
        text = prompt("screen_partner", "en")
    elif call.direction == "outbound":
        text = prompt("screen_outbound", "en")
    else:
        text = prompt("screen_known" if call.patient_id else "screen_new", "en")
    return twiml.screen(text, "en", absolute(leg_path(leg.id, "accept")), 6, prompt("not_taken", "en"))


def join(call: Call, leg: CallLeg) -> str:
    """Into the call's conference: a partner after the confidentiality notice; the patient's leaving ends it."""
    notice = [prompt("partner_notice", "en")] if leg.kind == LegKind.PARTNER else []
    return twiml.join_room(room(call), "en", notice, ends_call=leg.kind == LegKind.PATIENT,
                           events_url=absolute(call_path(call.id, "events")))


def gone(language: str = "en") -> str:
    """This leg is no longer wanted (taken by someone else, or the caller hung up)."""
    return twiml.say_and_hang_up([prompt("gone", language)], language)


def not_taken() -> str:
    return twiml.say_and_hang_up([prompt("not_taken", "en")], "en")


def outbound_no_answer() -> str:
    return twiml.say_and_hang_up([prompt("outbound_no_answer", "en")], "en")


def goodbye(language: str) -> str:
    return twiml.say_and_hang_up([prompt("goodbye", language)], language)


def not_in_service() -> str:
    return twiml.say_and_hang_up([prompt("not_in_service", "en")], "en")


def apology() -> str:
    """Something failed on our side: apologise and take a message (never silence, never a 500).

    Built without the database (it may be what failed); the message is filed by the caller's CallSid.
    """
    texts = [prompt("sorry", "en"), prompt("crisis", "en", crisis=spoken_number("988")), prompt("voicemail", "en")]
    return twiml.take_voicemail(texts, "en", absolute(RECORDED), absolute(RECORDING), False, prompt("goodbye", "en"))
