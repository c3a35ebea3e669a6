"""The supervision panel: a Blueprint package on top of backend's services."""

from admin.views import blueprint

__all__ = ["blueprint"]
