"""The neutral conversation every protocol's request becomes, and what the Cat's model may call."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    mime: str
    data: str  # base64, validated


Part = TextPart | ImagePart


@dataclass(frozen=True)
class ClientTool:
    name: str  # as the Cat's agent sees it: a Responses namespace's tools as `<namespace>__<name>`
    description: str
    parameters: dict[str, Any]
    namespace: str | None = None  # Responses: the namespace it was declared in
    custom: bool = False  # Responses: a custom tool, its free text input under `input`

    @property
    def own_name(self) -> str:
        return self.name.removeprefix(f"{self.namespace}__") if self.namespace else self.name


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as OpenAI sends it

    def args(self) -> dict[str, Any]:
        """For Cats that want an object (unparseable text is kept under `_raw`)."""
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return {"_raw": self.arguments}
        return value if isinstance(value, dict) else {"_value": value}


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant", "tool"]
    parts: list[Part]
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant turn that called client tools
    tool_call_id: str | None = None  # a tool turn: the result of that call

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass(frozen=True)
class Conversation:
    system: str
    turns: list[Turn] = field(default_factory=list)

    @property
    def last_user_text(self) -> str:
        return next((t.text for t in reversed(self.turns) if t.role == "user"), "")

    def pairs(self) -> list[tuple[str, str]]:
        head = [("system", self.system)] if self.system else []
        return head + [(t.role, t.text) for t in self.turns]
