"""The coach page counts the warm-line rings the coach took and the ones they did not."""

from __future__ import annotations

from datetime import timedelta

from backend.database import db, utcnow
from backend.voice.models import Call, CallDirection, CallLeg, CallStatus, LegKind, LegOutcome
from tests.factories import PASSWORD


def test_the_coach_page_shows_calls_answered_and_missed(app, panel_login, client, supervisor, coach):
    now = utcnow()
    with app.app_context():
        for n, outcome in enumerate([LegOutcome.ACCEPTED, LegOutcome.ACCEPTED, LegOutcome.NO_ANSWER,
                                     LegOutcome.DECLINED, LegOutcome.CANCELLED]):
            call = Call(program_id=coach.program_id, direction=CallDirection.INBOUND, status=CallStatus.COMPLETED,
                        program_number="+13125550100", external_number=f"+1630555{n:04d}",
                        started_at=now - timedelta(days=n))
            db.session.add(call)
            db.session.flush()
            db.session.add(CallLeg(call_id=call.id, kind=LegKind.COACH, user_id=coach.id, number="+13125550111",
                                   outcome=outcome, rung_at=now - timedelta(days=n)))
        db.session.commit()
    panel_login(supervisor.email, PASSWORD)
    page = client.get(f"/admin/coaches/{coach.id}").get_data(as_text=True)
    assert "<strong>2</strong> calls answered, <strong>2</strong> rung and not taken" in page
