"""The bridge's JSON Schema validator agrees with `jsonschema` (Cat v2 ships it), and OpenAI's strict rules hold."""

from __future__ import annotations

import json
import time

import pytest

from cat_openai_bridge.core.turn.schema_rules import SchemaError, check_schema
from cat_openai_bridge.core.turn.schema_validator import validate

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[A-Z]"},
        "age": {"type": ["integer", "null"], "minimum": 0, "exclusiveMaximum": 150},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 1, "maxItems": 2, "uniqueItems": True},
        "pet": {"anyOf": [{"$ref": "#/$defs/cat"}, {"type": "null"}]},
        "score": {"type": "number", "multipleOf": 0.5},
        "kind": {"const": "person"},
        "extra": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "not_bool": {"not": {"type": "boolean"}},
        "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
    "$defs": {
        "cat": {
            "type": "object",
            "properties": {"lives": {"type": "integer"}, "friend": {"$ref": "#/$defs/cat"}},
            "required": ["lives"],
            "additionalProperties": {"type": "string"},
        }
    },
}


VALUES = [
    {"name": "Ann", "age": 3},
    {"name": "Ann", "age": None, "tags": ["a"], "pet": None, "score": 1.5, "kind": "person"},
    {"name": "Ann", "age": 3.0},
    {"name": "Ann", "age": 3, "pet": {"lives": 9, "friend": {"lives": 8, "color": "red"}}},
    {"name": "Ann", "age": 3, "pet": {"lives": 9, "friend": {"lives": "8"}}},
    {"name": "Ann", "age": 3, "pet": {"lives": 9, "color": 3}},
    {"name": "ann", "age": 3},
    {"name": "", "age": 3},
    {"name": "Annabel", "age": 3},
    {"name": "Ann"},
    {"name": "Ann", "age": 150},
    {"name": "Ann", "age": -1},
    {"name": "Ann", "age": True},
    {"name": "Ann", "age": "3"},
    {"name": "Ann", "age": 3, "tags": []},
    {"name": "Ann", "age": 3, "tags": ["a", "a"]},
    {"name": "Ann", "age": 3, "tags": ["a", "b", "a"]},
    {"name": "Ann", "age": 3, "tags": ["c"]},
    {"name": "Ann", "age": 3, "score": 1.25},
    {"name": "Ann", "age": 3, "kind": "cat"},
    {"name": "Ann", "age": 3, "extra": "x"},
    {"name": "Ann", "age": 3, "extra": 1.5},
    {"name": "Ann", "age": 3, "not_bool": True},
    {"name": "Ann", "age": 3, "not_bool": 0},
    {"name": "Ann", "age": 3, "pair": ["x", 1, True]},
    {"name": "Ann", "age": 3, "pair": [1, 1]},
    {"name": "Ann", "age": 3, "other": 1},
    [],
    "Ann",
    None,
]


@pytest.mark.parametrize("value", VALUES, ids=[json.dumps(v)[:40] for v in VALUES])
def test_agrees_with_jsonschema(value):
    jsonschema = pytest.importorskip("jsonschema")  # not on the Python 3.10 compatibility run
    expected = jsonschema.Draft202012Validator(PERSON).is_valid(value)
    problem = validate(value, PERSON)
    assert (problem is None) == expected, problem


def test_problems_name_where():
    assert validate({"name": "Ann", "age": 3, "tags": ["c"]}, PERSON) == '$.tags[0] should be one of ["a", "b"]'
    assert validate({"name": "Ann"}, PERSON) == "$ is missing the required property 'age'"
    assert validate({"name": "Ann", "age": 3, "x": 1}, PERSON) == (
        "$ has the property 'x', which the schema does not allow"
    )


def test_references_that_loop_without_data_are_bounded():
    schema = {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}
    assert "loop" in validate(1, schema)
    assert "does not resolve" in validate(1, {"$ref": "#/$defs/missing"})


def test_deep_answers_are_bounded():
    deep: object = 1
    for _ in range(5000):
        deep = [deep]
    assert validate(deep, {"type": "array", "items": {"$ref": "#"}}) is not None


@pytest.mark.parametrize(
    "schema, path",
    [
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, "additionalProperties"),
        ({"type": "object", "properties": {"a": {}}, "additionalProperties": False}, "required"),
        ({"type": "array"}, "(root)"),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string", "allOf": []}},
                "required": ["a"],
                "additionalProperties": False,
            },
            "properties.a.allOf",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "object", "properties": {}}},
                "required": ["a"],
                "additionalProperties": False,
            },
            "properties.a.additionalProperties",
        ),
    ],
)
def test_strict_mode_rules(schema, path):
    with pytest.raises(SchemaError) as info:
        check_schema(schema, strict=True)
    assert info.value.path.endswith(path) or info.value.path == path
    check_schema(schema, strict=False)  # the same schema is fine when not strict


