"""Entry points own the transaction: no other module under backend/ or admin/ commits or rolls back."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The entry points and the unit-of-work helpers they share.
ENTRY_POINTS = {
    "backend/api/actions.py",  # api_action
    "backend/common/unit_of_work.py",  # transaction(), after_rollback()
    "backend/jobs/runner.py",  # run_job, and the Steps it hands multi-step jobs
    "backend/cli.py",
    "backend/errors.py",  # the last-resort handler rolls back what an unexpected error left
    "backend/handoffs/partner_pages.py",  # the partner's public confirmation page
    "admin/actions.py",  # panel_action
    "admin/auth.py",  # the panel's login
}


def transaction_calls(source: str, name: str) -> list[str]:
    """Every `x.commit()` / `x.rollback()` call in the source, as `name:line call()`.

    `steps.commit()` is the one exception: a multi-step job commits through the
    `Steps` its entry point (the job runner) hands it, so the runner still owns it.
    """
    return [f"{name}:{node.lineno} {node.func.attr}()" for node in ast.walk(ast.parse(source, name))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("commit", "rollback") and not node.args
            and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "steps")]


def test_only_entry_points_commit_or_roll_back():
    paths = [path for folder in ("backend", "admin") for path in sorted((ROOT / folder).rglob("*.py"))]
    assert len(paths) > 100
    offenders = [call for path in paths if str(path.relative_to(ROOT)) not in ENTRY_POINTS
                 for call in transaction_calls(path.read_text(), str(path.relative_to(ROOT)))]
    assert offenders == []


def test_the_check_sees_commits_and_rollbacks_however_they_are_reached():
    source = ("def save(session):\n    db.session.commit()\n    session.rollback()\n    conn.commit()\n"
              "    steps.commit()\n")
    assert transaction_calls(source, "service.py") == [
        "service.py:2 commit()", "service.py:3 rollback()", "service.py:4 commit()"]
