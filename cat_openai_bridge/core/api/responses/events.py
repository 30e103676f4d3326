"""The Responses stream's typed events, as openai-python's `ResponseStreamEvent` union declares them."""

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


class ItemEvent(ResponseEvent):
    item_id: str
    output_index: int


class ArgumentsDeltaEvent(ItemEvent):
    delta: str


class ArgumentsDoneEvent(ItemEvent):
    arguments: str


class CustomInputDoneEvent(ItemEvent):
    input: str


class ContentEvent(ItemEvent):
    content_index: int


class ContentPartEvent(ContentEvent):
    part: ResponseOutputText


class TextDeltaEvent(ContentEvent):
    delta: str
    logprobs: list[Any] = Field(default_factory=list)


class TextDoneEvent(ContentEvent):
    text: str
    logprobs: list[Any] = Field(default_factory=list)
