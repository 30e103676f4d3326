"""The one request pipeline every route runs: parse -> prepare -> run -> encode.

A route says what it is (`Route`): what it does in the Cat's terms, whether
it reads a body, is limited, may be replayed. `Pipeline.serve` does the steps
they share, in one order: request id, identity, live settings, body, the
route's own parse, model, acting user, admin-only fields (checked against the
user the turn runs as), idempotency claim, admission. The route then runs the
Cat and hands back a `Reply`; the pipeline encodes it, keeps it for replays,
settles the lease and records the request's metrics however it ends. Every
exception leaves through `error_of`, the one error mapper, which shows the
Cat's own error details to admins only.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..config.settings import BridgeSettings
from ..guards.idempotency import Idempotent
from ..guards.idempotency import once as once_for
from ..guards.limits import Lease, Limiter, Quota
from ..guards.memory_replays import Replays
from ..guards.metrics import BridgeMetrics, Exchange
from ..guards.quota import RateLimited
from ..guards.redis_replays import RedisReplays
from ..guards.replay_budget import ReplayLimits
from ..turn import tokens
from ..turn.answer import Usage
from ..turn.chat_keys import conversation_key
from ..turn.conversation import ClientTool, Conversation
from ..turn.demands import NO_DEMANDS, Demands
from ..turn.errors import Audience, error_of, missing_user_header, model_not_found, why_forbidden
from ..turn.port import Access, CatPort, CatTurn, Identity
from ..turn.wire import WireModel
from .dialect import OPENAI, Dialect
from .edge import json_response, read_body, sse_response


@dataclass
class Job:
    """What a route's parse step found in the request, as far as the shared steps care."""

    model: str | None = None  # resolved to the adapter's target (None: the route takes no model)
    label: str | None = None  # the body's user label (`user`), for master-key callers
    conversation: Conversation | None = None  # what the prompt-token estimate counts
    admin_only: bool = False  # the body asks for what only the Cat's admins may see (`cat_why`)

    def completion_cap(self) -> int:
        """Most completion tokens the answer may have (0: no cap), reserved against `tokens_per_minute`."""
        return 0

    def replay_floor(self) -> int:
        """A lower bound on the bytes of the answer, known before it runs (what it will echo of the request)."""
        return 0


J = TypeVar("J", bound=Job)


@dataclass
class Call:
    """One request past the shared steps: everything a route's run step may use."""

    request: Request
    settings: BridgeSettings
    identity: Identity  # who the turn runs as
    headers: dict[str, str]  # response headers so far (request id, rate limits)
    lease: Lease
    target: str | None = None
    started: float = field(default_factory=time.perf_counter)
    audience: Audience = field(default_factory=lambda: Audience(""))  # who reads this request's errors
    exchange: Exchange | None = None  # this request in the metrics

    def report(self, usage: Usage, prompt_counted: bool = True, charged: int | None = None) -> None:
        """What the answer used: the limiter settles with what it charges (the LLM's whole output, sent or not),
        the metrics count the usage the client was told."""
        self.lease.report(usage.total_tokens if charged is None else charged, prompt_counted)
        if self.exchange is not None:
            self.exchange.usage(usage.prompt_tokens, usage.completion_tokens)

    def turn(
        self,
        conversation: Conversation,
        stream: bool,
        tools: tuple[ClientTool, ...] = (),
        metadata: dict | None = None,
        why: bool = False,
        demands: Demands = NO_DEMANDS,
    ) -> CatTurn:
        """A client's conversation turn as the Cat runs it, whichever protocol it came in.

        Housekeeping prompts go around the agent only for a chat front end (the master key, or a user it acts for):
        anyone else could otherwise start a message with `### Task:` and talk to the bare model. A forced tool
        call needs the agent, which alone offers the client's functions.
        """
        assert self.target is not None
        settings = self.settings
        front_end = self.identity.master_key or self.identity.delegated
        return CatTurn(
            conversation,
            self.target,
            stream,
            settings.system_message_policy,
            self.identity,
            front_end and demands.call is None and settings.is_task_prompt(conversation.last_user_text),
            tools,
            conversation_key(self.request, self.identity, settings.chat_id_header, metadata, conversation),
            why,
            demands.instructions(),
        )


