"""Flask CLI commands: create-user, seed-demo."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from backend.auth import mfa
from backend.common.errors import DomainError
from backend.database import db
from backend.programs.models import Program
from backend.users.models import Role


def register(app: Flask) -> None:
    """Attach the commands to the app's CLI."""
    app.cli.add_command(create_user_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(serve_command)
    app.cli.add_command(program_number_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(mfa_policy_command)


@click.command("create-user")
@with_appcontext
@click.option("--email", prompt=True)
@click.option("--full-name", prompt=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), prompt=True)
@click.option("--program", "program_name", default=None,
              help="Programme name; created if missing. Defaults to the only programme.")
@click.password_option("--password", prompt="Password", confirmation_prompt=True)
def create_user_command(email, full_name, role, program_name, password):
    """Create a staff account (the password is prompted for, never echoed)."""
    from backend.users.service import create_user

    program = _program_for(program_name)
    try:
        user = create_user(program.id, email=email, full_name=full_name, role=Role(role), password=password)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo(f"Created {user.role} {user.email} (id {user.id}) in programme {program.name!r}.")


def _program_for(name: str | None, create: bool = True) -> Program:
    programs = list(db.session.scalars(sa.select(Program).order_by(Program.id)))
    if name:
        match = next((p for p in programs if p.name == name), None)
        if match is None and not create:
            raise click.ClickException(f"No programme is called {name!r}.")
        if match is None:
            match = Program(name=name)
            db.session.add(match)
            db.session.flush()
        return match
    if len(programs) == 1:
        return programs[0]
    if not programs:
        raise click.ClickException("No programme exists yet: pass --program NAME to create one.")
    raise click.ClickException("Several programmes exist: pass --program NAME.")


@click.group("program-number")
def program_number_group():
    """The Twilio numbers each programme owns (texts and calls to them reach that programme only)."""


@program_number_group.command("add")
@with_appcontext
@click.argument("number")
@click.option("--program", "program_name", default=None, help="Programme name. Defaults to the only programme.")
@click.option("--sms/--no-sms", default=True, help="Texts go out from this number (the first SMS number).")
@click.option("--voice/--no-voice", default=True, help="The warm line answers calls to it.")
def add_program_number_command(number, program_name, sms, voice):
    """Give a programme a Twilio number it owns (E.164, e.g. +13125550100)."""
    from marshmallow import ValidationError

    from backend.common.schemas import normalise_phone
    from backend.programs.numbers import add_number

    program = _program_for(program_name, create=False)
    try:
        row = add_number(program, normalise_phone(number, current_app.config["PHONE_DEFAULT_REGION"]),
                         sms=sms, voice=voice)
        db.session.commit()
    except ValidationError as exc:
        raise click.ClickException("Not a valid phone number.") from exc
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo(f"Number ending {row.number[-4:]} now belongs to programme {program.name!r}.")


@program_number_group.command("messaging-service")
@with_appcontext
@click.argument("sid")
@click.option("--program", "program_name", default=None, help="Programme name. Defaults to the only programme.")
def set_messaging_service_command(sid, program_name):
    """Send the programme's texts through a Twilio Messaging Service (MG…); `none` to stop."""
    program = _program_for(program_name, create=False)
    value = None if sid.lower() == "none" else sid
    if value is not None and not (value.startswith("MG") and len(value) == 34):
        raise click.ClickException("A Messaging Service SID is MG followed by 32 characters.")
    owner = db.session.scalar(sa.select(Program).where(Program.messaging_service_sid == value)) if value else None
    if owner is not None and owner.id != program.id:
        raise click.ClickException("That Messaging Service already belongs to another programme.")
    program.messaging_service_sid = value
    db.session.commit()
    click.echo(f"Programme {program.name!r} sends through {value or 'its own number'}.")


@program_number_group.command("list")
@with_appcontext
def list_program_numbers_command():
    """List each programme's numbers and Messaging Service."""
    from backend.programs.models import ProgramNumber

    for program in db.session.scalars(sa.select(Program).order_by(Program.id)):
        numbers = db.session.scalars(sa.select(ProgramNumber).where(ProgramNumber.program_id == program.id)
                                     .order_by(ProgramNumber.id))
        listed = ", ".join(f"{n.number} ({'sms' if n.sms else ''}{'+' if n.sms and n.voice else ''}"
                           f"{'voice' if n.voice else ''})" for n in numbers) or "none"
        service = f"; messaging service {program.messaging_service_sid}" if program.messaging_service_sid else ""
        click.echo(f"{program.name}: {listed}{service}")


@click.group("audit")
def audit_group():
    """The audit trail's seals (tamper evidence)."""


@audit_group.command("verify")
@with_appcontext
def verify_audit_command():
    """Recompute every seal; name the first block edited, deleted or inserted into since (exit 1 if any)."""
    from backend.audit.seals import verify

    verdict = verify()
    if not verdict.intact:
        first, last = verdict.first_bad_events
        raise click.ClickException(f"Audit trail altered: seal {verdict.first_bad_seal} (events {first}-{last}): "
                                   f"{verdict.problem}. {verdict.sealed_blocks} earlier blocks are intact.")
    click.echo(f"Audit trail intact: {verdict.sealed_blocks} sealed blocks, {verdict.sealed_events} events; "
               f"{verdict.unsealed_events} newer events not sealed yet.")


@audit_group.command("seal")
@with_appcontext
def seal_audit_command():
    """Seal the closed blocks now (the worker does it every minute)."""
    from backend.audit.seals import seal_closed_blocks

    written = seal_closed_blocks()
    db.session.commit()
    click.echo(f"{written} block(s) sealed.")


@click.command("mfa-policy")
@with_appcontext
@click.option("--program", "program_name", default=None, help="Programme name. Defaults to the only programme.")
@click.option("--supervisors/--no-supervisors", required=True,
              help="Whether supervisors, like admins, sign in to the panel with a second factor.")
def mfa_policy_command(program_name, supervisors):
    """Require the panel's second factor of supervisors too (admins always have it)."""
    program = _program_for(program_name, create=False)
    mfa.set_supervisor_policy(program, supervisors)
    db.session.commit()
    click.echo(f"Programme {program.name!r}: supervisors {'must' if supervisors else 'need not'} use a second factor.")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Load synthetic demo data into an empty database (refused in production)."""
    from backend.demo.seed import DEMO_PASSWORD, seed_demo

    if current_app.config["BRIDGELINE_ENV"] == "production":
        raise click.ClickException("seed-demo refuses to run when BRIDGELINE_ENV=production.")
    if db.session.scalar(sa.select(sa.func.count()).select_from(Program)):
        click.echo("The database already has data; demo data not loaded.")
        return
    summary = seed_demo()
    db.session.commit()
    click.echo(f"Demo data loaded: {summary}.")
    click.echo(f"Logins (password {DEMO_PASSWORD!r}): admin@demo.test, supervisor@demo.test, "
               "coach1@demo.test ... coach6@demo.test")


@click.command("worker")
@click.option("--once", is_flag=True, help="Run every job once and exit.")
@with_appcontext
def worker_command(once):
    """Run the scheduled jobs (production: as its own process, one or more)."""
    from backend.jobs.runner import build_scheduler, run_all_once

    app = current_app._get_current_object()
    if once:
        for name, result in run_all_once(app).items():
            click.echo(f"{name}: {result}")
        return
    click.echo("Worker running; Ctrl+C to stop.")
    build_scheduler(app, blocking=True).start()


@click.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@with_appcontext
def serve_command(host, port):
    """Development server with the job scheduler in the same process."""
    from werkzeug.serving import run_simple

    from backend.jobs.runner import build_scheduler

    app = current_app._get_current_object()
    scheduler = build_scheduler(app, blocking=False)
    scheduler.start()
    try:
        # app.run() refuses to start under the flask CLI; werkzeug's server is what it would use.
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        scheduler.shutdown(wait=False)
