"""The Cat's answer validated against a client's JSON Schema (checked first in schema_rules.py). Our own, not
`jsonschema`: the v1 image lacks it, and a plugin's `requirements.txt` can name only one package on v2."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from operator import ge, gt, le, lt
from typing import Any

from ..config import bounded_regex
from .schema_rules import SchemaError

MAX_REF_HOPS = 64  # `$ref`s followed in a row without descending into the data
MAX_STEPS = 100_000  # schema nodes one validation may visit: nested anyOf/oneOf/$ref branches multiply otherwise
# Wall time all of one validation's `pattern` matches share, on the event loop: the longest one check holds it, even
# for `(x|x)*z` on a long answer (`re` took minutes). A normal match takes microseconds.
PATTERN_SECONDS = 0.02
_BOUNDS = {"minimum": lt, "maximum": gt, "exclusiveMinimum": le, "exclusiveMaximum": ge}  # broken(value, bound)
_TYPE_NAMES = ("null", "boolean", "integer", "number", "string", "array", "object")  # the first that fits names it
_PYTHON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


class _TooMuchWork(Exception):
    pass


class _TooSlow(Exception):
    pass


class _Validator:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.steps = 0
        self.deadline = time.monotonic() + PATTERN_SECONDS

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
        if schema is False:
            return f"{at} is not allowed"
        if not isinstance(schema, dict) or not schema:  # True, {}: anything goes
            return None
        if "$ref" in schema:
            if hops >= MAX_REF_HOPS:
                return f"{at}: the schema's references loop without end"
            problem = self.check(value, self.resolve(schema["$ref"], at), at, hops + 1)
            if problem:
                return problem
        for check in (self._type, self._combined, self._number, self._string, self._array, self._object):
            for problem in check(value, schema, at, hops):
                if problem:
                    return problem
        return None

    # Each keyword check yields its verdicts (None: fine) in order, lazily: `check` stops at the first problem.

    def _type(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> Iterator[str | None]:
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if kind is not None and not any(_is_type(value, k) for k in kinds):
            yield f"{at} should be of type {' or '.join(map(str, kinds))}, not {_type_name(value)}"
        if "const" in schema and _canonical(value) != _canonical(schema["const"]):
            yield f"{at} should be {_short(schema['const'])}"
        if "enum" in schema and _canonical(value) not in map(_canonical, schema["enum"]):
            yield f"{at} should be one of {_short(schema['enum'])}"

    def _combined(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> Iterator[str | None]:
        for sub in schema.get("allOf") or ():
            yield self.check(value, sub, at, hops + 1)
        if "anyOf" in schema and all(self.check(value, sub, at, hops + 1) for sub in schema["anyOf"]):
            yield f"{at} matches none of the schemas in anyOf"
        if "oneOf" in schema:
            matches = sum(1 for sub in schema["oneOf"] if not self.check(value, sub, at, hops + 1))
            if matches != 1:
                yield f"{at} matches {matches} of the schemas in oneOf, not exactly one"
        if "not" in schema and not self.check(value, schema["not"], at, hops + 1):
            yield f"{at} matches the schema in 'not'"

    def _number(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> Iterator[str | None]:
        if not _is_type(value, "number"):
            return
        for key, broken in _BOUNDS.items():
            limit = schema.get(key)
            if isinstance(limit, (int, float)) and not isinstance(limit, bool) and broken(value, limit):
                yield f"{at} is {value}, which breaks {key} {limit}"
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            quotient = value / step
            if math.isfinite(quotient) and not math.isclose(quotient, round(quotient), abs_tol=1e-9):
                yield f"{at} is {value}, not a multiple of {step}"

    def _string(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> Iterator[str | None]:
        if isinstance(value, str):
            yield _size(at, len(value), schema, "Length", ("is shorter than", "is longer than"), "characters")
            pattern = schema.get("pattern")
            if isinstance(pattern, str):
                try:
                    found = bounded_regex.search(pattern, value, self.deadline)
                except TimeoutError:
                    raise _TooSlow(f"{at} could not be matched against the pattern {pattern!r}") from None
                except bounded_regex.PatternError as exc:
                    yield f"{at} cannot be checked against {pattern!r}: {exc}"
                else:
                    yield None if found else f"{at} does not match the pattern {pattern!r}"

    def _array(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> Iterator[str | None]:
        if not isinstance(value, list):
            return
        yield _size(at, len(value), schema, "Items", ("has fewer than", "has more than"), "items")
        prefix = schema.get("prefixItems") or []
        for i, item in enumerate(value):
            yield self.check(item, prefix[i] if i < len(prefix) else schema.get("items", True), f"{at}[{i}]")
        if schema.get("uniqueItems") and len({_canonical(item) for item in value}) < len(value):
            yield f"{at} has duplicate items"

    def _object(self, value: Any, schema: dict[str, Any], at: str, hops: int) -> Iterator[str | None]:
        if not isinstance(value, dict):
            return
        for name in schema.get("required") or ():
            if name not in value:
                yield f"{at} is missing the required property '{name}'"
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name not in properties and extra is False:
                yield f"{at} has the property '{name}', which the schema does not allow"
            else:
                yield self.check(item, properties.get(name, extra), f"{at}.{name}")
        yield _size(at, len(value), schema, "Properties", ("has fewer than", "has more than"), "properties")


def validate(value: Any, schema: Any) -> str | None:
    """The first way `value` breaks `schema` (checked with `check_schema` first), or None."""
    try:
        return _Validator(schema).check(value, schema, "$")
    except RecursionError:
        return "$ is nested too deeply to validate"
    except _TooMuchWork:
        return f"the schema takes more than {MAX_STEPS} steps to check this answer"
    except _TooSlow as exc:
        return f"{exc} within {PATTERN_SECONDS * 1000:.0f} ms"
    except SchemaError as exc:
        return str(exc)


def _size(at: str, size: int, schema: dict[str, Any], bound: str, words: tuple[str, str], unit: str) -> str | None:
    low, high = schema.get(f"min{bound}"), schema.get(f"max{bound}")
    if isinstance(low, int) and size < low:
        return f"{at} {words[0]} {low} {unit}"
    if isinstance(high, int) and size > high:
        return f"{at} {words[1]} {high} {unit}"
    return None


def _is_type(value: Any, kind: Any) -> bool:
    if kind == "integer":
        return _is_type(value, "number") and (isinstance(value, int) or value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    expected = _PYTHON_TYPES.get(kind)
    return expected is not None and isinstance(value, expected)


def _type_name(value: Any) -> str:
    return next((kind for kind in _TYPE_NAMES if _is_type(value, kind)), type(value).__name__)


def _canonical(value: Any) -> str:
    """One text per JSON value, equal for equal values (1 == 1.0, true != 1, keys in any order)."""

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
