"""The supervision panel: a Blueprint package on top of backend's services."""

from admin import second_factor  # noqa: F401 - registers the second-factor pages on the blueprint
from admin.views import blueprint

__all__ = ["blueprint"]
