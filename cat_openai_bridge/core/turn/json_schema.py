"""JSON Schema for structured outputs: OpenAI's strict-mode rules, and validation of the Cat's answer.

A validator of our own rather than `jsonschema`: Cat v2 ships `jsonschema` but
the v1 image does not, and a plugin's `requirements.txt` can name only one
package on v2. It covers the keywords OpenAI documents for structured outputs
(and the common composition ones), resolves local `$ref`s only, and is bounded:
schema depth, `$ref` hops without consuming data, and the regexes it runs.
The unit tests check it against `jsonschema` on the same cases.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 32  # nesting of a schema (OpenAI allows 10 levels of objects in strict mode)
MAX_REF_HOPS = 64  # `$ref`s followed in a row without descending into the data
MAX_PATTERN = 1000  # characters of one `pattern`
MAX_STEPS = 100_000  # schema nodes one validation may visit: nested anyOf/oneOf/$ref branches multiply otherwise

# Strict mode (https://platform.openai.com/docs/guides/structured-outputs#supported-schemas).
_STRICT_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "$ref",
        "$defs",
        "definitions",
        "pattern",
        "format",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        # annotations: no effect on what validates
        "title",
        "description",
        "default",
        "examples",
        "$schema",
        "$id",
        "$comment",
        "nullable",
    }
)
_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


class SchemaError(ValueError):
    """The schema itself is unusable; `path` says where (`properties.name.type`)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


def _where(path: tuple[str, ...]) -> str:
    return ".".join(path) or "(root)"


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
    """Raise SchemaError where the schema is unusable, or (strict) breaks OpenAI's strict-mode rules."""
    if depth > MAX_DEPTH:
        raise SchemaError(f"the schema is nested more than {MAX_DEPTH} levels deep", _where(path))
    if isinstance(schema, bool) and not strict:
        return
    if not isinstance(schema, dict):
        raise SchemaError("a schema must be an object", _where(path))
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for k in kinds:
        if k not in _TYPES:
            raise SchemaError(f"'{k}' is not a JSON Schema type", _where((*path, "type")))
    pattern = schema.get("pattern")
    if pattern is not None:
        _check_pattern(pattern, (*path, "pattern"))
    ref = schema.get("$ref")
    if ref is not None and not (isinstance(ref, str) and (ref == "#" or ref.startswith("#/"))):
        raise SchemaError("only local references ('#' or '#/...') are supported", _where((*path, "$ref")))
    if strict:
        _check_strict(schema, kinds, path, depth)
    for sub, where in _children(schema, path):
        check_schema(sub, strict, where, depth + 1)


def _check_pattern(pattern: Any, path: tuple[str, ...]) -> None:
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        raise SchemaError(f"a pattern must be a string of at most {MAX_PATTERN} characters", _where(path))
    try:
        re.compile(pattern)
    except re.error as exc:
        raise SchemaError(f"the pattern is not a valid regular expression ({exc})", _where(path)) from None
    if nested_repeat(pattern):
        raise SchemaError(
            "the pattern repeats a group that itself repeats, which can take exponential time to match",
            _where(path),
        )


def nested_repeat(pattern: str) -> bool:
    """A group that repeats and holds a repeat, e.g. (a+)+ or (\\w+\\s?)*: the shape of catastrophic backtracking.

    One pass over the pattern (a regex to find this would itself backtrack).
    """
    inner: list[bool] = []  # per open group: does it contain a repeat?
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":  # a class: its * and + are literal
            i = _class_end(pattern, i)
            continue
        if ch == "(":
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
    if i >= len(pattern):
        return False
    if pattern[i] in "*+":
        return True
    if pattern[i] == "{":
        close = pattern.find("}", i, i + 24)
        body = pattern[i + 1 : close] if close > 0 else ""
        low, comma, high = body.partition(",")
        return bool(comma) and low.strip().isdigit() and (not high.strip() or int(high or 0) > 1)
    return False


def _class_end(pattern: str, i: int) -> int:
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def _check_strict(schema: dict[str, Any], kinds: list[Any], path: tuple[str, ...], depth: int) -> None:
    unknown = sorted(set(schema) - _STRICT_KEYWORDS)
    if unknown:
        raise SchemaError(f"'{unknown[0]}' is not permitted in strict mode", _where((*path, unknown[0])))
    if depth == 0 and "object" not in kinds and "$ref" not in schema:
        raise SchemaError("the root of a strict schema must be of type 'object'", "(root)")
    if "object" in kinds or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            raise SchemaError(
                "'additionalProperties' is required to be supplied and to be false",
                _where((*path, "additionalProperties")),
            )
        names = list((schema.get("properties") or {}).keys())
        required = schema.get("required") or []
        missing = [n for n in names if n not in required]
        if missing:
            raise SchemaError(
                f"'required' is required to be supplied and to be an array including every key in "
                f"properties. Missing '{missing[0]}'",
                _where((*path, "required")),
            )


class _TooMuchWork(Exception):
    """A validation past MAX_STEPS: a schema whose branches multiply (anyOf of anyOf of ...)."""


