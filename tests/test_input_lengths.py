"""Every text the API takes fits the column it is stored in: a walk over the schemas against the models.

A field is bounded by a Length no longer than its column, by a short list of choices, or by its type
(phone numbers are normalised to E.164, time zones are IANA names); ids are looked up, never stored raw.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import sqlalchemy as sa
from marshmallow import fields, validate

import backend
from backend.common.schemas import ApiSchema, PhoneNumber, TimeZoneName
from backend.database import db

SELF_BOUNDED = (PhoneNumber, TimeZoneName)


def input_schemas():
    for info in pkgutil.walk_packages(backend.__path__, "backend."):
        if info.name.endswith("schemas"):
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, ApiSchema) and cls.__module__ == info.name:
                    yield cls


def model_for(schema_cls) -> type | None:
    models = {m.class_.__name__: m.class_ for m in db.Model.registry.mappers}
    name = schema_cls.__name__.removesuffix("Schema")
    for suffix in ("Update", "Create", "In"):
        name = name.removesuffix(suffix)
    return models.get(name)


def bound_of(field) -> int | None:
    if isinstance(field, SELF_BOUNDED):
        return 0
    lengths = [v.max if v.max is not None else v.equal for v in field.validators if isinstance(v, validate.Length)]
    choices = [max(map(len, v.choices)) for v in field.validators if isinstance(v, validate.OneOf)]
    found = [n for n in lengths + choices if n is not None]
    return min(found) if found else None


def test_every_text_input_fits_its_column(app):
    checked, too_long = 0, []
    with app.app_context():
        for schema_cls in input_schemas():
            model = model_for(schema_cls)
            if model is None:
                continue
            for name, field in schema_cls().fields.items():
                column = model.__table__.columns.get(field.data_key or name)
                if (field.dump_only or not isinstance(field, fields.String) or name.endswith("_id")
                        or column is None or not isinstance(column.type, sa.String) or not column.type.length):
                    continue
                checked += 1
                bound = bound_of(field)
                if bound is None or bound > column.type.length:
                    too_long.append(f"{schema_cls.__name__}.{name}: takes {bound}, column holds {column.type.length}")
    assert checked > 20 and too_long == []


def test_no_text_input_is_unbounded(app):
    unbounded = [f"{cls.__name__}.{name}" for cls in input_schemas() for name, field in cls().fields.items()
                 if isinstance(field, fields.String) and not field.dump_only and bound_of(field) is None]
    assert unbounded == []


def test_a_hundred_thousand_characters_are_refused(supervisor_api):
    response = supervisor_api.post("/api/v1/partners", json={"name": "Northside", "description": "x" * 100_000})
    assert response.status_code == 422 and "description" in response.json["errors"]

