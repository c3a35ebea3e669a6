"""Auth request and response schemas."""

from marshmallow import fields, validate

from backend.common.schemas import ApiSchema
from backend.users.schemas import UserSchema


class LoginSchema(ApiSchema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=254),
                          metadata={"example": "coach1@demo.test"})
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024),
                             metadata={"example": "bridgeline-demo"})


class TokenPairSchema(ApiSchema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    user = fields.Nested(UserSchema, required=True)


class RefreshedTokensSchema(ApiSchema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True, metadata={"description": "Keep it: the one sent stops working"})


login_schema = LoginSchema()
