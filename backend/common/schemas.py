"""Base schema, parser and fields shared by every capability."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime

import phonenumbers
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate
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


# What the database can hold: 32-bit ids and counts, and dates a person could mean; no text field is unbounded
# (a field stored in a shorter column says so with its own Length, checked against the models by a test).
INT_RANGE = validate.Range(min=-(2**31), max=2**31 - 1)
TEXT_MAX = validate.Length(max=10_000)
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)


def _nul_fields(data, path: str = "") -> list[str]:
    """The fields (dotted paths) of raw input whose text holds a NUL character."""
    if isinstance(data, str):
        return [path or "_schema"] if "\x00" in data else []
    if isinstance(data, dict):
        return [f for key, value in data.items()
                for f in _nul_fields(key, path) + _nul_fields(value, f"{path}.{key}" if path else str(key))]
    if isinstance(data, list | tuple):
        return [f for index, value in enumerate(data) for f in _nul_fields(value, f"{path}.{index}" if path else
                                                                             str(index))]
    return []


class ApiSchema(Schema):
    """Every API input: unknown fields refused, no NUL characters, integers a 32-bit column can hold."""

    class Meta:
        unknown = RAISE

    def on_bind_field(self, field_name, field_obj):
        if isinstance(field_obj, fields.Integer) and not any(isinstance(v, validate.Range)
                                                             for v in field_obj.validators):
            field_obj.validators = [*field_obj.validators, INT_RANGE]
        if isinstance(field_obj, fields.String) and not any(isinstance(v, validate.Length)
                                                            for v in field_obj.validators):
            field_obj.validators = [*field_obj.validators, TEXT_MAX]

    @pre_load(pass_collection=True)
    def _refuse_nul_characters(self, data, **_kwargs):
        # PostgreSQL cannot store NUL in text, and no person types one: refused, naming the field.
        bad = _nul_fields(dict(data.items()) if isinstance(data, Mapping) else data)
        if bad:
            raise ValidationError({name: ["Must not contain NUL characters."] for name in bad})
        return data


class BoundedAwareDateTime(fields.AwareDateTime):
    """An aware datetime between 1900 and 3000, so it converts to UTC and fits the database."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            moment = super()._deserialize(value, attr, data, **kwargs)
            moment.astimezone(UTC)
        except (OverflowError, OSError) as exc:
            raise ValidationError("Not a representable date and time.") from exc
        if not EARLIEST <= moment < LATEST:
            raise ValidationError("Must be between 1900 and 3000.")
        return moment


def UtcDateTime(**kwargs) -> fields.AwareDateTime:  # noqa: N802 - reads like a field class
    """An ISO 8601 datetime; a value without an offset is taken as UTC."""
    return BoundedAwareDateTime(default_timezone=UTC, format="iso", **kwargs)


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
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
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
