"""Flask extensions, created unbound and bound in the app factory."""

from flask_caching import Cache
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from backend.database import db

migrate = Migrate(compare_type=True, render_as_batch=True)
jwt = JWTManager()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
cache = Cache()

__all__ = ["cache", "csrf", "db", "jwt", "limiter", "login_manager", "migrate"]
