"""Legacy completions on the wire, named like `openai.types.Completion`; a chunk is shaped like the whole object."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ...turn.wire import WireModel
from ..chat.protocol import CompletionUsage, CreateParamsBase  # openai-python has one usage type for both

Prompt = str | list[str] | list[int] | list[list[int]]  # the embeddings' `input` too


def batch_of(prompt: Prompt) -> list[str | list[int]]:
    return [prompt] if isinstance(prompt, str) or (prompt and isinstance(prompt[0], int)) else list(prompt)


class CompletionRequest(CreateParamsBase):
    prompt: Prompt
    suffix: str | None = None
    echo: bool | None = None
    logprobs: int | None = Field(None, ge=0, le=5)
    best_of: int | None = Field(None, ge=0, le=20)
    logit_bias: dict[str, Any] | None = None


class CompletionChoice(WireModel):
    text: str
    index: int = 0
    logprobs: None
    finish_reason: Literal["stop", "length"] | None


class Completion(WireModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    system_fingerprint: str | None
    usage: CompletionUsage | None = None  # always in an object; in a stream only when asked (null until the end)