@dataclass(frozen=True)
class Reply:
    """What a route answers: a JSON body, plain text, or a stream of SSE events whose last one holds one of `ends`
    if whole, and whose first event carrying the answer's output (text or a tool call) holds one of `output`."""

    body: WireModel | None = None
    events: AsyncIterator[bytes] | None = None
    ends: tuple[bytes, ...] = ()
    output: tuple[bytes, ...] = ()
    text: str | None = None
    media_type: str = "text/plain; charset=utf-8"


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Route(Generic[J]):
    name: ClassVar[str] = ""  # its label in the metrics (default: the class name in snake case)
    access: ClassVar[Access | None] = Access.CHAT  # None: no credentials needed
    reads_body: ClassVar[bool] = True
    limited: ClassVar[bool] = True
    idempotent: ClassVar[bool] = True
    dialect: ClassVar[Dialect] = OPENAI  # how keys, limit headers and errors look to this route's clients

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.cat = pipeline.cat

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = snake_case(cls.__name__)

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> J:
        """A route without a body has nothing to parse."""
        return Job()  # type: ignore[return-value]

    async def prepare(self, job: J, identity: Identity, settings: BridgeSettings) -> J:
        """What the parse step could not know without the acting user (e.g. a stored conversation to continue)."""
        return job

    async def run(self, job: J, call: Call) -> Reply:
        raise NotImplementedError


