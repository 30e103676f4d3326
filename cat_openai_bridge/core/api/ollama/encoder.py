"""Ollama's answers: one JSON object per line (NDJSON), the last one `done` with its reason and counts.

A tool call's `arguments` is a JSON object, never OpenAI's JSON text: the `ollama` client's types refuse a string
(and Home Assistant answers 500). NDJSON has no comment line, so a heartbeat is an empty piece of the answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timezone

from ...http.encoder import Encoder, Event
from ...turn.answer import Answer
from ...turn.conversation import ToolCall
from ...turn.errors import BridgeError
from ...turn.wire import WireModel
from .protocol import (
    AnswerLine,
    ChatResponse,
    ErrorResponse,
    GenerateResponse,
    MessageOut,
    ToolCallFunctionOut,
    ToolCallOut,
)

NDJSON = "application/x-ndjson"


def timestamp() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def line(body: WireModel) -> bytes:
    return body.wire() + b"\n"


def tool_call(call: ToolCall) -> ToolCallOut:
    return ToolCallOut(function=ToolCallFunctionOut(name=call.name, arguments=call.args()))


class LineEncoder(Encoder):
    """`/api/chat`'s lines carry a `message`, `/api/generate`'s a `response`; both end alike."""

    media_type = NDJSON

    def __init__(self, model: str, chat: bool, started: float) -> None:
        self.model = model
        self.chat = chat
        self.started = started  # time.perf_counter() when the request came in

    def piece(self, text: str, calls: Iterable[ToolCall] = (), **end: object) -> AnswerLine:
        head = {"model": self.model, "created_at": timestamp(), "done": bool(end), **end}
        if not self.chat:
            return GenerateResponse(response=text, **head)  # type: ignore[arg-type]
        out = [tool_call(c) for c in calls]
        message = MessageOut(content=text, **({"tool_calls": out} if out else {}))
        return ChatResponse(message=message, **head)  # type: ignore[arg-type]

    def ending(self, answer: Answer) -> dict[str, object]:
        """The answer's reason and counts; Ollama's durations are in nanoseconds (the Cat's are one span)."""
        spent = int((time.perf_counter() - self.started) * 1e9)
        return {
            "done_reason": "length" if answer.finish_reason == "length" else "stop",
            "total_duration": spent,
            "prompt_eval_count": answer.usage.prompt_tokens,
            "eval_count": answer.usage.completion_tokens,
            "eval_duration": spent,
        }

    def whole(self, answer: Answer) -> AnswerLine:
        return self.piece(answer.content, answer.tool_calls, **self.ending(answer))

    def text(self, delta: str) -> Iterable[Event]:
        yield Event(line(self.piece(delta)), output=True)

    def heartbeat(self) -> Iterable[Event]:
        yield Event(line(self.piece("")))

    def tool_call(self, index: int, call: ToolCall) -> Iterable[Event]:
        if self.chat:
            yield Event(line(self.piece("", [call])), output=True)

    def finish(self, answer: Answer) -> Iterable[Event]:
        yield Event(line(self.piece("", **self.ending(answer))))

    def failed(self, error: BridgeError) -> Event:
        return Event(line(ErrorResponse(error=error.message)))
