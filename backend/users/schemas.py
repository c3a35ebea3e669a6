"""User schemas."""

from marshmallow import Schema, fields, validate

from backend.common.schemas import ApiSchema, PageQuerySchema, PhoneNumber, UtcDateTime, nullable
from backend.users.models import Role
from backend.users.passwords import MIN_PASSWORD_LENGTH


@nullable("last_login_at")
class UserSchema(ApiSchema):
    id = fields.Integer(dump_only=True)
    program_id = fields.Integer(dump_only=True)
    program_name = fields.String(attribute="program.name", dump_only=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    phone = PhoneNumber(allow_none=True, load_default=None)
    text_name = fields.String(allow_none=True, validate=validate.Length(min=1, max=60),
                              metadata={"description": "How texts name the coach (default: the first name)"})
    role = fields.Enum(Role, by_value=True, required=True)
    active = fields.Boolean(dump_only=True)
    supervisor_id = fields.Integer(allow_none=True, load_default=None)
    last_login_at = UtcDateTime(dump_only=True)
    must_change_password = fields.Boolean(dump_only=True, metadata={
        "description": "After an admin's reset: the app asks for a new password before anything else"})
    created_at = UtcDateTime(dump_only=True)


class UserCreateSchema(UserSchema):
    password = fields.String(required=True, load_only=True,
                             validate=validate.Length(min=MIN_PASSWORD_LENGTH, max=1024))


class UserUpdateSchema(ApiSchema):
    full_name = fields.String(validate=validate.Length(min=1, max=200))
    phone = PhoneNumber(allow_none=True)
    text_name = fields.String(allow_none=True, validate=validate.Length(min=1, max=60))
    role = fields.Enum(Role, by_value=True)
    active = fields.Boolean()
    supervisor_id = fields.Integer(allow_none=True)


class UserListQuerySchema(PageQuerySchema):
    role = fields.Enum(Role, by_value=True)
    active = fields.Boolean()


user_schema = UserSchema()


class PasswordChangeSchema(ApiSchema):
    current_password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class TemporaryPasswordSchema(Schema):
    temporary_password = fields.String(required=True, metadata={
        "description": "Shown once: give it to the person by a safe channel; it only lets them choose a new one"})


class MyProfileSchema(ApiSchema):
    """What staff change about themselves: the name texts use and the phone masked calls ring."""

    text_name = fields.String(allow_none=True, validate=validate.Length(min=1, max=60))
    phone = PhoneNumber(allow_none=True)
