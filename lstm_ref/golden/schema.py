"""The golden files' JSON Schema, and a validator for the part of JSON Schema it uses.

The schema ships in the package (`schema/golden-v1.schema.json`). The validator here
covers exactly the keywords that schema uses (type, const, enum, pattern, minimum,
minItems, properties, required, additionalProperties, items, $ref to $defs), so the
core package needs no `jsonschema`; the tests check it agrees with `jsonschema`.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from lstm_ref.golden.format import SCHEMA_NAME, GoldenFormatError

KEYWORDS = {
    "$schema",
    "$id",
    "title",
    "description",
    "$defs",
    "type",
    "const",
    "enum",
    "pattern",
    "minimum",
    "minItems",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "$ref",
}
TYPES: dict[str, type] = {"object": dict, "array": list, "string": str, "null": type(None)}


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The shipped schema of format version 1."""
    text = (resources.files("lstm_ref.golden") / "schema" / SCHEMA_NAME).read_text("utf-8")
    return json.loads(text)


def errors(document: Any, limit: int = 10) -> list[str]:
    """Where `document` violates the schema, as "path: problem" lines (at most `limit`)."""
    found: list[str] = []
    root = schema()
    _check(document, root, root, "$", found, limit)
    return found


def validate(document: Any, where: str) -> None:
    """Raise GoldenFormatError listing the first violations, if there are any."""
    found = errors(document)
    if found:
        raise GoldenFormatError(f"{where}: does not follow {SCHEMA_NAME}:\n  " + "\n  ".join(found))


def _type_ok(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    return isinstance(value, TYPES[name])


def _check(
    value: Any, rule: dict[str, Any], root: dict[str, Any], path: str, found: list[str], limit: int
) -> None:
    if len(found) >= limit:
        return
    unknown = set(rule) - KEYWORDS
    if unknown:  # a schema keyword this validator does not implement must not pass silently
        raise NotImplementedError(f"schema keyword(s) {sorted(unknown)} at {path}")
    if "$ref" in rule:
        target: Any = root
        for part in rule["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        _check(value, target, root, path, found, limit)
    if "type" in rule:
        names = rule["type"] if isinstance(rule["type"], list) else [rule["type"]]
        if not any(_type_ok(value, n) for n in names):
            found.append(f"{path}: expected {' or '.join(names)}; got {type(value).__name__}")
            return
    if "const" in rule and value != rule["const"]:
        found.append(f"{path}: expected {rule['const']!r}; got {value!r}")
    if "enum" in rule and value not in rule["enum"]:
        found.append(f"{path}: expected one of {rule['enum']}; got {value!r}")
    if "pattern" in rule and isinstance(value, str) and not re.search(rule["pattern"], value):
        found.append(f"{path}: {value!r} does not match {rule['pattern']}")
    if "minimum" in rule and _type_ok(value, "number") and value < rule["minimum"]:
        found.append(f"{path}: expected >= {rule['minimum']}; got {value!r}")
    if isinstance(value, list):
        if "minItems" in rule and len(value) < rule["minItems"]:
            found.append(f"{path}: expected at least {rule['minItems']} items; got {len(value)}")
        if "items" in rule:
            for index, item in enumerate(value):
                _check(item, rule["items"], root, f"{path}[{index}]", found, limit)
    if isinstance(value, dict):
        for key in rule.get("required", []):
            if key not in value:
                found.append(f"{path}: missing required key {key!r}")
        properties = rule.get("properties", {})
        extra = rule.get("additionalProperties", True)
        for key, item in value.items():
            where = f"{path}.{key}"
            if key in properties:
                _check(item, properties[key], root, where, found, limit)
            elif extra is False:
                found.append(f"{path}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                _check(item, extra, root, where, found, limit)
