"""Raw JSON bytes into a request model, or a 400 naming the field in OpenAI's notation: pydantic's error location
is walked against the model's types, so a union branch tag is never mistaken for a field of the same name."""

from __future__ import annotations

import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from ..turn.errors import BridgeError, invalid_request
from .text_runs import TextLists

M = TypeVar("M", bound=BaseModel)

REFUSAL = "openai_refusal"
UNIONS = (typing.Union, types.UnionType)


def refuse(message: str, param: str | None, code: str) -> PydanticCustomError:
    return PydanticCustomError(REFUSAL, "{message}", {"message": message, "param": param, "code": code})


def _strip(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _strip(typing.get_args(tp)[0])
    args = [a for a in typing.get_args(tp) if a is not type(None)] if origin in UNIONS else []
    return _strip(args[0]) if len(args) == 1 else tp


def _is_model(tp: Any) -> bool:
    """A pydantic model class (not `list[int]`, which Python 3.10 also calls a type)."""
    return isinstance(tp, type) and typing.get_origin(tp) is None and issubclass(tp, BaseModel)


def _discriminator(tp: Any) -> str | None:
    metadata = typing.get_args(tp)[1:] if typing.get_origin(tp) is typing.Annotated else ()
    return next(
        (meta.discriminator for meta in metadata if isinstance(getattr(meta, "discriminator", None), str)), None
    )


def _branch(tp: Any, tag: Any, discriminator: str | None) -> Any:
    """The member of union `tp` that the location's tag names (Any when unknown)."""
    for arg in typing.get_args(_strip(tp)):
        if discriminator and _is_model(arg):
            field = arg.model_fields.get(discriminator)
            if field is not None and tag in typing.get_args(_strip(field.annotation)):
                return arg
        elif isinstance(tag, str):
            origin = typing.get_origin(arg)
            if (tag.startswith("list[") and origin is list) or (tag.startswith("dict[") and origin is dict):
                return arg
            if _is_model(arg) and arg.__name__ == tag:
                return arg
    return Any


def param_path(model: type[BaseModel], loc: tuple) -> str | None:
    """`("messages", 0, "user", "content")` -> `"messages.[0].content"`."""
    parts: list[str] = []
    tp: Any = model
    for item in loc:
        discriminator = _discriminator(tp)
        bare = _strip(tp)
        origin = typing.get_origin(bare)
        if origin in UNIONS:  # a union member's tag: not a field
            tp = _branch(tp, item, discriminator)
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
            tp = typing.get_args(bare)[0] if origin is list and typing.get_args(bare) else Any
        elif _is_model(bare):
            field = bare.model_fields.get(item)
            parts.append(item)
            tp = field.annotation if field is not None else Any
        elif origin is dict:
            parts.append(str(item))
            tp = typing.get_args(bare)[1] if typing.get_args(bare) else Any
        elif bare is Any:
            parts.append(str(item))
        # else: a scalar's own tag (e.g. 'function-after[...]'): nothing to name
    return ".".join(parts) or None


def _first(model: type[BaseModel], errors: list) -> tuple[dict, str | None]:
    """The first error, or a deeper one under the same field: a union's branch that went further explains more."""
    params = [param_path(model, tuple(e.get("loc", ()))) for e in errors]
    deeper = [i for i, param in enumerate(params) if params[0] and param and param.startswith(params[0])]
    best = max(deeper, key=lambda i: len(params[i] or ""), default=0)
    return errors[best], params[best]


def _describe(err: dict, param: str | None) -> BridgeError:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == REFUSAL:
        return invalid_request(ctx["message"], ctx.get("param"), ctx.get("code"))
    if kind == "json_invalid":
        return invalid_request(
            "We could not parse the JSON body of your request. The request body must be valid "
            f"JSON ({ctx.get('error', 'invalid JSON')})."
        )
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        name = str(ctx.get("discriminator", "")).strip("'")
        param = f"{param}.{name}" if param else name
        if kind == "union_tag_invalid":
            message = f"Invalid value: {ctx.get('tag')!r}. Supported values are: {ctx.get('expected_tags')}."
            return invalid_request(message, param, "invalid_value")
    if kind in ("missing", "union_tag_not_found"):
        return invalid_request(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")
    if param is None:
        return invalid_request("The request body must be a JSON object.", None, "invalid_type")
    if kind == "too_short" and err.get("input") == []:
        return invalid_request(
            f"Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param,
            "empty_array",
        )
    code = "invalid_type" if kind.endswith("_type") else "invalid_value"
    return invalid_request(f"Invalid value for '{param}': {err.get('msg', 'invalid')}.", param, code)


def parse_body(model: type[M], raw: bytes, context: dict | None = None, texts: TextLists | None = None) -> M:
    """`texts`: where the model's content lists are, whose trailing runs of plain text parts are merged first."""
    try:
        return model.model_validate_json((texts and texts.merged_body(raw)) or raw, context=context)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if not errors:
            raise invalid_request("The request body is invalid.") from None
        raise _describe(*_first(model, errors)) from None
    except (ValueError, RecursionError):
        raise invalid_request("We could not parse the JSON body of your request.") from None
