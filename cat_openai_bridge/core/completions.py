"""Chat Completions response bodies: the `chat.completion` object and its chunks.

One `CompletionIds` per request gives every chunk the same `id`, `created`
and `model`, as OpenAI does.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Optional, Sequence

from .tools import ToolCall


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def body(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class CompletionIds:
    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))


def completion(ids: CompletionIds, content: str, finish_reason: str, usage: Optional[Usage],
               tool_calls: Sequence[ToolCall] = (), why: Optional[dict] = None) -> dict:
    message: dict = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message = {"role": "assistant", "content": content or None, "refusal": None,
                   "tool_calls": [call.body() for call in tool_calls]}
    return {
        "id": ids.id,
        "object": "chat.completion",
        "created": ids.created,
        "model": ids.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage.body() if usage else None,
        "system_fingerprint": None,
        **({"cat_why": why} if why is not None else {}),
    }


def why_chunk(ids: CompletionIds, why: dict) -> dict:
    """The Cat's reasons, after the answer: a chunk with no choices, like the usage chunk."""
    return {"id": ids.id, "object": "chat.completion.chunk", "created": ids.created, "model": ids.model,
            "system_fingerprint": None, "choices": [], "cat_why": why}


def chunk(ids: CompletionIds, delta: dict, finish_reason: Optional[str] = None, with_usage_field: bool = False) -> dict:
    body = {
        "id": ids.id,
        "object": "chat.completion.chunk",
        "created": ids.created,
        "model": ids.model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if with_usage_field:
        body["usage"] = None
    return body


def usage_chunk(ids: CompletionIds, usage: Usage) -> dict:
    return {
        "id": ids.id,
        "object": "chat.completion.chunk",
        "created": ids.created,
        "model": ids.model,
        "system_fingerprint": None,
        "choices": [],
        "usage": usage.body(),
    }
