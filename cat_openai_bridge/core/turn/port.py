"""What the core needs from a Cat, whatever its version: a turn is a stream of `TextDelta`s ending with one
`TurnResult`; failures are the exceptions below, never HTTP (turn/errors.py decides what the client sees)."""

from __future__ import annotations

import enum
import threading
from collections.abc import AsyncIterator
from dataclasses import KW_ONLY, dataclass, field
from typing import Protocol

from starlette.requests import Request

from ..config.settings import BridgeSettings
from .conversation import ClientTool, Conversation, ToolCall


class CatFailure(Exception):
    """The message is the bridge's words, fit for any caller; `detail` is what the Cat or its provider said (URLs,
    request bodies, sometimes keys), which only the Cat's admins and its log see."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class UnknownTool(CatFailure):
    """The Cat's model called a tool the turn does not have (small models do): the core re-asks once."""

    def __init__(self, name: str, offered: tuple[str, ...], detail: str = "") -> None:
        super().__init__(f"the Cat's model called the tool '{name}', which this turn does not offer", detail)
        self.name = name
        self.offered = offered  # every tool the model could have called (the Cat's and the client's)

    @property
    def problem(self) -> str:
        names = ", ".join(f"`{n}`" for n in self.offered)
        return f"there is no tool `{self.name}`; " + (f"the tools you can call are {names}" if names else "call none")


class CatTimeout(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds:g} s")
        self.seconds = seconds


class Forbidden(Exception):
    """The caller's Cat permissions do not cover the route; the message names what is missing."""


class Unsupported(Exception):
    """This Cat version cannot do what the route asks."""


class Access(enum.Enum):
    MODELS = "models"  # list the Cat's models (v1: LLM READ)
    CHAT = "chat"  # run a conversation turn (v1: CONVERSATION WRITE)
    EMBEDDINGS = "embeddings"  # use the Cat's embedder (v1: EMBEDDER READ)
    METRICS = "metrics"  # read the bridge's metrics (v1: STATUS READ; then the Cat's admins only)


@dataclass(frozen=True)
class Identity:
    """Taken from the credential, never from the body."""

    user_id: str
    name: str
    is_admin: bool = False
    master_key: bool = False
    delegated: bool = False  # a master-key caller acting for one of its own users


@dataclass(frozen=True)
class EmbedderInfo:
    name: str
    size: int | None = None  # vector length: v1 knows it from its memory, v2 learns it from its first vectors


@dataclass(frozen=True)
class ModelCard:
    id: str
    owned_by: str
    description: str = ""


@dataclass(frozen=True)
class CatTurn:
    conversation: Conversation
    target: str  # the adapter's own name for the model (v2: an agent slug)
    stream: bool
    system_policy: str
    identity: Identity
    _: KW_ONLY
    # A front end's housekeeping prompt (title, tags): the Cat's LLM answers it without the agent or its memory.
    plain: bool = False
    tools: tuple[ClientTool, ...] = ()  # the client's functions, offered to the Cat's model for this turn
    conversation_key: str = ""  # the client chat this turn belongs to, scoped to its user (turn/chat_keys.py)
    why: bool = False  # the client asked for the Cat's reasons (an admin-only extension)
    # The form the answer must take: the bridge's instruction, sent whatever the system_message_policy.
    instructions: str = ""
    # Set once the answer is cut: a Cat that `stops_turns` abandons its LLM call and reports what it used so far.
    stop: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class TurnResult:
    text: str  # the final answer; for a turn stopped early, all the text its LLM produced until then
    prompt_tokens: int  # every prompt the Cat sent its LLM during the turn
    extra_completion_tokens: int = 0  # LLM output that is not the final answer (tool calls)
    tool_calls: tuple[ToolCall, ...] = ()  # the model called client tools: the turn pauses for their results
    why: dict | None = None  # the Cat's reasons, when the turn asked for them


TurnEvent = TextDelta | TurnResult


class CatPort(Protocol):
    name: str  # adapter name, e.g. "v2"
    supports_images: bool
    supports_client_tools: bool
    stops_turns: bool  # honours `CatTurn.stop` (v2); otherwise a turn always runs to its end (v1)

    def cat_version(self) -> str: ...

    async def identify(self, request: Request, access: Access) -> Identity | None:
        """None for missing or bad credentials; raises Forbidden for a user lacking `access`."""

    def act_as(self, caller: Identity, label: str) -> Identity:
        """The Cat user a master-key caller's `label` names (only ever called for master-key callers)."""

    async def load_settings(self) -> BridgeSettings: ...

    async def llm_configured(self) -> bool: ...

    async def list_models(self, settings: BridgeSettings) -> list[ModelCard]: ...

    async def resolve_model(self, model: str, settings: BridgeSettings) -> str | None: ...

    def run(self, turn: CatTurn) -> AsyncIterator[TurnEvent]: ...

    async def embedder(self) -> EmbedderInfo | None: ...

    async def embed(self, texts: list[str]) -> tuple[str, list[list[float]]]: ...

    def log(self, level: str, message: str) -> None: ...
