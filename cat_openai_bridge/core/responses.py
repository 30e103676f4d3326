"""The OpenAI Responses API (`POST /v1/responses`) on the same Cat turn as Chat Completions.

The request's `input` and `instructions` become the same neutral conversation;
the answer comes from the same `answer_stream`, encoded as a `response`
object or as its typed stream events; function calls become `function_call`
items (see responses_tools.py). Nothing is stored server-side, so
`previous_response_id` is refused rather than silently ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Union

from pydantic import Field

from . import sse
from .chat import HEARTBEAT, Ending, Plan, answer_stream
from .completions import Usage
from .errors import BridgeError, invalid_request, server_error, upstream_failed, upstream_timeout
from .port import CatFailure, CatPort, CatTurn
from .requests import ChatMessage, _Body
from .responses_tools import add_item, call_item, declared
from .tools import ClientTool, ToolCall

_PART_TYPES = {"input_text": "text", "output_text": "text", "text": "text", "input_image": "image_url"}


class ResponsesRequest(_Body):
    model: str = Field(min_length=1)
    input: Union[str, List[Dict[str, Any]]]
    instructions: Optional[str] = None
    stream: Optional[bool] = None
    max_output_tokens: Optional[int] = Field(None, ge=1)
    temperature: Optional[float] = Field(None, ge=0, le=2)
    top_p: Optional[float] = Field(None, ge=0, le=1)
    user: Optional[str] = None
    metadata: Optional[Dict[str, str]] = None
    previous_response_id: Optional[str] = None
    store: Optional[bool] = None
    tools: Optional[List[Dict[str, Any]]] = None
    tool_choice: Optional[Union[str, Dict[str, Any]]] = None
    text: Optional[Dict[str, Any]] = None


def _content(content: Any, where: str) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid_request(f"Invalid type for '{where}': expected a string or an array of content parts.",
                              where, "invalid_type")
    parts = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in _PART_TYPES:
            raise invalid_request(
                f"Invalid value for '{where}.[{i}].type': expected 'input_text' or 'input_image', got {kind!r}.",
                f"{where}.[{i}].type", "invalid_value",
            )
        if _PART_TYPES[kind] == "text":
            parts.append({"type": "text", "text": part.get("text")})
        else:
            parts.append({"type": "image_url", "image_url": {"url": part.get("image_url")}})
    return parts


def messages_of(body: ResponsesRequest) -> List[ChatMessage]:
    """`instructions` + `input` as chat messages, validated with the fields OpenAI would name."""
    if body.previous_response_id is not None:
        raise invalid_request(
            "previous_response_id is not supported: this bridge stores no responses. Send the conversation in 'input'.",
            "previous_response_id", "unsupported_parameter",
        )
    fmt = ((body.text or {}).get("format") or {}).get("type", "text")
    if fmt != "text":
        raise invalid_request(f"text.format '{fmt}' is not supported; only 'text' is.", "text.format.type",
                              "unsupported_value")
    messages = [ChatMessage(role="system", content=body.instructions)] if body.instructions else []
    if isinstance(body.input, str):
        if not body.input:
            raise invalid_request("'input' must not be empty.", "input", "invalid_value")
        return messages + [ChatMessage(role="user", content=body.input)]
    if not body.input:
        raise invalid_request("'input' must not be empty.", "input", "empty_array")
    for i, item in enumerate(body.input):
        where = f"input.[{i}]"
        if item.get("type") in ("function_call", "function_call_output"):
            add_item(messages, item, where)
            continue
        if item.get("type", "message") != "message":
            raise invalid_request(f"Input items of type {item.get('type')!r} are not supported.",
                                  f"{where}.type", "unsupported_value")
        role = item.get("role")
        if not isinstance(role, str):
            raise invalid_request(f"Missing required parameter: '{where}.role'.", f"{where}.role",
                                  "missing_required_parameter")
        messages.append(ChatMessage(role=role, content=_content(item.get("content"), f"{where}.content")))
    return messages


@dataclass
class ResponseIds:
    model: str
    id: str = field(default_factory=lambda: f"resp_{uuid.uuid4().hex}")
    message_id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex}")
    call_base: str = field(default_factory=lambda: uuid.uuid4().hex)

    def call_item_id(self, index: int) -> str:
        return f"fc_{self.call_base}_{index}"
    created_at: int = field(default_factory=lambda: int(time.time()))


def _usage(usage: Usage) -> dict:
    return {"input_tokens": usage.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": usage.completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage.total_tokens}


def _text_part(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message(ids: ResponseIds, text: Optional[str], status: str) -> dict:
    content = [] if text is None else [_text_part(text)]
    return {"type": "message", "id": ids.message_id, "status": status, "role": "assistant", "content": content}


def _output(ids: ResponseIds, text: Optional[str], status: str, calls: Sequence[ToolCall]) -> List[dict]:
    """The message (left out when the model only called tools), then one `function_call` item per call."""
    message = [] if text is None or (calls and not text) else [_message(ids, text, status)]
    return message + [call_item(c, ids.call_item_id(i)) for i, c in enumerate(calls)]


def response_object(ids: ResponseIds, body: ResponsesRequest, status: str, text: Optional[str] = None,
                    usage: Optional[Usage] = None, finish_reason: str = "stop",
                    error: Optional[BridgeError] = None, calls: Sequence[ToolCall] = (),
                    tools: Sequence[ClientTool] = ()) -> dict:
    incomplete = status == "completed" and finish_reason == "length"
    return {
        "id": ids.id,
        "object": "response",
        "created_at": ids.created_at,
        "status": "incomplete" if incomplete else status,
        "error": _error(error) if error else None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": body.instructions,
        "max_output_tokens": body.max_output_tokens,
        "model": ids.model,
        "output": _output(ids, text, "incomplete" if incomplete else "completed", calls),
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": body.temperature,
        "text": {"format": {"type": "text"}},
        "tool_choice": body.tool_choice if isinstance(body.tool_choice, str) else "auto",
        "tools": declared(list(tools)),
        "top_p": body.top_p,
        "truncation": "disabled",
        "usage": _usage(usage) if usage else None,
        "user": body.user,
        "metadata": body.metadata or {},
    }


# The codes a Response's `error.code` may take (openai-python's ResponseError): typed
# clients parse that enum, so a Cat failure or timeout is a `server_error` whose message says which.
_RESPONSE_ERROR_CODES = {"server_error", "rate_limit_exceeded", "invalid_prompt"}


def _error(error: BridgeError) -> dict:
    code = error.code if error.code in _RESPONSE_ERROR_CODES else "server_error"
    return {"code": code, "message": error.message, "param": error.param, "type": error.type}


def _event(kind: str, sequence: int, **fields: Any) -> bytes:
    payload = {"type": kind, "sequence_number": sequence, **fields}
    return f"event: {kind}\n".encode() + sse.event(payload)


def _failure(exc: Exception, p: Plan, log: Callable[[str, str], None]) -> BridgeError:
    if isinstance(exc, asyncio.TimeoutError):
        return upstream_timeout(p.timeout)
    if isinstance(exc, CatFailure):
        return upstream_failed(str(exc))
    if isinstance(exc, BridgeError):
        return exc
    log("error", f"responses stream failed: {exc!r}")
    return server_error()


async def stream(cat: CatPort, turn: CatTurn, p: Plan, ids: ResponseIds, body: ResponsesRequest,
                 log: Callable[[str, str], None], on_usage: Callable[[Usage], None]) -> AsyncIterator[bytes]:
    """The typed events of a Responses stream, in OpenAI's order; a failure ends it with `response.failed`.

    The message item opens with the first text, so a turn that only calls tools
    streams just its `function_call` items, as OpenAI does.
    """
    counter = iter(range(1_000_000))
    tools = turn.tools
    yield _event("response.created", next(counter), response=response_object(ids, body, "in_progress", tools=tools))
    yield _event("response.in_progress", next(counter), response=response_object(ids, body, "in_progress", tools=tools))
    where = {"item_id": ids.message_id, "output_index": 0, "content_index": 0}
    text: List[str] = []
    opened = False

    def open_message() -> List[bytes]:
        return [_event("response.output_item.added", next(counter), output_index=0,
                       item=_message(ids, None, "in_progress")),
                _event("response.content_part.added", next(counter), **where, part=_text_part(""))]

    try:
        async with contextlib.aclosing(answer_stream(cat, turn, p, log)) as items:
            async for item in items:
                if item is HEARTBEAT:
                    yield sse.PING
                elif isinstance(item, str):
                    if not opened:
                        opened = True
                        for event in open_message():
                            yield event
                    text.append(item)
                    yield _event("response.output_text.delta", next(counter), **where, delta=item, logprobs=[])
                elif isinstance(item, Ending):
                    ending = item
    except Exception as exc:  # after the headers, a failure is an event, never a trace
        error = _failure(exc, p, log)
        failed = response_object(ids, body, "failed", error=error, tools=tools)
        yield _event("response.failed", next(counter), response=failed)
        return
    full = "".join(text)
    on_usage(ending.usage)
    final = response_object(ids, body, "completed", full, ending.usage, ending.finish_reason, calls=ending.tool_calls,
                            tools=tools)
    if not opened and not ending.tool_calls:
        opened = True
        for event in open_message():
            yield event
    if opened:
        yield _event("response.output_text.done", next(counter), **where, text=full, logprobs=[])
        yield _event("response.content_part.done", next(counter), **where, part=_text_part(full))
        yield _event("response.output_item.done", next(counter), output_index=0, item=final["output"][0])
    first = 1 if opened else 0
    for i, call in enumerate(ending.tool_calls):  # the Cat hands calls over whole: one delta each
        index, item_id = first + i, ids.call_item_id(i)
        yield _event("response.output_item.added", next(counter), output_index=index,
                     item=call_item(call, item_id, arguments="", status="in_progress"))
        yield _event("response.function_call_arguments.delta", next(counter), item_id=item_id, output_index=index,
                     delta=call.arguments)
        yield _event("response.function_call_arguments.done", next(counter), item_id=item_id, output_index=index,
                     arguments=call.arguments)
        yield _event("response.output_item.done", next(counter), output_index=index, item=call_item(call, item_id))
    # A cut answer ends as OpenAI ends it: `response.incomplete`, not `response.completed`.
    terminal = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    yield _event(terminal, next(counter), response=final)


# The last event of a stream that ended well (what an Idempotency-Key may replay).
FINISHED = (b"event: response.completed\n", b"event: response.incomplete\n")

