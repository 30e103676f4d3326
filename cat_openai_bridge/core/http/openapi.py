"""OpenAPI descriptions of the bridge's routes: handlers read the raw body, hidden from FastAPI's schema."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from ..turn.errors import ErrorResponse


def schema_of(model: type[BaseModel], mode: Literal["validation", "serialization"] = "validation") -> dict:
    """Self-contained: the Cat's components do not hold our models, so local `$ref`s are resolved."""
    schema = model.model_json_schema(mode=mode)
    return _inline(schema, schema.pop("$defs", {}))


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            return _inline(defs[ref.rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def body(model: type[BaseModel]) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema_of(model)}}}}


ERROR = schema_of(ErrorResponse, "serialization")  # what BridgeError.wire() sends


def error_doc(description: str, schema: dict = ERROR) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: error_doc("The request is invalid; `param` names the field."),
    401: error_doc("Missing or wrong API key / JWT."),
    404: error_doc("Unknown model."),
    413: error_doc("Request body too large."),
    429: error_doc("Rate limit reached; see `retry-after`."),
    502: error_doc("The Cat or its LLM failed."),
    504: error_doc("The Cat did not answer in time."),
}
