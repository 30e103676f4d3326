"""OpenAI request bodies, validated strictly from raw JSON bytes.

Validation errors become OpenAI error objects naming the offending field in
OpenAI's own notation (`messages.[0].role`), so a client sees what it got wrong.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Type, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import BridgeError, invalid_request

M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    # Unknown fields are ignored, as OpenAI does for optional extras that
    # front ends send; known fields are type-checked without coercion.
    model_config = ConfigDict(extra="ignore", strict=True)


class ChatMessage(_Body):
    role: str
    content: Any = None
    name: Optional[str] = None
    tool_calls: Optional[List[Dict[str, Any]]] = None
    tool_call_id: Optional[str] = None


class StreamOptions(_Body):
    include_usage: Optional[bool] = None


class ChatCompletionRequest(_Body):
    model: str = Field(min_length=1)
    messages: List[ChatMessage] = Field(min_length=1)
    stream: Optional[bool] = None
    stream_options: Optional[StreamOptions] = None
    max_tokens: Optional[int] = Field(None, ge=1)
    max_completion_tokens: Optional[int] = Field(None, ge=1)
    n: Optional[int] = Field(None, ge=1, le=128)
    temperature: Optional[float] = Field(None, ge=0, le=2)
    top_p: Optional[float] = Field(None, ge=0, le=1)
    presence_penalty: Optional[float] = Field(None, ge=-2, le=2)
    frequency_penalty: Optional[float] = Field(None, ge=-2, le=2)
    seed: Optional[int] = None
    stop: Optional[Union[str, List[str]]] = None
    user: Optional[str] = None
    metadata: Optional[Dict[str, Any]] = None
    tools: Optional[List[Dict[str, Any]]] = None
    tool_choice: Optional[Union[str, Dict[str, Any]]] = None
    response_format: Optional[Dict[str, Any]] = None
    logprobs: Optional[bool] = None
    top_logprobs: Optional[int] = Field(None, ge=0, le=20)
    cat_why: Optional[bool] = None  # extension: add the Cat's reasons to the answer (admins only)

    def completion_limit(self) -> Optional[int]:
        """The client's cap on completion tokens (`max_completion_tokens` wins)."""
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    def stop_sequences(self) -> List[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class SimpleMessageRequest(_Body):
    """The seed's `/custom/message` body."""

    text: str = Field(min_length=1)
    user_id: Optional[str] = None


# Tags pydantic puts in an error's location for the branches of a union.
_UNION_TAGS = {"", "str", "int", "float", "bool", "dict", "list", "none"}


def param_path(loc: tuple) -> Optional[str]:
    """`("messages", 0, "role")` -> `"messages.[0].role"` (OpenAI's notation)."""
    parts = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif isinstance(item, str) and item not in _UNION_TAGS and "[" not in item and not item.startswith("function-"):
            parts.append(item)
    return ".".join(parts) or None


def _describe(err: dict, param: Optional[str]) -> BridgeError:
    kind = err.get("type", "")
    if kind == "json_invalid":
        return invalid_request(
            "We could not parse the JSON body of your request. The request body must be valid JSON "
            f"({err.get('ctx', {}).get('error', 'invalid JSON')})."
        )
    if kind == "missing":
        return invalid_request(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")
    if param is None:
        return invalid_request("The request body must be a JSON object.", None, "invalid_type")
    if kind == "too_short" and err.get("input") == []:
        return invalid_request(
            f"Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param,
            "empty_array",
        )
    code = "invalid_type" if kind.endswith("_type") or kind in ("model_attributes_type", "dict_type", "list_type") else "invalid_value"
    return invalid_request(f"Invalid value for '{param}': {err.get('msg', 'invalid')}.", param, code)


def parse_body(model: Type[M], raw: bytes) -> M:
    """Validate raw JSON bytes into `model`, or raise the first error as a 400."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0] if errors else {"type": "value_error", "msg": "invalid body", "loc": ()}
        raise _describe(first, param_path(tuple(first.get("loc", ())))) from None
    except (ValueError, RecursionError):
        raise invalid_request("We could not parse the JSON body of your request.") from None
