"""A client's JSON Schema, checked as the request is read: bounded before anything runs it (depth, local `$ref`s,
`pattern`s that compile and cannot backtrack catastrophically), and (strict) OpenAI's rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 32  # nesting of a schema (OpenAI allows 10 levels of objects in strict mode)
MAX_PATTERN = 1000  # characters of one `pattern`

# Strict mode (https://platform.openai.com/docs/guides/structured-outputs#supported-schemas), then annotations (no
# effect on what validates).
_STRICT_KEYWORDS = frozenset(
    "type properties required additionalProperties items enum const anyOf $ref $defs definitions pattern format "
    "multipleOf maximum exclusiveMaximum minimum exclusiveMinimum minItems maxItems minLength maxLength "
    "title description default examples $schema $id $comment nullable".split()
)
_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


class SchemaError(ValueError):
    def __init__(self, message: str, *path: str) -> None:
        super().__init__(message)
        self.path = ".".join(path) or "(root)"


def _children(schema: dict[str, Any], path: tuple[str, ...]) -> Iterator[tuple[Any, tuple[str, ...]]]:
    for key in ("properties", "$defs", "definitions"):
        value = schema.get(key)
        if isinstance(value, dict):
            for name, sub in value.items():
                yield sub, (*path, key, name)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            yield schema[key], (*path, key)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        value = schema.get(key)
        if isinstance(value, list):
            for i, sub in enumerate(value):
                yield sub, (*path, key, str(i))


def check_schema(schema: Any, strict: bool, path: tuple[str, ...] = (), depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise SchemaError(f"the schema is nested more than {MAX_DEPTH} levels deep", *path)
    if isinstance(schema, bool) and not strict:
        return
    if not isinstance(schema, dict):
        raise SchemaError("a schema must be an object", *path)
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for k in kinds:
        if k not in _TYPES:
            raise SchemaError(f"'{k}' is not a JSON Schema type", *path, "type")
    if schema.get("pattern") is not None:
        _check_pattern(schema["pattern"], (*path, "pattern"))
    ref = schema.get("$ref")
    if ref is not None and not (isinstance(ref, str) and (ref == "#" or ref.startswith("#/"))):
        raise SchemaError("only local references ('#' or '#/...') are supported", *path, "$ref")
    if strict:
        _check_strict(schema, kinds, path, depth)
    for sub, where in _children(schema, path):
        check_schema(sub, strict, where, depth + 1)


def _check_pattern(pattern: Any, path: tuple[str, ...]) -> None:
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        raise SchemaError(f"a pattern must be a string of at most {MAX_PATTERN} characters", *path)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise SchemaError(f"the pattern is not a valid regular expression ({exc})", *path) from None
    if nested_repeat(pattern):
        raise SchemaError(
            "the pattern repeats a group that itself repeats, which can take exponential time to match", *path
        )


def nested_repeat(pattern: str) -> bool:
    """A group that repeats and holds a repeat, e.g. (a+)+ or (\\w+\\s?)*, found in one pass (a regex would itself
    backtrack)."""
    inner: list[bool] = []  # per open group: does it contain a repeat?
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 1  # and the escaped character
        elif ch == "[":  # a class: its * and + are literal
            i = _class_end(pattern, i) - 1
        elif ch == "(":
            inner.append(False)
        elif ch == ")" and inner:
            repeats_inside = inner.pop()
            if repeats_inside and _repeat_at(pattern, i + 1):
                return True
            if inner and (repeats_inside or _repeat_at(pattern, i + 1)):
                inner[-1] = True
        elif _repeat_at(pattern, i) and inner:
            inner[-1] = True
        i += 1
    return False


def _repeat_at(pattern: str, i: int) -> bool:
    if not pattern.startswith("{", i):
        return pattern.startswith(("*", "+"), i)
    close = pattern.find("}", i, i + 24)
    body = pattern[i + 1 : close] if close > 0 else ""
    low, comma, high = body.partition(",")
    return bool(comma) and low.strip().isdigit() and (not high.strip() or int(high or 0) > 1)


def _class_end(pattern: str, i: int) -> int:
    j = i + 1
    j += pattern.startswith("^", j)
    j += pattern.startswith("]", j)  # first in the class, ']' is a literal
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def _check_strict(schema: dict[str, Any], kinds: list[Any], path: tuple[str, ...], depth: int) -> None:
    unknown = sorted(set(schema) - _STRICT_KEYWORDS)
    if unknown:
        raise SchemaError(f"'{unknown[0]}' is not permitted in strict mode", *path, unknown[0])
    if depth == 0 and "object" not in kinds and "$ref" not in schema:
        raise SchemaError("the root of a strict schema must be of type 'object'")
    if "object" in kinds or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            raise SchemaError(
                "'additionalProperties' is required to be supplied and to be false", *path, "additionalProperties"
            )
        required = schema.get("required") or []
        missing = [n for n in schema.get("properties") or {} if n not in required]
        if missing:
            rule = "'required' is required to be supplied and to be an array including every key in properties."
            raise SchemaError(f"{rule} Missing '{missing[0]}'", *path, "required")
