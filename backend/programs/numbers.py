"""Which programme owns a Twilio number: the one rule that files inbound texts and calls."""

from __future__ import annotations

import sqlalchemy as sa

from backend.common.errors import ConflictError
from backend.database import db
from backend.programs.models import Program, ProgramNumber


def owning_program(to_number: str | None, messaging_service_sid: str | None = None) -> Program | None:
    """The programme that owns the dialled number (or the Messaging Service it came through); None if nobody does.

    Never a guess: a number no programme owns must not be filed anywhere, or a
    patient's words would reach another programme's staff.
    """
    if to_number:
        program = db.session.scalar(
            sa.select(Program).join(ProgramNumber, ProgramNumber.program_id == Program.id)
            .where(ProgramNumber.number == to_number))
        if program is not None:
            return program
    if messaging_service_sid:
        return db.session.scalar(sa.select(Program).where(Program.messaging_service_sid == messaging_service_sid))
    return None


def sms_number(program_id: int) -> str | None:
    """The programme's own number for texts (its first SMS-capable number), if it has one."""
    return db.session.scalar(
        sa.select(ProgramNumber.number).where(ProgramNumber.program_id == program_id, ProgramNumber.sms.is_(True))
        .order_by(ProgramNumber.id).limit(1))


def add_number(program: Program, number: str, *, sms: bool = True, voice: bool = True) -> ProgramNumber:
    """Give the programme a number; a number some programme owns already is refused (409 number_taken)."""
    if db.session.scalar(sa.select(ProgramNumber.id).where(ProgramNumber.number == number)) is not None:
        raise ConflictError("number_taken", "That number already belongs to a programme.")
    row = ProgramNumber(program_id=program.id, number=number, sms=sms, voice=voice)
    db.session.add(row)
    db.session.flush()
    return row


def numbers_of(program_id: int) -> list[ProgramNumber]:
    """The numbers a programme owns, in the order they were added."""
    return list(db.session.scalars(sa.select(ProgramNumber).where(ProgramNumber.program_id == program_id)
                                   .order_by(ProgramNumber.id)))
