"""Base schema, parser and fields shared by every capability."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC

import phonenumbers
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, ValidationError, fields, validate
from webargs.flaskparser import FlaskParser


class StrictParser(FlaskParser):
    """Unknown body and query fields are refused; unrelated headers are ignored."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        "json": RAISE,
        "form": RAISE,
        "json_or_form": RAISE,
        "query": RAISE,
        "querystring": RAISE,
        "headers": EXCLUDE,
        "cookies": EXCLUDE,
        "files": RAISE,
    }


class ApiBlueprint(Blueprint):
    """flask-smorest Blueprint using the strict parser."""

    ARGUMENTS_PARSER = StrictParser()


def nullable(*names: str):
    """Class decorator: these fields may be null on the wire, and the OpenAPI document says so."""

    def apply(cls):
        for name in names:
            cls._declared_fields[name].allow_none = True
        return cls

    return apply


class ApiSchema(Schema):
    class Meta:
        unknown = RAISE


def UtcDateTime(**kwargs) -> fields.AwareDateTime:  # noqa: N802 - reads like a field class
    """An ISO 8601 datetime; a value without an offset is taken as UTC."""
    return fields.AwareDateTime(default_timezone=UTC, format="iso", **kwargs)


def normalise_phone(value: str, region: str) -> str:
    """Parse a phone number in any common format and return it as E.164."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("Not a valid phone number.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("Not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class PhoneNumber(fields.String):
    """Any common phone format in; E.164 out."""

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        if len(raw) > 40:
            raise ValidationError("Not a valid phone number.")
        return normalise_phone(raw, current_app.config["PHONE_DEFAULT_REGION"])


@functools.cache
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class TimeZoneName(fields.String):
    """An IANA time zone name such as America/Chicago."""

    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        if name not in known_timezones():
            raise ValidationError("Not a known IANA time zone.")
        return name


class PageQuerySchema(ApiSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))


class ErrorSchema(Schema):
    """Every refusal's body: a machine code, a message for people, the fields at fault; some add context keys
    (e.g. `current_etag` on a 412, `load` and `cap` on a full caseload)."""

    class Meta:
        unknown = INCLUDE

    error = fields.String(required=True, metadata={"description": "Machine code, e.g. caseload_cap_reached"})
    message = fields.String(required=True, metadata={"description": "What happened, for people"})
    errors = fields.Dict(keys=fields.String(), values=fields.Raw(),
                         metadata={"description": "Field name -> what is wrong with it"})
