"""Legacy completions on the wire: the request we read and the `text_completion` objects and chunks we send.

Named like openai-python's `openai.types.Completion`, whose model the contract
tests parse every emitted body and chunk with. A streamed chunk has the same
shape as the whole object (as OpenAI sends it), its `finish_reason` null until
the last one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ...turn.wire import RequestModel, WireModel
from ..chat.protocol import CompletionUsage, StreamOptions  # openai-python has one type for both

Prompt = str | list[str] | list[int] | list[list[int]]


class CompletionRequest(RequestModel):
    model: str = Field(min_length=1)
    prompt: Prompt
    max_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    suffix: str | None = None
    echo: bool | None = None
    logprobs: int | None = Field(None, ge=0, le=5)
    n: int | None = Field(None, ge=1, le=128)
    best_of: int | None = Field(None, ge=0, le=20)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    seed: int | None = None
    logit_bias: dict[str, Any] | None = None
    user: str | None = None

    def stop_sequences(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


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
