"""The bridge's settings, as the Cat's admin shows and validates them (the same model on every Cat version)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError  # its errors serialize; a ValueError's make the Cat answer 500

from . import task_prompts
from .redis_url import RedisAddress

SystemMessagePolicy = Literal["append", "replace", "ignore"]
FailureMode = Literal["open", "closed"]
TaskPromptMode = Literal["llm", "agent"]
HistoryMode = Literal["request", "server"]
OverCeiling = Literal["clamp", "refuse"]
ReplayBytes = Annotated[int, Field(ge=64 * 1024, le=4 * 1024**3)]  # the replays' byte budgets
HeaderName = Annotated[str, Field(max_length=128, pattern=r"^[A-Za-z0-9-]*$")]  # empty, or an HTTP header's name


class BridgeSettings(BaseModel):
    model_config = ConfigDict(protected_namespaces=())  # `model_alias` is ours, not pydantic's
    rate_limit_per_minute: int = Field(
        60, ge=0, le=1000, description="Requests per minute per Cat user (0 = no limit)."
    )
    max_tokens: int = Field(
        4000,
        ge=0,
        le=32000,
        description="Ceiling on the completion tokens a request may ask for, and the cut when it asks none "
        "(0 = unlimited).",
    )
    max_tokens_over_ceiling: OverCeiling = Field(
        "clamp",
        description="A request asking more than max_tokens: 'clamp' cuts its answer at the ceiling (finish reason "
        "length, header x-openai-bridge-max-tokens), 'refuse' answers 400.",
    )
    enable_streaming: bool = Field(True, description="Allow `stream: true` requests.")
    debug_mode: bool = Field(False, description="Log a summary of every request and response.")
    request_timeout: float = Field(
        300.0, ge=1.0, le=3600.0, description="Seconds the Cat may take for one answer before a 504."
    )
    system_message_policy: SystemMessagePolicy = Field(
        "append",
        description="What `system`/`developer` messages do to the agent's prompt: append to it, replace it, "
        "or are ignored.",
    )
    max_request_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="Largest request body accepted (bytes); larger gets a 413.",
    )
    body_read_timeout: float = Field(
        60.0,
        ge=1.0,
        le=3600.0,
        description="Seconds a client may take to send a request's body; slower gets a 408 and the connection is "
        "closed.",
    )
    max_messages: int = Field(1000, ge=1, le=100000, description="Most entries a request's `messages` may have.")
    max_content_parts: int = Field(
        1000,
        ge=1,
        le=100000,
        description="Most content parts one request may send the Cat, its stored conversation included: each text "
        "(adjacent texts merged into one), image, tool call and tool result. The Cat's LLM client walks each on its "
        "event loop.",
    )
    model_alias: str = Field(
        "cheshire-cat",
        min_length=1,
        max_length=64,
        description="Model id that names the Cat's default agent.",
    )
    tokens_per_minute: int = Field(
        0, ge=0, le=100_000_000, description="Tokens (prompt + completion) per minute per Cat user (0 = no limit)."
    )
    max_concurrent_requests: int = Field(
        0, ge=0, le=1000, description="Requests one Cat user may have in flight at once (0 = no limit)."
    )
    redis_url: str = Field(
        "",
        max_length=2048,
        description="redis:// or rediss:// URL: hold the limits, Idempotency-Key answers and stored responses in "
        "Redis, shared by every replica (empty = in-process).",
    )
    redis_failure_mode: FailureMode = Field(
        "open",
        description="When Redis is unreachable: 'open' lets requests through without limits or replay protection "
        "(logged), 'closed' answers 503.",
    )
    trust_user_field: bool = Field(
        False,
        description="With the Cat's master API key, let the body's `user` (or `user_id`) pick the Cat user the "
        "turn runs as.",
    )
    user_header: HeaderName = Field(
        "",
        description="With the Cat's master API key, a request header naming the Cat user the turn runs as, e.g. "
        "X-OpenWebUI-User-Id (empty = off).",
    )
    chat_id_header: HeaderName = Field(
        "X-OpenWebUI-Chat-Id",
        description="Request header naming the client chat, so each chat keeps its own Cat conversation "
        "(then `metadata.chat_id`; otherwise derived from the chat's first messages).",
    )
    metrics_token: str = Field(
        "",
        max_length=256,
        description="A bearer token that may read GET /custom/metrics besides the Cat's admins, for Prometheus "
        "(empty = admins only).",
    )
    idempotency_window_seconds: int = Field(
        600, ge=0, le=86400, description="How long an Idempotency-Key replays its first answer (0 = keys ignored)."
    )
    idempotency_store_bytes: ReplayBytes = Field(
        64 * 1024 * 1024,
        description="Bytes of answers kept for Idempotency-Key replays, all users together; the oldest go first.",
    )
    idempotency_identity_bytes: ReplayBytes = Field(
        8 * 1024 * 1024,
        description="Bytes of answers kept for Idempotency-Key replays per Cat user; their oldest go first.",
    )
    idempotency_answer_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        le=1024**3,
        description="Largest answer (a whole stream, as sent) kept for a replay; a larger one's key is not "
        "replayable (the response says `Idempotency-Replayable: false` when that is known up front).",
    )
    responses_store_seconds: int = Field(
        86400,
        ge=0,
        le=30 * 86400,
        description="How long a stored Responses answer (`store`, the default) can be read back and continued with "
        "`previous_response_id` (0 = nothing is stored). In process, or in Redis when redis_url is set.",
    )
    responses_store_bytes: int = Field(
        64 * 1024 * 1024, ge=0, description="Bytes of stored responses kept in process, all users together."
    )
    responses_store_identity_bytes: int = Field(
        16 * 1024 * 1024, ge=0, description="Bytes of stored responses kept per user (the oldest go first)."
    )
    responses_store_response_bytes: int = Field(
        4 * 1024 * 1024, ge=0, description="A stored response larger than this (with its conversation) is not kept."
    )
    responses_context_tokens: int = Field(
        128_000,
        ge=1000,
        le=10_000_000,
        description="Most prompt tokens a Responses request continuing a stored response (previous_response_id) may "
        "send: the stored conversation and the new input (a 400 context_length_exceeded past it).",
    )
    task_prompt_patterns: list[str] = Field(
        list(task_prompts.DEFAULT_PATTERNS),
        max_length=50,
        description="Regular expressions matched at the start of the last user message (its first "
        f"{task_prompts.WINDOW} characters) that mark a front end's housekeeping prompt: Open WebUI's title, tags, "
        "follow-ups, queries, autocomplete, emoji, image prompt and MoA, LibreChat's titles. All of them share "
        f"{task_prompts.SECONDS * 1000:g} ms per message: a message they cannot match in that time is not one.",
    )
    task_prompt_mode: TaskPromptMode = Field(
        "llm",
        description="'llm': answer housekeeping prompts with the Cat's own LLM, outside the agent, leaving no trace in "
        "its memory; 'agent': treat them like any message.",
    )
    stream_send_timeout: float = Field(
        30.0,
        ge=1.0,
        le=600.0,
        description="Seconds a stream may wait for a client that reads nothing (its buffers full) before it is "
        "ended and its work released.",
    )
    stream_heartbeat_seconds: float = Field(
        0.0,
        ge=0.0,
        le=300.0,
        description="Send an SSE comment (': ping') when a stream has been silent this long, for proxies that drop "
        "idle connections (0 = off; some clients treat comments as the end of a stream).",
    )
    v1_history: HistoryMode = Field(
        "request",
        description="Cat v1 only. 'request': the request's messages are the conversation (OpenAI semantics; the "
        "user's stored history is left alone); 'server': only the last message is sent and the Cat's own "
        "per-user history is used and updated.",
    )

    @field_validator("task_prompt_patterns")
    @classmethod
    def _patterns_safe(cls, value: list[str]) -> list[str]:
        task_prompts.check(value)
        return value

    def is_task_prompt(self, text: str) -> bool:
        return self.task_prompt_mode == "llm" and task_prompts.matches(self.task_prompt_patterns, text)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        if not value.startswith(("redis://", "rediss://")):
            raise PydanticCustomError("invalid_url", "redis_url must be empty or start with redis:// or rediss://")
        try:
            RedisAddress.parse(value)
        except ValueError as exc:
            raise PydanticCustomError(
                "invalid_url", "redis_url is not usable: {reason}", {"reason": str(exc)}
            ) from None
        return value


class SettingsCache:
    """The last settings read, dropped when the Cat saves new ones; `max_age` bounds staleness for another
    replica's writes. One read at a time: on v2 each is a SQLite connection in a thread."""

    def __init__(self, max_age: float = 1.0, clock=None) -> None:
        self._clock = clock or time.monotonic
        self._max_age = max_age
        self._value: BridgeSettings | None = None
        self._read_at = 0.0
        self._reading: asyncio.Future[BridgeSettings] | None = None
        self._generation = 0  # a save since a read began makes that read's value stale

    async def get(self, load) -> BridgeSettings:
        if self._value is not None and self._clock() - self._read_at <= self._max_age:
            return self._value
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read(load))
        return await asyncio.shield(self._reading)  # a caller that is cancelled leaves the read to the others

    async def _read(self, load) -> BridgeSettings:
        generation, started = self._generation, self._clock()
        try:
            value = await load()
        finally:
            if generation == self._generation:
                self._reading = None
        if generation == self._generation:
            self._value, self._read_at = value, started
        return value

    def forget(self) -> None:
        self._value = None
        self._reading = None  # a read under way may have missed the save: the next request starts its own
        self._generation += 1
