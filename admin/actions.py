"""The panel's unit of work: every panel view owns one transaction; domain errors become flash messages."""

from __future__ import annotations

import functools

from flask import flash, redirect, url_for

from backend.common.errors import DomainError
from backend.common.unit_of_work import transaction


def panel_action(on_error: str = "admin.dashboard"):
    """Wrap a panel view: commit what it did (audit rows of reads included); on a refusal roll back,
    flash the reason and go to `on_error`."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                with transaction():
                    return view(*args, **kwargs)
            except DomainError as exc:
                flash(exc.message, "error")
                return redirect(url_for(on_error))

        return wrapper

    return decorator