def test_unusable_schemas_fail_whatever_the_mode():
    for schema in (
        {"type": "str"},
        {"$ref": "http://example.com/s"},
        {"pattern": "("},
        {"pattern": "(?:(x|y){1000}){1000}"},
    ):
        with pytest.raises(SchemaError):
            check_schema(schema, strict=False)
    deep: dict = {"type": "object"}
    for _ in range(100):
        deep = {"type": "object", "properties": {"a": deep}}
    with pytest.raises(SchemaError, match="nested more than"):
        check_schema(deep, strict=False)


HOSTILE = [r"(x|x)*z", r"(x|xx)+z", r"x*x*x*x*x*x*z", r"(a+)+$", r"^(\w+\s?)*### Task:"]  # `re`: minutes


@pytest.mark.parametrize("pattern", HOSTILE)
def test_a_pattern_that_backtracks_ends_within_its_time(pattern):
    """Matching them is bounded (`regex` with a timeout), so they are accepted, as OpenAI does."""
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": pattern, "minLength": 25}}}
    check_schema(schema, strict=False)
    started = time.perf_counter()
    problem = validate({"a": "x" * 5000}, schema)
    assert time.perf_counter() - started < 2.0
    assert problem in (
        f"$.a does not match the pattern {pattern!r}",
        f"$.a could not be matched against the pattern {pattern!r} within 20 ms",
    )


def test_one_validation_shares_one_time_bound():
    schema = {"type": "array", "items": {"type": "string", "pattern": r"(x|xx)+z"}}
    started = time.perf_counter()
    problem = validate(["x" * 100] * 1000, schema)
    assert time.perf_counter() - started < 0.5  # not 1000 times the bound
    assert problem == "$[0] could not be matched against the pattern '(x|xx)+z' within 20 ms"


@pytest.mark.parametrize(
    "pattern, says",
    [
        ("(?:x{1000}){1000}", "too large to compile"),  # `regex` writes out a million x: 0.4 s to compile
        ("(" * 400 + ")" * 400, "nested too deeply"),
        (r"\p{L}", "not a valid regular expression"),  # ECMA-262 with the u flag, not Python's `re`: as before
    ],
)
def test_patterns_that_cannot_be_compiled_in_bounded_time_are_refused(pattern, says):
    with pytest.raises(SchemaError, match=says):
        check_schema({"type": "string", "pattern": pattern}, strict=False)


def test_a_schemas_patterns_share_one_compile_budget():
    many = {f"p{i}": {"type": "string", "pattern": f"^{i}" + "[a-z]" * 199} for i in range(40)}
    with pytest.raises(SchemaError, match="the schema's patterns are too large to compile") as info:
        check_schema({"type": "object", "properties": many}, strict=False)
    assert info.value.path.startswith("properties.p")
    assert validate({"a": "x"}, {"properties": {"a": {"pattern": "(?:x{1000}){1000}"}}}) == (
        "$.a cannot be checked against '(?:x{1000}){1000}': the pattern is too large to compile: 4000 characters "
        "at most, a fixed repeat counting as its copies (a{3} as aaa)"
    )  # a pattern check_schema never saw (e.g. under a key only a $ref reaches) is bounded all the same


def test_branches_that_multiply_are_bounded():
    """anyOf of anyOf of ... through $refs: 2**40 paths to a failing leaf, cut off after MAX_STEPS nodes."""
    defs = {f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]} for i in range(40)}
    defs["d40"] = {"type": "string"}
    started = time.perf_counter()
    problem = validate(1, {"$defs": defs, "$ref": "#/$defs/d0"})
    assert problem == "the schema takes more than 100000 steps to check this answer"
    assert time.perf_counter() - started < 5  # unbounded, this would not end


def test_unique_items_in_one_pass_with_json_equality():
    schema = {"type": "array", "uniqueItems": True}
    assert validate([1, 1.0], schema) is not None  # 1 == 1.0 in JSON
    assert validate([1, True], schema) is None  # true is not 1
    assert validate([{"a": 1, "b": 2}, {"b": 2, "a": 1}], schema) is not None
    assert validate(list(range(50_000)), schema) is None  # pairwise, this took minutes
