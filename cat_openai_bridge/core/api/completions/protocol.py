"""Legacy completions on the wire: the request we read and the `text_completion` objects and chunks we send.

Named like openai-python's `openai.types.Completion`, whose model the contract
tests parse every emitted body and chunk with. A streamed chunk has the same
shape as the whole object (as OpenAI sends it), its `finish_reason` null until
the last one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ...turn.wire import WireModel
from ..chat.protocol import CompletionUsage, CreateParamsBase  # openai-python has one usage type for both

Prompt = str | list[str] | list[int] | list[list[int]]  # the embeddings' `input` too


def batch_of(prompt: Prompt) -> list[str | list[int]]:
    """A string or a token array is a batch of one."""
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
