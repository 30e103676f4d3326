"""The plugin's routes under /custom: the only module that declares endpoints.

Handlers are one-liners into `Bridge`; they take the raw request so that the
body is validated by the bridge (OpenAI errors), not by FastAPI (`detail`).
"""

from __future__ import annotations

from cat.mad_hatter.decorators import endpoint
from starlette.requests import Request

from .core.api.anthropic.protocol import MessageRequest, MessageTokensRequest
from .core.api.chat.protocol import ChatCompletionRequest
from .core.api.completions.protocol import CompletionRequest
from .core.api.embeddings.protocol import EmbeddingRequest
from .core.api.message.protocol import SimpleMessageRequest
from .core.api.responses.protocol import ResponsesRequest
from .core.http import openapi
from .runtime import bridge

PREFIX = "/custom"
TAGS = ["OpenAI bridge"]


@endpoint.get("/health", prefix=PREFIX, tags=TAGS)
async def openai_bridge_health(request: Request):
    return await bridge().health(request)


@endpoint.get("/metrics", prefix=PREFIX, tags=TAGS)
async def openai_bridge_metrics(request: Request):
    return await bridge().metrics(request)


@endpoint.get("/v1/models", prefix=PREFIX, tags=TAGS)
async def openai_bridge_list_models(request: Request):
    return await bridge().list_models(request)


@endpoint.get("/v1/models/{model_id:path}", prefix=PREFIX, tags=TAGS)
async def openai_bridge_get_model(request: Request, model_id: str):
    return await bridge().get_model(request)


def _post(path: str, body, errors=openapi.ERRORS):
    """A POST route whose JSON body (validated by the bridge, not FastAPI) is still documented in /docs."""
    return endpoint.post(path, prefix=PREFIX, tags=TAGS, responses=errors, openapi_extra=openapi.body(body))


@_post("/v1/chat/completions", ChatCompletionRequest)
async def openai_bridge_chat_completions(request: Request):
    return await bridge().chat_completions(request)


@_post("/message", SimpleMessageRequest)
async def openai_bridge_message(request: Request):
    return await bridge().message(request)


@_post("/v1/embeddings", EmbeddingRequest)
async def openai_bridge_embeddings(request: Request):
    return await bridge().embeddings(request)


@_post("/v1/responses", ResponsesRequest)
async def openai_bridge_responses(request: Request):
    return await bridge().responses(request)


@endpoint.get("/v1/responses/{response_id}", prefix=PREFIX, tags=TAGS)
async def openai_bridge_get_response(request: Request, response_id: str):
    return await bridge().get_response(request)


@endpoint.get("/v1/responses/{response_id}/input_items", prefix=PREFIX, tags=TAGS)
async def openai_bridge_response_input_items(request: Request, response_id: str):
    return await bridge().response_input_items(request)


def _delete(path: str):
    """v1 1.8 has no `endpoint.delete`; its general `endpoint.endpoint` takes the methods (v2 has `delete`)."""
    if hasattr(endpoint, "delete"):
        return endpoint.delete(path, prefix=PREFIX, tags=TAGS)
    return endpoint.endpoint(path, ["DELETE"], prefix=PREFIX, tags=TAGS)


@_delete("/v1/responses/{response_id}")
async def openai_bridge_delete_response(request: Request, response_id: str):
    return await bridge().delete_response(request)


@_post("/v1/completions", CompletionRequest)
async def openai_bridge_completions(request: Request):
    return await bridge().completions(request)


@_post("/v1/messages", MessageRequest, openapi.ANTHROPIC_ERRORS)
async def openai_bridge_anthropic_messages(request: Request):
    return await bridge().anthropic_messages(request)


@_post("/v1/messages/count_tokens", MessageTokensRequest, openapi.ANTHROPIC_ERRORS)
async def openai_bridge_anthropic_count_tokens(request: Request):
    return await bridge().anthropic_count_tokens(request)
