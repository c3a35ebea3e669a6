"""Staff endpoints: the caller's own account and programme staff."""

from flask import request
from flask.views import MethodView
from flask_jwt_extended import current_user

from backend.api.actions import api_action
from backend.auth import mfa, tokens
from backend.auth.schemas import TokenPairSchema
from backend.common.pagination import filters, paginate
from backend.common.schemas import ApiBlueprint
from backend.users import service
from backend.users.schemas import (
    MyProfileSchema,
    PasswordChangeSchema,
    TemporaryPasswordSchema,
    UserCreateSchema,
    UserListQuerySchema,
    UserSchema,
    UserUpdateSchema,
)

blp = ApiBlueprint("users", __name__, url_prefix="/api/v1", description="Staff accounts")


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, UserSchema)
    def get(self):
        """The logged-in user."""
        return current_user

    @api_action("update", "profile")
    @blp.arguments(MyProfileSchema)
    @blp.response(200, UserSchema)
    def patch(self, changes):
        """Change how texts name you (`text_name`, e.g. "Robin") and the phone masked calls ring (`phone`)."""
        return service.update_my_profile(current_user, changes)


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(UserListQuerySchema, location="query")
    @blp.response(200, UserSchema(many=True))
    def get(self, query):
        """Staff of your programme (supervisors and admins)."""
        items, headers = paginate(service.list_users(current_user, **filters(query)), query)
        return items, 200, headers

    @api_action("create", "user")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data):
        """Add a staff member (admins)."""
        return service.admin_create_user(current_user, data)


@blp.route("/users/<int:user_id>")
class UserItem(MethodView):
    @api_action("update", "user")
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, changes, user_id):
        """Edit a staff member; `active: false` revokes their tokens at once (admins)."""
        return service.update_user(current_user, user_id, changes)


@blp.route("/me/password")
class MyPassword(MethodView):
    @api_action("change_password", "user")
    @blp.arguments(PasswordChangeSchema)
    @blp.response(200, TokenPairSchema)
    def put(self, data):
        """Choose a new password (12+ characters, not a leaked or common one). Every session of yours ends; the
        answer carries this device's new tokens. After an admin's reset this is all the account may do."""
        service.change_password(current_user, data["current_password"], data["new_password"])
        return {**tokens.issue_tokens(current_user, request.user_agent.string), "user": current_user}


@blp.route("/users/<int:user_id>/password-reset")
class PasswordReset(MethodView):
    @api_action("reset_password", "user")
    @blp.response(201, TemporaryPasswordSchema)
    def post(self, user_id):
        """Give a staff member a temporary password, shown once (admins). Their sessions end, and it lets them do
        nothing but choose a new password."""
        return {"temporary_password": service.reset_password(current_user, user_id)}, 201


@blp.route("/users/<int:user_id>/mfa-reset")
class SecondFactorReset(MethodView):
    @api_action("reset", "mfa")
    @blp.response(204)
    def post(self, user_id):
        """Remove a staff member's panel second factor (a lost phone); they set up a new one at their next
        sign-in (admins)."""
        mfa.reset(current_user, user_id)
