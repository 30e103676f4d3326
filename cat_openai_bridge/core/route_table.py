"""The route table: every endpoint of the bridge, once (for the Cat and the unit tests alike), and the `Bridge`."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from .api.anthropic.dialect import ERRORS as ANTHROPIC_ERRORS
from .api.anthropic.protocol import MessageRequest, MessageTokensRequest
from .api.anthropic.route import CountTokens, Messages
from .api.chat.protocol import ChatCompletionRequest
from .api.chat.route import ChatCompletions
from .api.completions.protocol import CompletionRequest
from .api.completions.route import Completions
from .api.embeddings.protocol import EmbeddingRequest
from .api.embeddings.route import Embeddings
from .api.health import Health
from .api.message.protocol import SimpleMessageRequest
from .api.message.route import Message
from .api.metrics import Metrics
from .api.models.route import GetModel, ListModels
from .api.ollama.dialect import ERRORS as OLLAMA_ERRORS
from .api.ollama.dialect import KEY as OLLAMA_KEY
from .api.ollama.protocol import ChatRequest, EmbedRequest, GenerateRequest, ModelRequest
from .api.ollama.route import OllamaChat, OllamaEmbed, OllamaGenerate, OllamaPull, OllamaShow, OllamaTags, OllamaVersion
from .api.responses.protocol import ResponsesRequest
from .api.responses.route import Responses
from .api.responses.storage import ResponseStores
from .api.responses.stored_routes import DeleteResponse, GetResponse, Keeper, ListInputItems
from .guards.limits import Limiter
from .http.openapi import ERRORS
from .http.pipeline import Pipeline
from .turn.port import CatPort

if TYPE_CHECKING:
    from .http.route import Route

PREFIX = "/custom"  # where the Cat serves a plugin's endpoints: every path below is under it
PATH_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True, kw_only=True)
class Entry:
    """The handler reads the raw body, so FastAPI neither validates nor documents it: /docs show `body`."""

    method: str
    path: str
    name: str
    route: Callable[[Bridge], Route]
    body: type[BaseModel] | None = None
    errors: Mapping[int | str, dict[str, Any]] | None = None

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(PATH_PARAMETER.findall(self.path))


def _get(path: str, name: str, route: Callable[[Bridge], Route]) -> Entry:
    return Entry(method="GET", path=path, name=name, route=route)


def _post(path: str, name: str, route: Callable[[Bridge], Route], body: type[BaseModel], errors=ERRORS) -> Entry:
    return Entry(method="POST", path=path, name=name, route=route, body=body, errors=errors)


def _ollama(*entries: Entry) -> tuple[Entry, ...]:
    """Each under `/ollama`, and again under `/ollama/{key}`: the base URL of a client that has no key field."""
    keyed = f"/ollama/{{{OLLAMA_KEY}}}"
    return tuple(
        replace(entry, path=prefix + entry.path, name=f"ollama_{entry.name}{suffix}")
        for entry in entries
        for prefix, suffix in (("/ollama", ""), (keyed, "_keyed"))
    )


OLLAMA = _ollama(
    _get("/api/tags", "tags", lambda b: OllamaTags(b.pipeline, b.created)),
    _get("/api/version", "version", lambda b: OllamaVersion(b.pipeline)),
    _post("/api/chat", "chat", lambda b: OllamaChat(b.pipeline), ChatRequest, OLLAMA_ERRORS),
    _post("/api/generate", "generate", lambda b: OllamaGenerate(b.pipeline), GenerateRequest, OLLAMA_ERRORS),
    _post("/api/embed", "embed", lambda b: OllamaEmbed(b.pipeline), EmbedRequest, OLLAMA_ERRORS),
    _post("/api/show", "show", lambda b: OllamaShow(b.pipeline, b.created), ModelRequest, OLLAMA_ERRORS),
    _post("/api/pull", "pull", lambda b: OllamaPull(b.pipeline, b.created), ModelRequest, OLLAMA_ERRORS),
)
STORED = "/v1/responses/{response_id}"  # a stored response, read back or deleted by its id
ENTRIES: tuple[Entry, ...] = (
    _get("/health", "health", lambda b: Health(b.pipeline)),
    _get("/metrics", "metrics", lambda b: Metrics(b.pipeline)),
    _get("/v1/models", "list_models", lambda b: ListModels(b.pipeline, b.created)),
    _get("/v1/models/{model_id:path}", "get_model", lambda b: GetModel(b.pipeline, b.created)),
    _post("/v1/chat/completions", "chat_completions", lambda b: ChatCompletions(b.pipeline), ChatCompletionRequest),
    _post("/message", "message", lambda b: Message(b.pipeline), SimpleMessageRequest),
    _post("/v1/embeddings", "embeddings", lambda b: Embeddings(b.pipeline), EmbeddingRequest),
    _post("/v1/responses", "responses", lambda b: Responses(b.pipeline, b.keeper), ResponsesRequest),
    _get(STORED, "get_response", lambda b: GetResponse(b.pipeline, b.keeper)),
    _get(STORED + "/input_items", "response_input_items", lambda b: ListInputItems(b.pipeline, b.keeper)),
    Entry(method="DELETE", path=STORED, name="delete_response", route=lambda b: DeleteResponse(b.pipeline, b.keeper)),
    _post("/v1/completions", "completions", lambda b: Completions(b.pipeline), CompletionRequest),
    _post("/v1/messages", "anthropic_messages", lambda b: Messages(b.pipeline), MessageRequest, ANTHROPIC_ERRORS),
    _post(
        "/v1/messages/count_tokens",
        "anthropic_count_tokens",
        lambda b: CountTokens(b.pipeline),
        MessageTokensRequest,
        ANTHROPIC_ERRORS,
    ),
    *OLLAMA,
)


class Bridge:
    entries = ENTRIES

    def __init__(self, cat: CatPort, limiter: Limiter | None = None) -> None:
        self.cat = cat
        self.pipeline = Pipeline(cat, limiter)
        self.keeper = Keeper(ResponseStores(), lambda level, message: cat.log(level, message))
        self.created = int(time.time())  # when the models were made
        self.routes: dict[str, Route] = {entry.name: entry.route(self) for entry in self.entries}

    async def serve(self, request: Request, entry: Entry) -> Response:
        return await self.pipeline.serve(request, self.routes[entry.name])
