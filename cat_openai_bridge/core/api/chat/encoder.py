"""Chat Completions on the wire: the `chat.completion` object, and its stream of chunks.

A failed stream ends with an error event and no `finish_reason`, so no client takes half an answer for a whole one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ...http import sse
from ...http.encoder import Encoder, Event
from ...turn.answer import Answer, Usage
from ...turn.conversation import ToolCall
from ...turn.errors import BridgeError
from ...turn.wire import WireModel
from .protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageToolCall,
    Choice,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
    ChunkChoice,
    CompletionUsage,
    Function,
)

W = TypeVar("W", bound=WireModel)


def completion_usage(usage: Usage) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens, total_tokens=usage.total_tokens
    )


@dataclass(frozen=True)
class CompletionIds:
    """One per request: every chunk shares `id`, `created` and `model`, as OpenAI's do (`prefix`: the object's)."""

    model: str
    prefix: str = "chatcmpl"
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", f"{self.prefix}-{uuid.uuid4().hex}")

    def stamp(self, kind: type[W], **fields: Any) -> W:
        return kind(id=self.id, created=self.created, model=self.model, system_fingerprint=None, **fields)


def completion(ids: CompletionIds, answer: Answer) -> ChatCompletion:
    calls = [
        ChatCompletionMessageToolCall(id=c.id, function=Function(name=c.name, arguments=c.arguments))
        for c in answer.tool_calls
    ]
    # A message that only calls tools has `content: null`; `tool_calls` is sent only when there are some.
    content, with_calls = (answer.content or None, {"tool_calls": calls}) if calls else (answer.content, {})
    message = ChatCompletionMessage(content=content, refusal=None, **with_calls)
    extra = {"cat_why": answer.why} if answer.why is not None else {}
    choice = Choice(message=message, logprobs=None, finish_reason=answer.finish_reason)
    return ids.stamp(ChatCompletion, usage=completion_usage(answer.usage), choices=[choice], **extra)


class ChunkEncoder(Encoder):
    """A chat stream's chunks; legacy completions' (completions/encoder.py) differ in their choices only."""

    kind: type[WireModel] = ChatCompletionChunk
    closing: Any = ChoiceDelta()  # the finish chunk's delta: empty

    def __init__(self, ids: CompletionIds, include_usage: bool, why: bool = False) -> None:
        self.ids = ids
        self.include_usage = include_usage
        self.why = why
        self.waits_for_usage = include_usage or why

    def choice(self, delta: Any, finish_reason: str | None) -> WireModel:
        return ChunkChoice(delta=delta, logprobs=None, finish_reason=finish_reason)

    def chunk(self, delta: Any, finish_reason: str | None = None, **extra: object) -> WireModel:
        """A chunk; with `include_usage`, every chunk with a choice says `"usage": null`, as OpenAI's do."""
        choices = [] if delta is None else [self.choice(delta, finish_reason)]
        if self.include_usage and delta is not None:
            extra["usage"] = None
        return self.ids.stamp(self.kind, choices=choices, **extra)

    def event(self, delta: Any, finish_reason: str | None = None, output: bool = False, **extra: object) -> Event:
        return Event(sse.event(self.chunk(delta, finish_reason, **extra)), output)

    def start(self) -> Iterable[Event]:
        yield self.event(ChoiceDelta(role="assistant", content="", refusal=None))

    def text(self, delta: str) -> Iterable[Event]:
        yield self.event(ChoiceDelta(content=delta), output=True)

    def tool_call(self, index: int, call: ToolCall) -> Iterable[Event]:
        """OpenAI streams a call as its header (id, name) then its arguments; the Cat gives them whole."""
        head = ChoiceDeltaToolCall(
            index=index, id=call.id, type="function", function=ChoiceDeltaToolCallFunction(name=call.name, arguments="")
        )
        body = ChoiceDeltaToolCall(index=index, function=ChoiceDeltaToolCallFunction(arguments=call.arguments))
        yield self.event(ChoiceDelta(tool_calls=[head]), output=True)
        yield self.event(ChoiceDelta(tool_calls=[body]), output=True)

    def finish(self, answer: Answer) -> Iterable[Event]:
        yield self.event(self.closing, answer.finish_reason)
        if self.include_usage:
            yield self.event(None, usage=completion_usage(answer.usage))
        if self.why and answer.why is not None:
            yield self.event(None, cat_why=answer.why)
        yield Event(sse.DONE)

    def failed(self, error: BridgeError) -> Event:
        return Event(sse.event(error.wire()))
