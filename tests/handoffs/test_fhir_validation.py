"""The checks every exported Bundle must pass, and proof that each one catches what it is there for.

`assert_valid_r4` validates a Bundle three ways:
- fhir.resources' R4B models (structure and types);
- the official FHIR R4 JSON Schema (shared/standards/fhir-r4, CC0), which also enforces required value sets that
  are expressed as enums;
- the R4 FHIRPath invariants fhirpathpy can evaluate (the Bundle's bdl-*, Consent's ppc-*, Task's inv-1, ...), and
  R4 Bundle reference resolution: every Reference.reference is the fullUrl of an entry of the same Bundle.
"""

from __future__ import annotations

import copy
import functools
import gzip
import hashlib
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhirpathpy import compile as fhirpath
from fhirpathpy.models import models

R4 = models["r4"]
SCHEMA_PATH = Path(os.environ.get("FHIR_R4_SCHEMA")
                   or Path(__file__).resolve().parent / "standards" / "fhir.schema.json.gz")
# Of the uncompressed JSON, as shared/standards/README.md gives it: the official schema, not an edited copy.
SCHEMA_SHA256 = "3be3e1421c2bef2681b9b7004d683cf05d76567680604b5b5133dbb92e3bf1e3"
XHTML = "{http://www.w3.org/1999/xhtml}"

# R4 (4.0.1) invariants, as the specification writes them, by where they apply. fhirpathpy lacks hasValue() (per-1
# uses exists(), the same for these primitives without extensions) and htmlChecks() (txt-1/txt-2: see
# narrative_errors). dom-3 and ref-1 are about contained resources, which these bundles never have; dom-6
# (narrative) is a best-practice warning, not a rule.
BUNDLE_INVARIANTS = {
    "bdl-1": "total.empty() or (type = 'searchset') or (type = 'history')",
    "bdl-2": "entry.search.empty() or (type = 'searchset')",
    "bdl-3": "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' "
             "or %resource.type = 'history'))",
    "bdl-4": "entry.all(response.exists() = (%resource.type = 'batch-response' "
             "or %resource.type = 'transaction-response' or %resource.type = 'history'))",
    "bdl-5": "entry.all(resource.exists() or request.exists() or response.exists())",
    "bdl-7": "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId)"
             ".isDistinct()",
    "bdl-8": "entry.all(fullUrl.contains('/_history/').not())",
    "bdl-9": "type = 'document' implies (identifier.system.exists() and identifier.value.exists())",
    "bdl-10": "type = 'document' implies (timestamp.exists())",
    "bdl-11": "type = 'document' implies entry.first().resource.is(Composition)",
    "bdl-12": "type = 'message' implies entry.first().resource.is(MessageHeader)",
    # R4 Bundle reference resolution (bundle.html#references), for the urn:uuid: fullUrls this export uses.
    "references-resolve": "entry.resource.descendants().ofType(Reference)"
                          ".all(reference.exists() and (%resource.entry.fullUrl contains reference))",
}
RESOURCE_INVARIANTS = {
    "*": {
        "dom-2": "contained.contained.empty()",
        "dom-4": "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
        "dom-5": "contained.meta.security.empty()",
        "per-1": "descendants().ofType(Period).all(start.exists().not() or end.exists().not() or (start <= end))",
        "cpt-2": "descendants().ofType(ContactPoint).all(value.empty() or system.exists())",
        "att-1": "descendants().ofType(Attachment).all(data.empty() or contentType.exists())",
    },
    "Consent": {
        "ppc-1": "policy.exists() or policyRule.exists()",
        "ppc-2": "patient.exists() or scope.coding.where(system='something' and code='patient-privacy')"
                 ".exists().not()",
        "ppc-3": "patient.exists() or scope.coding.where(system='something' and code='research').exists().not()",
        "ppc-4": "patient.exists() or scope.coding.where(system='something' and code='adr').exists().not()",
        "ppc-5": "patient.exists() or scope.coding.where(system='something' and code='treatment').exists().not()",
    },
    "Task": {"inv-1": "lastModified.exists().not() or authoredOn.exists().not() or lastModified >= authoredOn"},
    "ServiceRequest": {"prr-1": "orderDetail.empty() or code.exists()"},
    "Organization": {"org-1": "(identifier.count() + name.count()) > 0"},
    "Patient": {"pat-1": "contact.all(name.exists() or telecom.exists() or address.exists() "
                         "or organization.exists())"},
}
# What each profile an export may claim requires (min cardinality > 0), as FHIRPath on the resource. A claim of a
# profile not listed here fails: add it only with every element it requires.
PROFILE_REQUIREMENTS = {
    # US Core Organization (3.1.1 to 8.0.0): active 1..1 and name 1..1; identifier, telecom and address are
    # must-support, and its identifier slices (NPI, CLIA, NAIC) only constrain identifiers that are sent.
    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization": {
        "active": "active.exists()", "name": "name.exists()",
        "us-core-16": "identifier.where(system = 'http://hl7.org/fhir/sid/us-npi')"
                      ".all(value.matches('^[0-9]{10}$'))",
    },
}


