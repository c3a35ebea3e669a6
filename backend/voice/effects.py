"""Run the warm line's queued commands against Twilio once their unit of work has committed.

Entry-point code: a leg Twilio will not place (a bad number, an outage) becomes a failed leg in a unit of
work of its own, which rings the next coach or sends the caller to voicemail: one bad number never breaks
the chain. Nothing here logs a phone number.
"""

from __future__ import annotations

import logging

from backend.common.unit_of_work import transaction
from backend.twilio.gateway import GatewayError, gateway
from backend.voice import commands, routing
from backend.voice.paths import absolute, leg_path

log = logging.getLogger("bridgeline.voice")


def run(command: commands.Command) -> None:
    """Send one command to Twilio; a failure is logged (codes only) and, for a new leg, moves the call on."""
    twilio = gateway()
    try:
        if isinstance(command, commands.RingLeg):
            sid = twilio.place_call(command.to, command.from_, absolute(command.path),
                                    absolute(leg_path(command.leg_id, "status")), command.timeout)
            with transaction():
                routing.leg_placed(command.leg_id, sid)
        elif isinstance(command, commands.StopCall):
            twilio.end_call(command.sid, ringing=command.ringing)
        elif isinstance(command, commands.Redirect):
            twilio.redirect_call(command.sid, absolute(command.path))
        elif isinstance(command, commands.Hold):
            twilio.hold_participant(command.conference_sid, command.call_sid, command.hold)
    except GatewayError as exc:
        log.warning("voice command %s refused by Twilio: status=%s code=%s", type(command).__name__, exc.status,
                    exc.code)
        if isinstance(command, commands.RingLeg):
            with transaction():
                routing.leg_failed(command.leg_id)


commands.register_runner(run)