class _Validator:
    """One validation: the root schema (for `$ref`), and the first problem found."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.steps = 0

    def resolve(self, ref: str, at: str) -> Any:
        node = self.root
        for part in ref[2:].split("/") if ref != "#" else ():
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaError(f"the reference '{ref}' does not resolve", at)
        return node

    def check(self, value: Any, schema: Any, at: str, hops: int = 0) -> str | None:
        """The first problem with `value`, as a sentence naming where (`$.items[2].name`), or None."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _TooMuchWork
        if schema is True or schema == {}:
            return None
        if schema is False:
            return f"{at} is not allowed"
        if not isinstance(schema, dict):
            return None
        if "$ref" in schema:
            if hops >= MAX_REF_HOPS:
                return f"{at}: the schema's references loop without end"
            problem = self.check(value, self.resolve(schema["$ref"], at), at, hops + 1)
            if problem:
                return problem
        for check in (self._type, self._choice, self._combined, self._number, self._string, self._array, self._object):
            problem = check(value, schema, at, hops)
            if problem:
                return problem
        return None

    def _type(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> str | None:
        kind = schema.get("type")
        if kind is None:
            return None
        kinds = kind if isinstance(kind, list) else [kind]
        if any(_is_type(value, k) for k in kinds):
            return None
        return f"{at} should be of type {' or '.join(map(str, kinds))}, not {_type_name(value)}"

    def _choice(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> str | None:
        if "const" in schema and not _equal(value, schema["const"]):
            return f"{at} should be {_short(schema['const'])}"
        if "enum" in schema and not any(_equal(value, option) for option in schema["enum"]):
            return f"{at} should be one of {_short(schema['enum'])}"
        return None

    def _combined(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> str | None:
        for sub in schema.get("allOf") or ():
            problem = self.check(value, sub, at, hops + 1)
            if problem:
                return problem
        if "anyOf" in schema and all(self.check(value, sub, at, hops + 1) for sub in schema["anyOf"]):
            return f"{at} matches none of the schemas in anyOf"
        if "oneOf" in schema:
            matches = sum(1 for sub in schema["oneOf"] if not self.check(value, sub, at, hops + 1))
            if matches != 1:
                return f"{at} matches {matches} of the schemas in oneOf, not exactly one"
        if "not" in schema and not self.check(value, schema["not"], at, hops + 1):
            return f"{at} matches the schema in 'not'"
        return None

    def _number(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> str | None:
        if not _is_type(value, "number"):
            return None
        for key, broken in (
            ("minimum", lambda limit: value < limit),
            ("maximum", lambda limit: value > limit),
            ("exclusiveMinimum", lambda limit: value <= limit),
            ("exclusiveMaximum", lambda limit: value >= limit),
        ):
            limit = schema.get(key)
            if isinstance(limit, (int, float)) and not isinstance(limit, bool) and broken(limit):
                return f"{at} is {value}, which breaks {key} {limit}"
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            quotient = value / step
            if math.isfinite(quotient) and not math.isclose(quotient, round(quotient), abs_tol=1e-9):
                return f"{at} is {value}, not a multiple of {step}"
        return None

    def _string(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> str | None:
        if not isinstance(value, str):
            return None
        low, high = schema.get("minLength"), schema.get("maxLength")
        if isinstance(low, int) and len(value) < low:
            return f"{at} is shorter than {low} characters"
        if isinstance(high, int) and len(value) > high:
            return f"{at} is longer than {high} characters"
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and re.search(pattern, value) is None:
            return f"{at} does not match the pattern {pattern!r}"
        return None

    def _array(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> str | None:
        if not isinstance(value, list):
            return None
        low, high = schema.get("minItems"), schema.get("maxItems")
        if isinstance(low, int) and len(value) < low:
            return f"{at} has fewer than {low} items"
        if isinstance(high, int) and len(value) > high:
            return f"{at} has more than {high} items"
        prefix = schema.get("prefixItems") or []
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else schema.get("items", True)
            problem = self.check(item, sub, f"{at}[{i}]")
            if problem:
                return problem
        if schema.get("uniqueItems") and len({_canonical(item) for item in value}) < len(value):
            return f"{at} has duplicate items"
        return None

    def _object(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> str | None:
        if not isinstance(value, dict):
            return None
        for name in schema.get("required") or ():
            if name not in value:
                return f"{at} is missing the required property '{name}'"
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            where = f"{at}.{name}"
            if name in properties:
                problem = self.check(item, properties[name], where)
            elif extra is False:
                problem = f"{at} has the property '{name}', which the schema does not allow"
            else:
                problem = self.check(item, extra, where)
            if problem:
                return problem
        low, high = schema.get("minProperties"), schema.get("maxProperties")
        if isinstance(low, int) and len(value) < low:
            return f"{at} has fewer than {low} properties"
        if isinstance(high, int) and len(value) > high:
            return f"{at} has more than {high} properties"
        return None


def validate(value: Any, schema: Any) -> str | None:
    """The first way `value` breaks `schema` (checked with `check_schema` first), or None."""
    try:
        return _Validator(schema).check(value, schema, "$")
    except RecursionError:
        return "$ is nested too deeply to validate"
    except _TooMuchWork:
        return f"the schema takes more than {MAX_STEPS} steps to check this answer"
    except SchemaError as exc:
        return str(exc)


def _is_type(value: Any, kind: Any) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    expected = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "null": type(None),
    }.get(kind)
    return expected is not None and isinstance(value, expected)


def _type_name(value: Any) -> str:
    for kind in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is_type(value, kind):
            return kind
    return type(value).__name__


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def _canonical(value: Any) -> str:
    """One text per JSON value under `_equal` (1 == 1.0, true != 1, keys in any order): duplicates in one pass."""

    def plain(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), sort_keys=True)


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
