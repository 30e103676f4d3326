"""`POST /v1/embeddings` through the Cat's own embedder (any `model`), so RAG tools get vectors that match it."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...http.parsing import parse_body
from ...http.route import Call, Job, Reply, Route
from ...turn import tokens
from ...turn.answer import Usage
from ...turn.errors import embedder_not_configured, invalid_request, wrong_dimensions
from ...turn.port import Access, CatPort, CatTimeout
from ..completions.protocol import batch_of
from .protocol import CreateEmbeddingResponse, Embedding, EmbeddingRequest, EmbeddingUsage

MAX_INPUTS = 2048


def texts_of(items: list) -> list[str]:
    """The texts of a batch of strings or token arrays (Ollama's /api/embed too), each checked."""
    if not items:
        raise invalid_request("'input' must not be empty.", "input", "empty_array")
    if len(items) > MAX_INPUTS:
        raise invalid_request(f"'input' may hold at most {MAX_INPUTS} items.", "input", "invalid_value")
    texts = []
    for i, item in enumerate(items):
        text = item if isinstance(item, str) else tokens.decode(item)
        if not text:
            param = "input" if len(items) == 1 else f"input.[{i}]"
            raise invalid_request(f"'{param}' must not be empty.", param, "invalid_value")
        texts.append(text)
    return texts


def encode_vector(vector: Sequence[float], fmt: str | None) -> list[float] | str:
    if fmt == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return [float(x) for x in vector]


@dataclass(frozen=True, kw_only=True)
class EmbeddingJob(Job):
    body: EmbeddingRequest
    texts: tuple[str, ...]


class Embeddings(Route[EmbeddingJob]):
    name = "embeddings"
    access = Access.EMBEDDINGS
    idempotent = False

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> EmbeddingJob:
        body = parse_body(EmbeddingRequest, raw)
        return EmbeddingJob(body=body, texts=tuple(texts_of(batch_of(body.input))))

    async def run(self, job: EmbeddingJob, call: Call) -> Reply:
        model, vectors, used = await embed(self.cat, call, job.texts, job.body.dimensions)
        data = [Embedding(index=i, embedding=encode_vector(v, job.body.encoding_format)) for i, v in enumerate(vectors)]
        return Reply(
            CreateEmbeddingResponse(data=data, model=model, usage=EmbeddingUsage(prompt_tokens=used, total_tokens=used))
        )


async def embed(cat: CatPort, call: Call, texts: tuple[str, ...], asked: int | None) -> tuple[str, list, int]:
    """The embedder's name, its vectors and the texts' tokens (reported to the call), within the request timeout."""
    embedder = await cat.embedder()
    if embedder is None:
        raise embedder_not_configured()
    if asked is not None and embedder.size is not None and asked != embedder.size:  # llm sends the size
        raise wrong_dimensions(asked, embedder.size, embedder.name)
    used = await tokens.count_texts_off_loop(list(texts))
    timeout = call.settings.request_timeout
    try:
        model, vectors = await asyncio.wait_for(cat.embed(list(texts)), timeout)
    except asyncio.TimeoutError:
        raise CatTimeout(timeout) from None
    if asked is not None and vectors and len(vectors[0]) != asked:  # a size learnt only now (v2's first call)
        raise wrong_dimensions(asked, len(vectors[0]), model)
    call.report(Usage(used, 0))
    return model, vectors, used
