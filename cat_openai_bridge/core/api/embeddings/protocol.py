"""Embeddings on the wire: the request we read and the `list` of `embedding` objects we send."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ...turn.wire import RequestModel, WireModel
from ..completions.protocol import Prompt


class EmbeddingRequest(RequestModel):
    model: str = Field(min_length=1)
    input: Prompt  # a string, a token array, or a batch of them
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None


class Embedding(WireModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str  # a base64 string of little-endian float32 when asked for


class EmbeddingUsage(WireModel):
    prompt_tokens: int
    total_tokens: int


class CreateEmbeddingResponse(WireModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