@functools.cache
def _compiled(expression: str):
    return fhirpath(expression, R4)


def fhirpath_true(resource: dict, expression: str, root: dict | None = None) -> bool:
    """Whether an expression is true on a resource (%resource: its root)."""
    return _compiled(expression)(resource, {"resource": root or resource}) == [True]


@functools.cache
def r4_schema_validator() -> jsonschema.protocols.Validator:
    if not SCHEMA_PATH.is_file():
        pytest.fail(f"The FHIR R4 JSON Schema is not at {SCHEMA_PATH} (tests/handoffs/standards; "
                    "FHIR_R4_SCHEMA overrides)")
    raw = gzip.decompress(SCHEMA_PATH.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, f"{SCHEMA_PATH} is not the official R4 schema"
    schema = json.loads(raw)
    return jsonschema.validators.validator_for(schema)(schema)


def schema_errors(bundle: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
            for e in r4_schema_validator().iter_errors(bundle)]


def references(value) -> list[str]:
    """Every Reference.reference in a JSON value (the Python twin of the FHIRPath check)."""
    if isinstance(value, list):
        return [r for item in value for r in references(item)]
    if not isinstance(value, dict):
        return []
    found = []
    for key, item in value.items():  # Consent.provision.actor.reference is itself a Reference: walked into
        found += [item] if key == "reference" and isinstance(item, str) else references(item)
    return found


def unresolved_references(bundle: dict) -> list[str]:
    full_urls = {entry.get("fullUrl") for entry in bundle.get("entry", [])}
    return [ref for entry in bundle.get("entry", []) for ref in references(entry.get("resource"))
            if ref not in full_urls]


def narrative_errors(resource: dict) -> list[str]:
    """txt-1/txt-2, as far as a test needs: a well-formed XHTML div, no script or attributes, some text."""
    if "text" not in resource:
        return []
    try:
        div = ET.fromstring(resource["text"]["div"])
    except ET.ParseError as exc:
        return [f"narrative is not well-formed XHTML: {exc}"]
    errors = [] if div.tag == f"{XHTML}div" else ["narrative root is not an XHTML div"]
    allowed = {f"{XHTML}{tag}" for tag in ("div", "p", "b", "i", "span", "br", "ul", "li", "table", "tr", "td")}
    errors += [f"narrative element {e.tag} is not allowed" for e in div.iter() if e.tag not in allowed]
    errors += ["narrative attributes are not allowed" for e in div.iter() if e.attrib]
    return errors + ([] if "".join(div.itertext()).strip() else ["narrative has no text"])


def invariant_failures(bundle: dict) -> list[str]:
    failures = [key for key, expression in BUNDLE_INVARIANTS.items() if not fhirpath_true(bundle, expression)]
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        kind = resource.get("resourceType")
        rules = {**RESOURCE_INVARIANTS["*"], **RESOURCE_INVARIANTS.get(kind, {})}
        failures += [f"{kind}/{resource.get('id')} {key}" for key, expression in rules.items()
                     if not fhirpath_true(resource, expression)]
    return failures


def profile_failures(bundle: dict) -> list[str]:
    failures = []
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        for profile in resource.get("meta", {}).get("profile", []):
            required = PROFILE_REQUIREMENTS.get(profile)
            if required is None:
                failures.append(f"{resource.get('resourceType')} claims {profile}, which no test vouches for")
                continue
            failures += [f"{resource['resourceType']}/{resource.get('id')} claims {profile} without {key}"
                         for key, expression in required.items() if not fhirpath_true(resource, expression)]
    return failures


def assert_valid_r4(bundle: dict) -> None:
    """Every check at once, every failure named."""
    Bundle.model_validate(bundle)
    # The FHIRPath reference check sees every reference the JSON walk does (so it is not vacuously true).
    assert _compiled("entry.resource.descendants().ofType(Reference).count()")(bundle) == [len(references(bundle))]
    problems = (schema_errors(bundle) + invariant_failures(bundle) + profile_failures(bundle)
                + [f"unresolved reference {r}" for r in unresolved_references(bundle)]
                + [e for entry in bundle["entry"] for e in narrative_errors(entry["resource"])])
    assert not problems, problems


# --- the checks themselves: each catches the defect it is there for ------------------------------------------

def minimal_bundle() -> dict:
    consent = {"resourceType": "Consent", "id": "1", "status": "active",
               "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                     "code": "patient-privacy"}]},
               "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
               "patient": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000002"},
               "policy": [{"uri": "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2"}]}
    patient = {"resourceType": "Patient", "id": "2", "name": [{"family": "Doe"}]}
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001", "resource": consent},
                      {"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000002", "resource": patient}]}


