"""Auth endpoints: login, refresh, logout."""

import functools

from flask import current_app, request
from flask.views import MethodView
from flask_jwt_extended import current_user, get_jwt, jwt_required

from backend.auth import service
from backend.auth.schemas import LoginSchema, RefreshedTokensSchema, TokenPairSchema
from backend.common.schemas import ApiBlueprint
from backend.common.unit_of_work import after_rollback, transaction
from backend.extensions import limiter

blp = ApiBlueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log in and out")


def login_address_limit():
    return current_app.config["LOGIN_ATTEMPTS_PER_ADDRESS"]


# One budget per address for the app and the admin panel together.
# Only attempts count: opening the panel's login page (GET) spends nothing.
login_address_limiter = limiter.shared_limit(login_address_limit, scope="login-address", methods=["POST"])


@blp.route("/login")
class Login(MethodView):
    decorators = [login_address_limiter]

    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, description="Wrong e-mail or password")
    @blp.alt_response(429, description="Too many attempts")
    def post(self, credentials):
        """Log in with e-mail and password; returns an access and a refresh token."""
        try:
            with transaction():
                return service.login(credentials["email"], credentials["password"], request.user_agent.string,
                                     request.remote_addr)
        except service.InvalidCredentialsError as refused:
            after_rollback(functools.partial(service.record_failed_login, refused))
            raise


@blp.route("/refresh")
class Refresh(MethodView):
    @jwt_required(refresh=True)
    @blp.response(200, RefreshedTokensSchema)
    def post(self):
        """Exchange the refresh token (as the bearer token) for new access and refresh tokens.

        Keep the new refresh token: the one sent stops working. Sending a refresh token that was
        already exchanged ends the session (it was copied), and both tokens must log in again.
        """
        claims = get_jwt()
        try:
            with transaction():
                return service.refresh(current_user, claims["sid"], claims["jti"])
        except service.tokens.RefreshTokenReusedError as reused:
            after_rollback(functools.partial(service.end_reused_session, reused, current_user))
            raise


@blp.route("/logout")
class Logout(MethodView):
    @jwt_required(verify_type=False)
    @blp.response(204)
    def post(self):
        """Revoke this session: the access and the refresh token stop working at once."""
        with transaction():
            service.logout(current_user, get_jwt()["sid"])
