"""The seed's simple form on the wire: `{"text", "user_id"}` in, `{"text", "user_id", "timestamp"}` out."""

from __future__ import annotations

from pydantic import Field

from ...turn.wire import RequestModel, WireModel


class SimpleMessageRequest(RequestModel):
    text: str = Field(min_length=1)
    user_id: str | None = None


class SimpleMessageReply(WireModel):
    text: str
    user_id: str
    timestamp: str