def test_a_minimal_valid_bundle_passes_every_check():
    assert_valid_r4(minimal_bundle())


def test_a_relative_or_dangling_reference_does_not_resolve():
    bundle = minimal_bundle()
    bundle["entry"][0]["resource"]["patient"] = {"reference": "Patient/2"}  # the entry's fullUrl is a urn:uuid
    assert unresolved_references(bundle) == ["Patient/2"]
    assert "references-resolve" in invariant_failures(bundle)


def test_a_consent_without_policy_or_policy_rule_breaks_ppc_1():
    bundle = minimal_bundle()
    del bundle["entry"][0]["resource"]["policy"]
    assert invariant_failures(bundle) == ["Consent/1 ppc-1"]


def test_a_repeated_full_url_breaks_bdl_7():
    bundle = minimal_bundle()
    bundle["entry"].append(copy.deepcopy(bundle["entry"][1]))
    assert "bdl-7" in invariant_failures(bundle)


def test_dates_are_compared_as_dates():
    task = {"resourceType": "Task", "id": "t", "status": "requested", "intent": "order",
            "authoredOn": "2031-01-02T10:00:00+00:00", "lastModified": "2031-01-02T09:00:00+00:00",
            "restriction": {"period": {"start": "2031-01-03", "end": "2031-01-02"}}}
    assert not fhirpath_true(task, RESOURCE_INVARIANTS["Task"]["inv-1"])
    assert not fhirpath_true(task, RESOURCE_INVARIANTS["*"]["per-1"])


def test_the_schema_rejects_a_code_outside_a_required_value_set():
    bundle = minimal_bundle()
    bundle["entry"][0]["resource"]["status"] = "revoked"  # not a Consent status
    assert any("status" in error for error in schema_errors(bundle))


def test_a_profile_claim_needs_what_the_profile_requires():
    bundle = minimal_bundle()
    bundle["entry"].append({"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000003", "resource": {
        "resourceType": "Organization", "id": "3", "name": "Northside",
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization"]}}})
    assert profile_failures(bundle) == [
        "Organization/3 claims http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization without active"]
    bundle["entry"][1]["resource"]["meta"] = {
        "profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]}
    assert any("which no test vouches for" in failure for failure in profile_failures(bundle))


def test_a_narrative_must_be_plain_xhtml():
    resource = {"text": {"status": "additional", "div": '<div xmlns="http://www.w3.org/1999/xhtml">'
                                                          '<script>alert(1)</script></div>'}}
    assert narrative_errors(resource)
