"""The supervision panel: a Blueprint package on top of backend's services, one module per area."""

import importlib

from admin.core import blueprint

# Each area registers its pages on the blueprint when imported; the navigation (navigation.py) lists them once.
AREAS = ("auth", "second_factor", "navigation", "today", "team", "coaches", "queues", "patients", "warm_line",
         "partners", "catalogue_edit", "users", "policies", "audit", "inbox", "texts", "partner_keys")

for _area in AREAS:
    try:
        importlib.import_module(f"admin.{_area}")
    except ModuleNotFoundError as exc:  # an area not built yet; any other missing import is an error
        if exc.name != f"admin.{_area}":
            raise

__all__ = ["blueprint"]