class Pipeline:
    """Holds the adapter, the limiter, the replays and the metrics; nothing else lives between requests."""

    def __init__(self, cat: CatPort, limiter: Limiter | None = None) -> None:
        self.cat = cat
        self._warn = lambda message: cat.log("warning", f"openai bridge: {message}")
        self.limiter = limiter or Limiter(warn=self._warn)
        self.replays = Replays()
        self._shared: dict[str, RedisReplays] = {}
        self.metrics = BridgeMetrics(
            lambda: {"adapter": cat.name, "cat_version": cat.cat_version()},
            lambda: self.limiter.failure_count + sum(store.failure_count for store in self._shared.values()),
        )

    def _replays(self, redis_url: str) -> Replays | RedisReplays:
        """Replays in process, or in the Redis every replica shares (one backend at a time, as the limiter's)."""
        if not redis_url:
            return self.replays
        if redis_url not in self._shared:
            self._shared = {redis_url: RedisReplays(redis_url, warn=self._warn)}
        return self._shared[redis_url]

    async def serve(self, request: Request, route: Route) -> Response:
        audience = Audience(f"req_{uuid.uuid4().hex}")
        headers = route.dialect.request_headers(audience.request_id)
        exchange = self.metrics.exchange(route.name)
        try:
            response = await self._serve(request, route, headers, audience, exchange)
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            exchange.finish(499)  # cancelled: not answered at all; 499 as nginx logs a client that left
            raise
        except BaseException as exc:  # a Rust panic in a tokenizer is no Exception, and still no reason for a trace
            if isinstance(exc, RateLimited):
                self.metrics.rate_limited.inc(exc.verdict.reason)
            response = route.dialect.error_response(error_of(exc, self.cat.log, audience), headers)
        if not exchange.streaming:  # a stream's exchange ends with its last event (see _metered)
            exchange.finish(response.status_code, audience.failure)
        return response

    async def _serve(
        self, request: Request, route: Route, headers: dict[str, str], audience: Audience, exchange: Exchange
    ) -> Response:
        identity = await self._identify(request, route)
        settings = await self.cat.load_settings()
        raw = await read_body(request, settings.max_request_bytes) if route.reads_body else b""
        job = route.parse(request, raw, settings)
        target = await self._target(job.model, settings)
        exchange.model = job.model or ""  # only a model the Cat knows gets here: labels stay a closed set
        identity = self._acting(request, identity, settings, job.label, route.access is Access.CHAT)
        audience.admin = identity is not None and identity.is_admin
        if job.admin_only and not audience.admin:  # the user the turn runs as, not the credential's owner
            raise why_forbidden()
        job = await route.prepare(job, identity, settings)
        async with AsyncExitStack() as stack:
            once = Idempotent(None, None, headers)
            if route.idempotent:
                once = await stack.enter_async_context(
                    once_for(
                        self._replays(settings.redis_url).claimer(settings.redis_failure_mode == "open"),
                        identity.user_id,
                        request.headers.get("idempotency-key"),
                        type(route).__name__,
                        raw,
                        settings.idempotency_window_seconds,
                        settings.request_timeout + settings.stream_send_timeout,
                        headers,
                        ReplayLimits.of(settings),
                        job.replay_floor(),
                    )
                )
                if once.replay is not None:
                    exchange.replayed = True
                    return once.replay
            lease = (
                await self._admit(identity, settings, headers, job, route.dialect) if route.limited else Lease.free()
            )
            await stack.enter_async_context(lease.held())
            call = Call(request, settings, identity, headers, lease, target, audience=audience, exchange=exchange)
            reply = await route.run(job, call)
            if reply.events is not None:
                events = once.recording(lease.guard(reply.events), reply.ends)
                exchange.streaming = True
                metered = self._metered(events, reply.output, exchange, audience)
                return sse_response(metered, headers, settings.stream_send_timeout, self._stalled)
            if reply.text is not None:
                return PlainTextResponse(reply.text, media_type=reply.media_type, headers=headers)
            assert reply.body is not None
            return await once.keep(json_response(reply.body, headers=headers))
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    async def _metered(
        events: AsyncIterator[bytes], output: tuple[bytes, ...], exchange: Exchange, audience: Audience
    ) -> AsyncIterator[bytes]:
        """A stream as the metrics see it: its first output event, and its end (whole, failed, or left)."""
        waiting = bool(output)
        try:
            async for event in events:
                if waiting and any(marker in event for marker in output):
                    exchange.first_output()
                    waiting = False
                yield event
        finally:
            await events.aclose()  # type: ignore[attr-defined]
            exchange.finish(200, audience.failure)

    async def _identify(self, request: Request, route: Route) -> Identity | None:
        if route.access is None:
            return None
        identity = await self.cat.identify(route.dialect.credentials(request), route.access)
        if identity is None:
            raise route.dialect.missing_credentials(request)
        return identity

    async def _target(self, model: str | None, settings: BridgeSettings) -> str | None:
        if model is None:
            return None
        target = await self.cat.resolve_model(model, settings)
        if target is None:
            raise model_not_found(model)
        return target

    def _acting(
        self, request: Request, identity: Identity | None, settings: BridgeSettings, label: str | None, turn: bool
    ) -> Identity:
        """Who the turn runs as: the caller, or the user a master-key caller names (header, then trusted `user`).

        With `user_header` set, the master key is a front end's: a turn without the header would run as the
        Cat's admin (its memory, its `cat_why`) for whoever sent it, so it is refused instead (400).
        """
        if identity is None or not identity.master_key:
            return identity  # type: ignore[return-value]  # public routes have none and need none
        forwarded = request.headers.get(settings.user_header, "").strip() if settings.user_header else ""
        if forwarded:
            return self.cat.act_as(identity, forwarded)
        if label and settings.trust_user_field:
            return self.cat.act_as(identity, label)
        if settings.user_header and turn:
            raise missing_user_header(settings.user_header)
        return identity

    async def _admit(
        self, identity: Identity, settings: BridgeSettings, headers: dict[str, str], job: Job, dialect: Dialect
    ) -> Lease:
        """Apply the identity's limits; the lease is settled by the pipeline when the answer is done.

        Tokens are reserved for the prompt and the answer's cap, as OpenAI counts `max_tokens` against a token
        limit. The prompt's share is a cheap upper bound (no tokenizing of long texts on the event loop before
        the decision); once admitted, a long prompt is counted precisely in a thread and the reservation follows.
        """
        quota = Quota(
            settings.rate_limit_per_minute,
            settings.tokens_per_minute,
            settings.max_concurrent_requests,
            settings.request_timeout + 60,
        )
        pairs = job.conversation.pairs() if job.conversation is not None and quota.tokens_per_minute else []
        prompt, exact = tokens.estimate_chat(pairs) if pairs else (0, True)
        cost = prompt + job.completion_cap() if quota.tokens_per_minute else 0
        lease, verdict = await self.limiter.admit(
            identity.user_id, quota, cost, settings.redis_url, settings.redis_failure_mode == "open", prompt
        )
        headers.update(dialect.limit_headers(verdict))
        if not exact and lease.reserved:
            await lease.recount(await tokens.count_chat_off_loop(pairs))
        return lease

    def _stalled(self, seconds: float) -> None:
        self.cat.log(
            "warning", f"openai bridge: a stream's client read nothing for {seconds:g} s (stream_send_timeout); ended"
        )

    def debug(self, call: Call, message: str) -> None:
        if call.settings.debug_mode:
            self.cat.log("info", f"openai bridge: {message}")
