"""Every answer the test suite gets from the API is checked against the OpenAPI document.

The phone app's client is generated from the document, so the document must say
exactly what the wire carries: the status is declared for the operation (not only
by `default`), the JSON body validates against the declared schema (nullable
fields included), and every contract header on the wire (ETag, X-Pagination,
Idempotent-Replayed, Retry-After) is declared for that answer.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field

import jsonschema

CONTRACT_HEADERS = ("ETag", "X-Pagination", "Idempotent-Replayed", "Retry-After")
METHODS = ("get", "post", "put", "patch", "delete")


def _to_json_schema(node):
    """OpenAPI 3.0 schema -> JSON Schema: `nullable` becomes a null alternative, refs point at definitions."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _to_json_schema(value) for key, value in node.items()
                 if key not in ("nullable", "readOnly", "writeOnly", "example", "discriminator")}
    if "$ref" in converted:
        converted["$ref"] = converted["$ref"].replace("#/components/schemas/", "#/definitions/")
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@dataclass
class Contract:
    spec: dict
    seen: set = field(default_factory=set)

    def __post_init__(self):
        self.definitions = _to_json_schema(copy.deepcopy(self.spec["components"]["schemas"]))
        templates = sorted(self.spec["paths"], key=lambda t: (t.count("{"), -len(t)))
        self.routes = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", t) + "$"), t) for t in templates]

    @property
    def operations(self) -> set[tuple[str, str]]:
        return {(m, t) for t, item in self.spec["paths"].items() for m in item if m in METHODS}

    def _resolve(self, node: dict, kind: str) -> dict:
        while "$ref" in node:
            node = self.spec["components"][kind][node["$ref"].rsplit("/", 1)[1]]
        return node

    def violations(self, method: str, path: str, status: int, headers, body: bytes) -> list[str]:
        """What in this answer the document does not declare (empty when it conforms)."""
        template = next((t for pattern, t in self.routes if pattern.match(path)), None)
        method = method.lower()
        if template is None or method not in self.spec["paths"][template]:
            return []
        self.seen.add((method, template))
        where = f"{method.upper()} {template} -> {status}"
        declared = self.spec["paths"][template][method]["responses"]
        if str(status) not in declared:
            return [f"{where}: status not declared"]
        response = self._resolve(declared[str(status)], "responses")
        problems = []
        allowed = {name.lower() for name in response.get("headers", {})}
        for name in CONTRACT_HEADERS:
            if headers.get(name) is not None and name.lower() not in allowed:
                problems.append(f"{where}: header {name} not declared")
        content = response.get("content", {})
        mimetype = (headers.get("Content-Type") or "").split(";")[0].strip()
        if not body or status in (204, 304):
            return problems
        # OpenAPI media type ranges: the exact type first, then "image/*", then "*/*".
        declared_as = next((t for t in (mimetype, f"{mimetype.split('/')[0]}/*", "*/*") if t in content), None)
        if not mimetype or declared_as is None:
            return [*problems, f"{where}: a {mimetype or 'body'} body where {sorted(content) or 'none'} is declared"]
        schema = content[declared_as].get("schema")
        if mimetype != "application/json" or schema is None:
            return problems
        try:
            document = json.loads(body)
        except ValueError:
            return [*problems, f"{where}: body is not JSON"]
        validator = jsonschema.Draft7Validator({**_to_json_schema(schema), "definitions": self.definitions})
        problems += [f"{where}: {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
                     for e in list(validator.iter_errors(document))[:5]]
        return problems
