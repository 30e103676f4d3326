"""The plugin's routes under /custom: the only module that declares endpoints.

Handlers are one-liners into `Bridge`; they take the raw request so that the
body is validated by the bridge (OpenAI errors), not by FastAPI (`detail`).
"""

from __future__ import annotations

from cat.mad_hatter.decorators import endpoint
from starlette.requests import Request

from .core import openapi
from .core.embeddings import EmbeddingRequest
from .core.requests import ChatCompletionRequest, SimpleMessageRequest
from .core.responses import ResponsesRequest
from .runtime import bridge

PREFIX = "/custom"


@endpoint.get("/health", prefix=PREFIX, tags=["OpenAI bridge"])
async def openai_bridge_health(request: Request):
    return await bridge().health(request)


@endpoint.get("/v1/models", prefix=PREFIX, tags=["OpenAI bridge"])
async def openai_bridge_list_models(request: Request):
    return await bridge().list_models(request)


@endpoint.get("/v1/models/{model_id:path}", prefix=PREFIX, tags=["OpenAI bridge"])
async def openai_bridge_get_model(request: Request, model_id: str):
    return await bridge().get_model(request, model_id)


@endpoint.post("/v1/chat/completions", prefix=PREFIX, tags=["OpenAI bridge"], responses=openapi.ERRORS,
               openapi_extra=openapi.body(ChatCompletionRequest))
async def openai_bridge_chat_completions(request: Request):
    return await bridge().chat_completions(request)


@endpoint.post("/message", prefix=PREFIX, tags=["OpenAI bridge"], responses=openapi.ERRORS,
               openapi_extra=openapi.body(SimpleMessageRequest))
async def openai_bridge_message(request: Request):
    return await bridge().message(request)


@endpoint.post("/v1/embeddings", prefix=PREFIX, tags=["OpenAI bridge"], responses=openapi.ERRORS,
               openapi_extra=openapi.body(EmbeddingRequest))
async def openai_bridge_embeddings(request: Request):
    return await bridge().embeddings(request)


@endpoint.post("/v1/responses", prefix=PREFIX, tags=["OpenAI bridge"], responses=openapi.ERRORS,
               openapi_extra=openapi.body(ResponsesRequest))
async def openai_bridge_responses(request: Request):
    return await bridge().responses(request)
