"""The plugin's endpoints, one per route table entry. Handlers take the raw request so the bridge validates the
body (OpenAI errors), not FastAPI; the Cat finds endpoints among this module's names, hence `globals()`."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from cat.mad_hatter.decorators import endpoint
from starlette.requests import Request
from starlette.responses import Response

from .core.http import openapi
from .core.route_table import ENTRIES, PREFIX, Entry
from .runtime import bridge

TAGS = ["OpenAI bridge"]


def handler_of(entry: Entry) -> Callable:
    """`openai_bridge_<name>(request, <path parameters>)`: FastAPI reads the signature, names must be distinct."""

    async def handler(request: Request, **path_parameters: str) -> Response:
        return await bridge().serve(request, entry)

    handler.__name__ = handler.__qualname__ = f"openai_bridge_{entry.name}"
    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
    parameters = [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, annotation=str) for p in entry.path_parameters]
    handler.__signature__ = inspect.Signature([request, *parameters])  # type: ignore[attr-defined]
    return handler


def decorator_of(entry: Entry):
    documented: dict = {}
    if entry.errors is not None:
        documented["responses"] = entry.errors
    if entry.body is not None:
        documented["openapi_extra"] = openapi.body(entry.body)
    if entry.method == "DELETE" and not hasattr(endpoint, "delete"):  # v1 1.8: its general decorator takes methods
        return endpoint.endpoint(entry.path, ["DELETE"], prefix=PREFIX, tags=TAGS, **documented)
    return getattr(endpoint, entry.method.lower())(entry.path, prefix=PREFIX, tags=TAGS, **documented)


globals().update({f"openai_bridge_{entry.name}": decorator_of(entry)(handler_of(entry)) for entry in ENTRIES})
