"""The one request pipeline every route runs: parse -> prepare -> run -> encode.

A route says what it is (`Route`): what it does in the Cat's terms, whether
it reads a body, is limited, may be replayed. `Pipeline.serve` does the steps
they share, in one order: request id, identity, live settings, body, the
route's own parse, model, acting user, admin-only fields (checked against the
user the turn runs as), idempotency claim, admission. The route then runs the
Cat and hands back a `Reply`; the pipeline encodes it, keeps it for replays
and settles the lease however the request ends. Every exception leaves
through `error_of`, the one error mapper, which shows the Cat's own error
details to admins only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from ..port import Access, CatPort, CatTurn, Identity
from ..settings import BridgeSettings
from . import tokens
from .chat_keys import conversation_key
from .conversation import ClientTool, Conversation
from .demands import NO_DEMANDS, Demands
from .dialect import OPENAI, Dialect
from .errors import Audience, error_of, missing_user_header, model_not_found, why_forbidden
from .http_edge import json_response, read_body, sse_response
from .idempotency import Idempotent, Replays
from .limits import Lease, Limiter, Quota
from .wire import WireModel


@dataclass
class Job:
    """What a route's parse step found in the request, as far as the shared steps care."""

    model: str | None = None  # resolved to the adapter's target (None: the route takes no model)
    label: str | None = None  # the body's user label (`user`), for master-key callers
    conversation: Conversation | None = None  # what the prompt-token estimate counts
    admin_only: bool = False  # the body asks for what only the Cat's admins may see (`cat_why`)


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
    """What a route answers: a JSON body, or a stream of SSE events whose last one holds one of `ends` if whole."""

    body: WireModel | None = None
    events: AsyncIterator[bytes] | None = None
    ends: tuple[bytes, ...] = ()


class Route(Generic[J]):
    access: ClassVar[Access | None] = Access.CHAT  # None: no credentials needed
    reads_body: ClassVar[bool] = True
    limited: ClassVar[bool] = True
    idempotent: ClassVar[bool] = True
    dialect: ClassVar[Dialect] = OPENAI  # how keys, limit headers and errors look to this route's clients

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.cat = pipeline.cat

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> J:
        """A route without a body has nothing to parse."""
        return Job()  # type: ignore[return-value]

    async def run(self, job: J, call: Call) -> Reply:
        raise NotImplementedError


class Pipeline:
    """Holds the adapter, the limiter and the replays; nothing else lives between requests."""

    def __init__(self, cat: CatPort, limiter: Limiter | None = None) -> None:
        self.cat = cat
        self.limiter = limiter or Limiter(warn=lambda message: cat.log("warning", f"openai bridge: {message}"))
        self.replays = Replays()

    async def serve(self, request: Request, route: Route) -> Response:
        audience = Audience(f"req_{uuid.uuid4().hex}")
        headers = route.dialect.request_headers(audience.request_id)
        try:
            return await self._serve(request, route, headers, audience)
        except Exception as exc:  # a cancelled request (BaseException) is not answered at all
            return route.dialect.error_response(error_of(exc, self.cat.log, audience), headers)

    async def _serve(self, request: Request, route: Route, headers: dict[str, str], audience: Audience) -> Response:
        identity = await self._identify(request, route)
        settings = await self.cat.load_settings()
        raw = await read_body(request, settings.max_request_bytes) if route.reads_body else b""
        job = route.parse(request, raw, settings)
        target = await self._target(job.model, settings)
        identity = self._acting(request, identity, settings, job.label, route.access is Access.CHAT)
        audience.admin = identity is not None and identity.is_admin
        if job.admin_only and not audience.admin:  # the user the turn runs as, not the credential's owner
            raise why_forbidden()
        async with AsyncExitStack() as stack:
            once = Idempotent(None, None, headers)
            if route.idempotent:
                once = await stack.enter_async_context(
                    self.replays.once(
                        identity.user_id,
                        request.headers.get("idempotency-key"),
                        raw,
                        settings.idempotency_window_seconds,
                        settings.request_timeout,
                        headers,
                    )
                )
                if once.replay is not None:
                    return once.replay
            lease = (
                await self._admit(identity, settings, headers, job.conversation, route.dialect)
                if route.limited
                else Lease.free()
            )
            await stack.enter_async_context(lease.held())
            call = Call(request, settings, identity, headers, lease, target, audience=audience)
            reply = await route.run(job, call)
            if reply.events is not None:
                return sse_response(once.recording(lease.guard(reply.events), reply.ends), headers)
            assert reply.body is not None
            return once.keep(json_response(reply.body, headers=headers))
        raise AssertionError("unreachable")  # pragma: no cover

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
        self,
        identity: Identity,
        settings: BridgeSettings,
        headers: dict[str, str],
        conversation: Conversation | None,
        dialect: Dialect,
    ) -> Lease:
        """Apply the identity's limits; the lease is settled by the pipeline when the answer is done."""
        quota = Quota(
            settings.rate_limit_per_minute,
            settings.tokens_per_minute,
            settings.max_concurrent_requests,
            settings.request_timeout + 60,
        )
        cost = tokens.count_chat(conversation.pairs()) if conversation and quota.tokens_per_minute else 0
        lease, verdict = await self.limiter.admit(
            identity.user_id, quota, cost, settings.redis_url, settings.redis_failure_mode == "open"
        )
        headers.update(dialect.limit_headers(verdict))
        return lease

    def debug(self, call: Call, message: str) -> None:
        if call.settings.debug_mode:
            self.cat.log("info", f"openai bridge: {message}")
