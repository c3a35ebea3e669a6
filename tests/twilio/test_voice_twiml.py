"""The warm line's TwiML, tested as documents: the verbs and attributes Twilio acts on."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from backend.twilio import twiml


def verbs(document: str) -> list[str]:
    return [child.tag for child in ET.fromstring(document)]


def test_the_screen_gathers_one_key_and_hangs_up_on_silence():
    root = ET.fromstring(twiml.screen("Press 1 to take the call.", "en", "https://x.test/accept", 6, "Goodbye."))
    gather = root.find("Gather")
    assert gather.attrib == {"action": "https://x.test/accept", "input": "dtmf", "method": "POST", "numDigits": "1",
                             "timeout": "6"}
    assert gather.find("Say").text == "Press 1 to take the call."
    assert verbs(ET.tostring(root, encoding="unicode")) == ["Gather", "Say", "Hangup"]


def test_the_caller_waits_in_the_calls_own_conference_and_ends_it_by_leaving():
    document = twiml.wait_in_room(["Please hold."], "es", "bridgeline-call-7", "https://x.test/wait",
                                  "https://x.test/events", "https://x.test/after")
    root = ET.fromstring(document)
    assert root.find("Say").attrib["language"] == "es-US"
    dial = root.find("Dial")
    conference = dial.find("Conference")
    assert dial.attrib["action"] == "https://x.test/after" and conference.text == "bridgeline-call-7"
    assert conference.attrib["startConferenceOnEnter"] == "false"  # nobody hears anyone until a coach joins
    assert conference.attrib["endConferenceOnExit"] == "true"  # the caller hanging up ends the call for all
    assert conference.attrib["waitUrl"] == "https://x.test/wait" and conference.attrib["beep"] == "false"
    assert "join" in conference.attrib["statusCallbackEvent"]


def test_voicemail_gives_the_notice_first_and_records_at_most_two_minutes_without_transcription():
    document = twiml.take_voicemail(["Closed now.", "In crisis? Call 9 8 8."], "en", "https://x.test/recorded",
                                    "https://x.test/recording", False, "Goodbye.")
    assert verbs(document) == ["Say", "Say", "Record", "Say", "Hangup"]
    record = ET.fromstring(document).find("Record")
    assert record.attrib["maxLength"] == "120" and record.attrib["playBeep"] == "true"
    assert record.attrib["transcribe"] == "false"
    assert record.attrib["recordingStatusCallback"] == "https://x.test/recording"


def test_a_partner_hears_the_notice_before_joining_and_the_patients_leaving_ends_the_call():
    partner = ET.fromstring(twiml.join_room("bridgeline-call-7", "en", ["42 C F R part 2 notice."]))
    assert [c.tag for c in partner] == ["Say", "Dial", "Hangup"]
    assert partner.find("Dial/Conference").attrib["endConferenceOnExit"] == "false"
    patient = ET.fromstring(twiml.join_room("bridgeline-call-7", "en", ends_call=True))
    assert patient.find("Dial/Conference").attrib == {"beep": "false", "endConferenceOnExit": "true",
                                                      "startConferenceOnEnter": "true"}


def test_the_apology_needs_no_database(app):
    """Built when the database may be what failed: no query, and it still takes a message."""
    from backend.voice import answers

    with app.test_request_context():
        document = answers.apology()
    assert verbs(document) == ["Say", "Say", "Say", "Record", "Say", "Hangup"]
    assert "9 8 8" in document
