"""Consent schemas: every §2.31 element is required."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from backend.common.schemas import ApiSchema, PageQuerySchema, UtcDateTime, nullable
from backend.consent.models import SignatureMethod

REDISCLOSURE_NOTICE = (
    "This record which has been disclosed to you is protected by federal confidentiality rules (42 CFR part 2). "
    "The federal rules prohibit you from making any further disclosure of this record unless further disclosure is "
    "expressly permitted by the written consent of the individual whose information is being disclosed in this "
    "record or, is otherwise permitted by 42 CFR part 2. A general authorization for the release of medical or "
    "other information is NOT sufficient for this purpose (see §2.31). The federal rules restrict any use of the "
    "information to investigate or prosecute with regard to a crime any patient with a substance use disorder, "
    "except as provided at §§2.12(c)(5) and 2.65."
)


def _program_name(program_id: int) -> str:
    from backend.database import db
    from backend.programs.models import Program

    return db.session.get(Program, program_id).name


@nullable("revoked_at")
class ConsentSchema(ApiSchema):
    id = fields.Integer(dump_only=True)
    patient_id = fields.Integer(dump_only=True)
    recipient_organization_id = fields.String(allow_none=True)
    recipient_description = fields.String(allow_none=True, validate=validate.Length(min=3, max=500))
    purpose = fields.String(required=True, validate=validate.Length(min=3, max=500))
    information = fields.String(required=True, validate=validate.Length(min=3, max=1000))
    expires_at = UtcDateTime(allow_none=True)
    expires_on_event = fields.String(allow_none=True, validate=validate.Length(min=3, max=300))
    signature_method = fields.Enum(SignatureMethod, by_value=True, required=True)
    signed_at = UtcDateTime(required=True)
    witness_name = fields.String(allow_none=True, validate=validate.Length(min=2, max=200))
    revocation_explained = fields.Boolean(required=True)
    revoked_at = UtcDateTime(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    active = fields.Method("_active", dump_only=True)
    disclosing_program = fields.Function(lambda consent: _program_name(consent.program_id), dump_only=True)

    def _active(self, consent):
        from backend.database import utcnow

        return consent.is_active(utcnow())

    @validates_schema(skip_on_field_errors=False)
    def complete(self, data, **kwargs):
        """Name every missing §2.31 element at once, alongside the field errors."""
        errors = {}
        if not data.get("recipient_organization_id") and not data.get("recipient_description"):
            errors["recipient_organization_id"] = ["Name a partner organisation or describe the recipients."]
        if not data.get("expires_at") and not data.get("expires_on_event"):
            errors["expires_at"] = ["Give an expiry date or the event on which the consent expires."]
        if "revocation_explained" in data and data["revocation_explained"] is not True:
            errors["revocation_explained"] = ["The patient must have been told of their right to revoke."]
        if data.get("signature_method") == SignatureMethod.VERBAL_WITNESSED and not data.get("witness_name"):
            errors["witness_name"] = ["A verbal consent needs the witness's name."]
        if errors:
            raise ValidationError(errors)


class DisclosureSchema(Schema):
    id = fields.Integer()
    consent_id = fields.Integer()
    recipient_organization_id = fields.String(allow_none=True)
    recipient_description = fields.String(allow_none=True)
    information = fields.String()
    purpose = fields.String()
    channel = fields.String()
    disclosed_by_id = fields.Integer(allow_none=True)
    disclosed_at = UtcDateTime()


class DisclosureQuerySchema(PageQuerySchema):
    pass
