"""The Responses stream's typed events, as openai-python's `ResponseStreamEvent` union declares them.

Each carries `type` and `sequence_number`, and leaves with an `event:` line.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ...turn.wire import WireModel
from .protocol import OutputItem, Response, ResponseOutputText


class ResponseEvent(WireModel):
    type: str
    sequence_number: int


class ResponseLifecycleEvent(ResponseEvent):
    response: Response


class OutputItemEvent(ResponseEvent):
    output_index: int
    item: OutputItem


class ContentPartEvent(ResponseEvent):
    item_id: str
    output_index: int
    content_index: int
    part: ResponseOutputText


class TextDeltaEvent(ResponseEvent):
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[Any] = Field(default_factory=list)


class TextDoneEvent(ResponseEvent):
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[Any] = Field(default_factory=list)


class ArgumentsDeltaEvent(ResponseEvent):
    item_id: str
    output_index: int
    delta: str


class ArgumentsDoneEvent(ResponseEvent):
    item_id: str
    output_index: int
    arguments: str
