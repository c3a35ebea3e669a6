"""Flask CLI commands: create-user, seed-demo."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from backend.database import db
from backend.errors import ApiError
from backend.programs.models import Program
from backend.users.models import Role


def register(app: Flask) -> None:
    """Attach the commands to the app's CLI."""
    app.cli.add_command(create_user_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(serve_command)


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
    except ApiError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo(f"Created {user.role} {user.email} (id {user.id}) in programme {program.name!r}.")


def _program_for(name: str | None) -> Program:
    programs = list(db.session.scalars(sa.select(Program).order_by(Program.id)))
    if name:
        match = next((p for p in programs if p.name == name), None)
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
