"""A client's JSON Schema, checked as the request is read: bounded before anything runs it (depth, local `$ref`s,
`pattern`s that compile, in bounded time: core/config/bounded_regex.py), and (strict) OpenAI's rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..config import bounded_regex

MAX_DEPTH = 32  # nesting of a schema (OpenAI allows 10 levels of objects in strict mode)
MAX_PATTERN = 1000  # characters of one `pattern`
PATTERN_COST = bounded_regex.MAX_COST  # of all of a schema's patterns (bounded_regex.cost): ~30 ms of compiling

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


def check_schema(
    schema: Any, strict: bool, path: tuple[str, ...] = (), depth: int = 0, budget: list[int] | None = None
) -> None:
    budget = [PATTERN_COST] if budget is None else budget
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
        _check_pattern(schema["pattern"], (*path, "pattern"), budget)
    ref = schema.get("$ref")
    if ref is not None and not (isinstance(ref, str) and (ref == "#" or ref.startswith("#/"))):
        raise SchemaError("only local references ('#' or '#/...') are supported", *path, "$ref")
    if strict:
        _check_strict(schema, kinds, path, depth)
    for sub, where in _children(schema, path):
        check_schema(sub, strict, where, depth + 1, budget)


def _check_pattern(pattern: Any, path: tuple[str, ...], budget: list[int]) -> None:
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        raise SchemaError(f"a pattern must be a string of at most {MAX_PATTERN} characters", *path)
    try:
        budget[0] -= bounded_regex.cost(pattern)
        if budget[0] < 0:
            raise bounded_regex.PatternError(
                f"the schema's patterns are too large to compile: {PATTERN_COST} characters in all at most, a fixed "
                "repeat counting as its copies (a{3} as aaa)"
            )
        bounded_regex.compiled(pattern)
    except bounded_regex.PatternError as exc:
        raise SchemaError(str(exc), *path) from None


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
