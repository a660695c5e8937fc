"""Load the official OpenAPI files copied in tests/specs and check requests against them.

A small, strict OpenAPI 3.0 request checker: the path must match a template under the
spec's server, the method must exist, every query parameter must be declared and its
value must validate against the parameter's schema, every header parameter the operation
declares ``required`` must be sent and every declared header sent must validate against
its schema (type, enum, pattern), the API-key headers of the spec's security schemes must
be sent, and the JSON body must validate against the request body schema (``$ref``s
resolved across the B2B model files; ``readOnly`` properties forbidden in requests;
``nullable`` honoured).

Spec files are read from ``tests/specs`` (pinned by ``SHA256SUMS``); a file not copied
there yet must be copied first (see tests/specs/README.md).
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import yaml

SPECS = Path(__file__).resolve().parents[1] / "specs"

#: Names in a spec's ``security`` requirement that are typos of a defined scheme (a
#: deviation of the spec, asserted in test_requests_conform.py).
SECURITY_TYPOS = {"X-Auh-Token": "X-Auth-Token"}

#: Query parameters whose documented values go beyond their schema's enum: V2 ``sort``
#: lists bare field names but its description says to add ``:asc``/``:desc``
#: (``sort=date_created:desc``); the suffix is stripped before the enum check.
SORT_DIRECTION = re.compile(r":(asc|desc)$")


def spec_path(name: str) -> Path:
    """The pinned copy in tests/specs."""
    return SPECS / name


@cache
def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(spec_path(name).read_text())
    return doc


def resolve(doc: dict[str, Any], node: Any, seen: tuple[str, ...] = ()) -> Any:
    """Inline every ``$ref`` (same file) recursively; OpenAPI 3.0 → JSON Schema tweaks."""
    if isinstance(node, list):
        return [resolve(doc, n, seen) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            return {}
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return resolve(doc, target, (*seen, ref))
    out = {k: resolve(doc, v, seen) for k, v in node.items()
           if k not in ("example", "examples", "x-examples", "description")}
    if out.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def forbid_read_only(schema: Any) -> Any:
    """Request bodies must not carry ``readOnly`` properties."""
    if isinstance(schema, list):
        return [forbid_read_only(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: forbid_read_only(v) for k, v in schema.items()}
    props = out.get("properties")
    if isinstance(props, dict):
        for name, sub in list(props.items()):
            if isinstance(sub, dict) and sub.get("readOnly"):
                props[name] = False
    return out


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", r"([^/]+)", template) + "$")


def match_operation(spec: dict[str, Any], base_path: str, method: str,
                    path: str) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """Find (template, operation, parameters) for a request path under ``base_path``."""
    assert path.startswith(base_path), f"{path} is not under {base_path}"
    rel = path[len(base_path):]
    for template, item in spec["paths"].items():
        # Prefer literal matches (e.g. /orders/extra-fields over /orders/{bcOrderId}).
        if "{" not in template and template == rel and method.lower() in item:
            op = item[method.lower()]
            return template, op, _params(spec, item, op)
    for template, item in spec["paths"].items():
        if _template_regex(template).match(rel) and method.lower() in item:
            op = item[method.lower()]
            return template, op, _params(spec, item, op)
    raise AssertionError(f"{method} {rel}: no such operation in the spec")


def _params(spec: dict[str, Any], item: dict[str, Any], op: dict[str, Any]) -> list[Any]:
    params = [resolve(spec, p) for p in item.get("parameters", [])]
    params += [resolve(spec, p) for p in op.get("parameters", [])]
    return params


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "integer" in types:
        assert re.fullmatch(r"-?\d+", value), f"{value!r} is not an integer"
        return int(value)
    if "number" in types:
        return float(value)
    if "boolean" in types:
        assert value in ("true", "false"), f"{value!r} is not a boolean"
        return value == "true"
    return value


def required_security_headers(spec: dict[str, Any], op: dict[str, Any]) -> set[str]:
    """Header names of the API-key schemes every request of ``op`` must carry.

    With several alternatives (a list of requirements) only the headers common to all of
    them are required.
    """
    requirements = op.get("security", spec.get("security", []))
    schemes = spec.get("components", {}).get("securitySchemes", {})
    options: list[set[str]] = []
    for requirement in requirements:
        names: set[str] = set()
        for key in requirement:
            scheme = schemes.get(key) or schemes.get(SECURITY_TYPOS.get(key, key))
            assert scheme is not None, f"security scheme {key!r} is not defined"
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                names.add(scheme["name"])
        options.append(names)
    return set.intersection(*options) if options else set()


def check_headers(spec: dict[str, Any], op: dict[str, Any], params: list[dict[str, Any]],
                  headers: dict[str, str], where: str, *,
                  tolerate_missing: frozenset[str] = frozenset()) -> None:
    """Required header parameters and security headers sent; every declared one valid.

    ``tolerate_missing``: required headers whose absence a caller has asserted separately
    (a known gap tracked by its own test); their value is still checked when sent.
    """
    sent = {k.lower(): v for k, v in headers.items()}
    for name in required_security_headers(spec, op):
        assert sent.get(name.lower()), f"{where}: security header {name} not sent"
    for p in params:
        if p.get("in") != "header":
            continue
        value = sent.get(p["name"].lower())
        if value is None:
            if p["name"] in tolerate_missing:
                continue
            assert not p.get("required"), f"{where}: required header {p['name']} not sent"
            continue
        schema = p.get("schema", {})
        try:
            jsonschema.validate(_coerce(value, schema), schema)
        except jsonschema.ValidationError as err:
            raise AssertionError(f"{where}: header {p['name']}: {err.message}") from err


def check_request(spec_name: str, base_path: str, method: str, url: str,
                  headers: dict[str, str], body: Any, *,
                  query: list[tuple[str, str]] | None = None,
                  tolerate_missing_headers: frozenset[str] = frozenset()) -> str:
    """Assert the request conforms; returns the matched path template."""
    spec = load(spec_name)
    parts = urlsplit(url)
    template, op, params = match_operation(spec, base_path, method, parts.path)
    pairs = query if query is not None else parse_qsl(parts.query, keep_blank_values=True)
    declared = {p["name"]: p for p in params if p.get("in") == "query"}
    for name, value in pairs:
        assert name in declared, f"{method} {template}: query parameter {name!r} not in spec"
        schema = declared[name].get("schema", {})
        if schema.get("type") == "array":
            schema = schema.get("items", {})
            # style form, explode false: one comma-separated value.
            values = value.split(",") if declared[name].get("explode") is False else [value]
        else:
            values = [value]
        for one in values:
            if name == "sort" and spec_name == "v2-orders.yml":
                one = SORT_DIRECTION.sub("", one)
            jsonschema.validate(_coerce(one, schema), schema)
    check_headers(spec, op, params, headers, f"{method} {template}",
                  tolerate_missing=tolerate_missing_headers)
    if body is not None:
        rb = resolve(spec, op.get("requestBody", {}))
        schema = rb.get("content", {}).get("application/json", {}).get("schema")
        assert schema is not None, f"{method} {template}: the spec declares no JSON body"
        jsonschema.validate(body, forbid_read_only(copy.deepcopy(schema)))
    else:
        rb = op.get("requestBody")
        assert not (rb and rb.get("required")), f"{method} {template}: body required"
    return template
