"""Ollama's API (`/api/chat`, `/api/generate`, `/api/embed`, `/api/tags`, `/api/show`, `/api/pull`, `/api/version`)
on the one pipeline: the Cat's agents are the models, every answer is the Cat's turn."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import ClassVar

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...http.encoder import Event
from ...http.parsing import parse_body
from ...http.pipeline import Pipeline
from ...http.route import Call, J, Job, Reply, Route, TurnJob
from ...turn.demands import Demands
from ...turn.port import Access, ModelCard
from ..embeddings.route import embed, texts_of
from .convert import LATEST, chat_conversation, client_tools, json_format, model_of, prompt_conversation, rules_of
from .dialect import OLLAMA
from .encoder import NDJSON, LineEncoder, line
from .protocol import (
    ChatRequest,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    ListedModel,
    ListResponse,
    ModelRequest,
    ShowResponse,
    StatusResponse,
    VersionResponse,
)

VERSION = "0.12.0"  # the Ollama release whose API this follows: clients gate features on it (tools, think)


@dataclass(frozen=True, kw_only=True)
class OllamaJob(TurnJob):
    shown: str  # the model as the client named it, echoed in every line


class _Answers(Route[OllamaJob]):
    dialect = OLLAMA
    chat: ClassVar[bool] = True

    async def run(self, job: OllamaJob, call: Call) -> Reply:
        turn = call.turn(job.conversation, stream=job.rules.stream, tools=job.tools, demands=job.demands)
        encoder = LineEncoder(job.shown, self.chat, call.started)
        self.debug(
            call,
            f"ollama {self.name} user={turn.identity.user_id} model={job.shown} stream={job.rules.stream} "
            f"limit={job.rules.limit} tools={len(turn.tools)}",
        )
        if job.rules.stream:
            return self.streamed(call, encoder, turn, job.rules, job.demands)
        return Reply(encoder.whole(await self.answered(call, turn, job.rules, job.demands)))


class OllamaChat(_Answers):
    name = "ollama.chat"

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> OllamaJob:
        body = parse_body(ChatRequest, raw)
        rules = rules_of(body, settings, len(body.messages))
        tools = client_tools(body.tools, self.cat.supports_client_tools)
        conversation = chat_conversation(
            body,
            allow_images=self.cat.supports_images,
            allow_tools=self.cat.supports_client_tools,
            max_parts=settings.max_content_parts,
        )
        demands = Demands(json_format(body), None, {}, tuple(t.name for t in tools))
        return OllamaJob(
            model=model_of(body.model),
            shown=body.model,
            rules=rules,
            conversation=conversation,
            tools=tools,
            demands=demands,
        )


class OllamaGenerate(_Answers):
    name = "ollama.generate"
    chat = False

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> OllamaJob:
        body = parse_body(GenerateRequest, raw)
        conversation = prompt_conversation(
            body, allow_images=self.cat.supports_images, max_parts=settings.max_content_parts
        )
        return OllamaJob(
            model=model_of(body.model),
            shown=body.model,
            rules=rules_of(body, settings),
            conversation=conversation,
            demands=Demands(json_format(body)),
        )


@dataclass(frozen=True, kw_only=True)
class EmbedJob(Job):
    body: EmbedRequest
    texts: tuple[str, ...]


class OllamaEmbed(Route[EmbedJob]):
    """The Cat's own embedder, whatever `model` says (as `/v1/embeddings`), so vectors match the Cat's memory."""

    name = "ollama.embed"
    access = Access.EMBEDDINGS
    idempotent = False
    dialect = OLLAMA

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> EmbedJob:
        body = parse_body(EmbedRequest, raw)
        texts = texts_of([body.input] if isinstance(body.input, str) else body.input)
        return EmbedJob(body=body, texts=tuple(texts))

    async def run(self, job: EmbedJob, call: Call) -> Reply:
        _, vectors, used = await embed(self.cat, call, job.texts, job.body.dimensions)
        spent = int((time.perf_counter() - call.started) * 1e9)
        embeddings = [[float(x) for x in vector] for vector in vectors]
        return Reply(
            EmbedResponse(model=job.body.model, embeddings=embeddings, total_duration=spent, prompt_eval_count=used)
        )


class _Models(Route[J]):
    access = Access.MODELS
    limited = False
    idempotent = False
    dialect = OLLAMA

    def __init__(self, pipeline: Pipeline, created: int) -> None:
        super().__init__(pipeline)
        self.modified = datetime.fromtimestamp(created, timezone.utc).isoformat().replace("+00:00", "Z")


class OllamaTags(_Models[Job]):
    name = "ollama.tags"
    reads_body = False

    def listed(self, card: ModelCard) -> ListedModel:
        name = card.id + LATEST
        digest = hashlib.sha256(name.encode()).hexdigest()
        return ListedModel(name=name, model=name, modified_at=self.modified, digest=digest)

    async def run(self, job: Job, call: Call) -> Reply:
        return Reply(ListResponse(models=[self.listed(card) for card in await self.cat.list_models(call.settings)]))


@dataclass(frozen=True, kw_only=True)
class ModelJob(Job):
    body: ModelRequest


def _named(raw: bytes) -> ModelJob:
    """A model the pipeline resolves: one the Cat does not have is a 404 before the route runs."""
    body = parse_body(ModelRequest, raw)
    return ModelJob(model=model_of(body.model), body=body)


class OllamaShow(_Models[ModelJob]):
    name = "ollama.show"

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> ModelJob:
        return _named(raw)

    async def run(self, job: ModelJob, call: Call) -> Reply:
        able = ["completion", *(["tools"] if self.cat.supports_client_tools else [])]
        able += ["vision"] if self.cat.supports_images else []
        info = {"general.architecture": "cheshire-cat", "general.basename": job.model}
        return Reply(ShowResponse(modified_at=self.modified, model_info=info, capabilities=able))


async def _one(event: Event) -> AsyncIterator[Event]:
    yield event


class OllamaPull(_Models[ModelJob]):
    """Nothing to download: a model the Cat has is there already (`success`), any other is a 404."""

    name = "ollama.pull"

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> ModelJob:
        return _named(raw)

    async def run(self, job: ModelJob, call: Call) -> Reply:
        done = StatusResponse(status="success")
        if not job.body.stream:
            return Reply(done)
        return Reply(events=_one(Event(line(done), output=True, final=True)), stream_type=NDJSON)


class OllamaVersion(Route[Job]):
    """Public, as Ollama's: clients probe it before they have a key to send."""

    name = "ollama.version"
    access = None
    reads_body = False
    limited = False
    idempotent = False
    dialect = OLLAMA

    async def run(self, job: Job, call: Call) -> Reply:
        return Reply(VersionResponse(version=VERSION))
