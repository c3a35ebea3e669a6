"""Warm-line upkeep jobs: delete voicemails at Twilio after the programme's retention, and end calls whose
last webhook never came (so no coach stays held by a call that is over)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from backend.common.steps import Steps
from backend.database import db, utcnow
from backend.programs.hours import line_for
from backend.twilio.gateway import GatewayError, gateway
from backend.voice.ending import finish_call
from backend.voice.models import OPEN_CALL_STATUSES, Call, CallStatus

log = logging.getLogger("bridgeline.voice")
#: A live call longer than this is taken to have lost its final webhook.
LONGEST_CALL = timedelta(hours=6)
#: A call still looking for a coach this long after the line's maximum wait lost its webhooks.
RINGING_GRACE = timedelta(minutes=5)


def delete_expired_voicemails(steps: Steps, now: datetime | None = None, limit: int = 200) -> int:
    """Delete each voicemail older than its programme's retention at Twilio, then mark it deleted here."""
    now = now or utcnow()
    deleted = 0
    candidates = list(db.session.execute(
        sa.select(Call.id, Call.program_id, Call.voicemail_sid, Call.started_at)
        .where(Call.voicemail_sid.is_not(None), Call.voicemail_deleted_at.is_(None))
        .order_by(Call.started_at).limit(limit)).all())
    for call_id, program_id, sid, started_at in candidates:
        if started_at > now - timedelta(days=line_for(program_id).recording_retention_days):
            continue
        try:
            gateway().delete_recording(sid)
        except GatewayError as exc:
            log.warning("voicemail deletion refused by Twilio: status=%s code=%s (retried next run)", exc.status,
                        exc.code)
            continue
        db.session.execute(sa.update(Call).where(Call.id == call_id).values(voicemail_deleted_at=now))
        steps.commit()
        deleted += 1
    return deleted


def end_lost_calls(now: datetime | None = None) -> int:
    """Finish calls whose final status callback never arrived, freeing their coaches; returns how many."""
    now = now or utcnow()
    ended = 0
    for call in db.session.scalars(sa.select(Call).where(Call.status.in_(OPEN_CALL_STATUSES))
                                   .with_for_update(skip_locked=True)):
        ringing_too_long = (call.status == CallStatus.RINGING and call.started_at < now - RINGING_GRACE
                            - timedelta(seconds=line_for(call.program_id).max_wait_seconds))
        if ringing_too_long or call.started_at < now - LONGEST_CALL:
            finish_call(call)
            ended += 1
    return ended
