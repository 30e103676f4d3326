"""A deterministic value valid against a JSON Schema: what the scripted LLM answers when its prompt asks for one.

It makes the scripted LLM behave like a model that follows instructions; the
bridge's own validator (not this) decides whether an answer conforms.
"""

from __future__ import annotations

from typing import Any

_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00",
    "email": "cat@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def instance(schema: Any, root: Any = None, depth: int = 0) -> Any:
    root = schema if root is None else root
    if depth > 20 or not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return instance(_resolve(root, schema["$ref"]), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if options:
            usable = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")] or options
            return instance(usable[0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    return _of_type(kind, schema, root, depth)


def _of_type(kind: str, schema: dict, root: Any, depth: int) -> Any:
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: instance(sub, root, depth + 1) for name, sub in props.items()}
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        return [instance(schema.get("items", {}), root, depth + 1) for _ in range(count)]
    if kind == "string":
        text = _FORMATS.get(schema.get("format", ""), "text")
        return text.ljust(int(schema.get("minLength", 0)), "x")
    if kind in ("integer", "number"):
        value = 1 if kind == "integer" else 1.5
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        if isinstance(low, (int, float)) and value <= low:
            value = low + 1
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if isinstance(high, (int, float)) and value >= high:
            value = high - 1 if "exclusiveMaximum" in schema else high
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    return None


def _resolve(root: Any, ref: str) -> Any:
    node = root
    for part in ref[2:].split("/") if ref.startswith("#/") else ():
        node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, dict) else {}
    return node
