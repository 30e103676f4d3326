"""Anthropic Messages on the wire: the `message` object, and its stream of events.

The text block opens with the first text, so a turn that only calls tools streams just its `tool_use` blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ...http import sse
from ...http.encoder import Encoder, Event
from ...turn.answer import Answer
from ...turn.conversation import ToolCall
from ...turn.errors import BridgeError
from .dialect import error_body
from .protocol import (
    ContentBlock,
    ContentBlockDeltaEvent,
    ContentBlockEvent,
    ContentBlockStartEvent,
    InputJSONDelta,
    Message,
    MessageDelta,
    MessageDeltaEvent,
    MessageDeltaUsage,
    MessageStartEvent,
    StopReason,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolUseBlock,
    Usage,
)

STOP_REASONS: dict[str, StopReason] = {"length": "max_tokens", "tool_calls": "tool_use", "stop": "end_turn"}


def stop_reason(answer: Answer) -> StopReason:
    return "stop_sequence" if answer.stop_sequence is not None else STOP_REASONS[answer.finish_reason]


def message_of(message_id: str, model: str, answer: Answer) -> Message:
    text: list[ContentBlock] = [TextBlock(text=answer.content)] if answer.content or not answer.tool_calls else []
    return Message(
        id=message_id,
        model=model,
        content=[*text, *(ToolUseBlock(id=c.id, name=c.name, input=c.args()) for c in answer.tool_calls)],
        stop_reason=stop_reason(answer),
        stop_sequence=answer.stop_sequence,
        usage=Usage(input_tokens=answer.usage.prompt_tokens, output_tokens=answer.usage.completion_tokens),
    )


class MessageEncoder(Encoder):
    """`message_start` can only estimate the prompt (the Cat adds its own); `message_delta` carries the whole."""

    ping = sse.event(StreamEvent(type="ping"), "ping")

    def __init__(self, message_id: str, model: str, input_estimate: int) -> None:
        self.message_id = message_id
        self.model = model
        self.input_estimate = input_estimate
        self.index = 0
        self.text_open = False

    def event(self, kind: type[StreamEvent], name: str, output: bool = False, **fields: Any) -> Event:
        return Event(sse.event(kind(type=name, **fields), name), output)

    def start(self) -> Iterable[Event]:
        started = Message(
            id=self.message_id,
            model=self.model,
            content=[],
            stop_reason=None,
            stop_sequence=None,
            usage=Usage(input_tokens=self.input_estimate, output_tokens=0),
        )
        yield self.event(MessageStartEvent, "message_start", message=started)

    def _open(self, block: ContentBlock) -> Event:
        return self.event(ContentBlockStartEvent, "content_block_start", index=self.index, content_block=block)

    def _open_text(self) -> Iterator[Event]:
        if not self.text_open:
            self.text_open = True
            yield self._open(TextBlock(text=""))

    def _delta(self, delta: TextDelta | InputJSONDelta) -> Event:
        return self.event(ContentBlockDeltaEvent, "content_block_delta", True, index=self.index, delta=delta)

    def _close(self) -> Event:
        event = self.event(ContentBlockEvent, "content_block_stop", index=self.index)
        self.index += 1
        return event

    def text(self, delta: str) -> Iterable[Event]:
        yield from self._open_text()
        yield self._delta(TextDelta(text=delta))

    def close_text(self, answer: Answer) -> Iterable[Event]:
        if not answer.tool_calls:
            yield from self._open_text()  # an answer is never without a content block
        if self.text_open:
            yield self._close()

    def tool_call(self, index: int, call: ToolCall) -> Iterable[Event]:
        yield self._open(ToolUseBlock(id=call.id, name=call.name, input={}))
        yield self._delta(InputJSONDelta(partial_json=call.arguments))
        yield self._close()

    def finish(self, answer: Answer) -> Iterable[Event]:
        usage = MessageDeltaUsage(output_tokens=answer.usage.completion_tokens, input_tokens=answer.usage.prompt_tokens)
        delta = MessageDelta(stop_reason=stop_reason(answer), stop_sequence=answer.stop_sequence)
        yield self.event(MessageDeltaEvent, "message_delta", delta=delta, usage=usage)
        yield self.event(StreamEvent, "message_stop")

    def failed(self, error: BridgeError) -> Event:
        return Event(sse.event(error_body(error), "error"))  # never a `message_stop` after it
