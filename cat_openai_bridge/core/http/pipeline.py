"""The one request pipeline every route runs: parse -> prepare -> run -> encode. Every exception leaves through
`error_of`, which shows the Cat's own error details to admins only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..config.settings import BridgeSettings
from ..guards.idempotency import Idempotent, Keyed
from ..guards.idempotency import once as once_for
from ..guards.limits import Lease, Limiter, Quota
from ..guards.memory_replays import Replays
from ..guards.metrics import BridgeMetrics, Exchange
from ..guards.quota import RateLimited, too_large_for
from ..guards.redis_replays import RedisReplays
from ..guards.replay_budget import ReplayLimits
from ..turn import tokens
from ..turn.answer import AnswerLengths
from ..turn.errors import Audience, error_of, missing_user_header, model_not_found, why_forbidden
from ..turn.port import Access, CatPort, Identity
from .dialect import Dialect
from .edge import STREAM_HEADERS, BoundedStream, json_response, read_body
from .encoder import Event
from .route import Call, Cost, Route


class Pipeline:
    """Nothing but the adapter, the limiter, the replays and the metrics lives between requests."""

    def __init__(self, cat: CatPort, limiter: Limiter | None = None) -> None:
        self.cat = cat
        self._warn = lambda message: cat.log("warning", f"openai bridge: {message}")
        self.limiter = limiter or Limiter(warn=self._warn)
        self.replays = Replays()
        self.lengths = AnswerLengths()  # what this Cat's answers run to: when watching a turn for its cut pays
        self._shared: dict[str, RedisReplays] = {}
        self.metrics = BridgeMetrics(
            lambda: {"adapter": cat.name, "cat_version": cat.cat_version()},
            lambda: self.limiter.failure_count + sum(store.failure_count for store in self._shared.values()),
        )

    def _replays(self, redis_url: str) -> Replays | RedisReplays:
        """One backend at a time, as the limiter's."""
        if not redis_url:
            return self.replays
        if redis_url not in self._shared:
            self._shared = {redis_url: RedisReplays(redis_url, warn=self._warn)}
        return self._shared[redis_url]

    async def serve(self, request: Request, route: Route) -> Response:
        audience = Audience(f"req_{uuid.uuid4().hex}")
        headers = route.dialect.request_headers(audience.request_id)
        exchange = Exchange(self.metrics, route.name)
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
        raw = (
            await read_body(request, settings.max_request_bytes, settings.body_read_timeout)
            if route.reads_body
            else b""
        )
        job = route.parse(request, raw, settings)
        target = "" if job.model is None else await self.cat.resolve_model(job.model, settings)
        if target is None:
            raise model_not_found(job.model)  # type: ignore[arg-type]  # named, and unknown
        exchange.model = job.model or ""  # only a model the Cat knows gets here: labels stay a closed set
        identity = self._acting(request, identity, settings, job.label, route.access is Access.CHAT)
        audience.admin = identity is not None and identity.is_admin
        if job.admin_only and not audience.admin:  # the user the turn runs as, not the credential's owner
            raise why_forbidden()
        job = await route.prepare(job, identity, settings)
        async with AsyncExitStack() as stack:
            once = Idempotent(None, None, headers)
            if route.idempotent:
                keyed = Keyed(
                    identity=identity.user_id,
                    key=request.headers.get("idempotency-key"),
                    route=type(route).__name__,
                    body=raw,
                    window=settings.idempotency_window_seconds,
                    wait=settings.request_timeout + settings.stream_send_timeout,
                    limits=ReplayLimits.of(settings),
                    at_least=job.replay_floor(),
                )
                claimer = self._replays(settings.redis_url).claimer(settings.redis_failure_mode == "open")
                once = await stack.enter_async_context(once_for(claimer, keyed, headers))
                if once.replay is not None:
                    exchange.replayed = True
                    return once.replay
            lease = Lease()
            if route.limited:
                lease = await self._admit(identity, settings, headers, job.cost(), route.dialect, exchange.model)
            await stack.enter_async_context(lease.held())
            call = Call(
                request=request,
                settings=settings,
                identity=identity,
                headers=headers,
                lease=lease,
                target=target,
                audience=audience,
                exchange=exchange,
            )
            headers.update(job.rules.headers() if job.rules is not None else {})
            reply = await route.run(job, call)
            if reply.events is not None:
                events = once.recording(lease.guard(reply.events), reply.stream_type, STREAM_HEADERS)
                exchange.streaming = True
                metered = self._metered(events, exchange, audience)
                return BoundedStream(metered, headers, settings.stream_send_timeout, self._stalled, reply.stream_type)
            if reply.text is not None:
                return PlainTextResponse(reply.text, media_type=reply.media_type, headers=headers)
            assert reply.body is not None
            return await once.keep(json_response(reply.body, headers=headers))
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    async def _metered(events: AsyncIterator[Event], exchange: Exchange, audience: Audience) -> AsyncIterator[bytes]:
        waiting = True
        try:
            async for event in events:
                if waiting and event.output:
                    exchange.first_output()
                    waiting = False
                yield event.data
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

    def _acting(
        self, request: Request, identity: Identity | None, settings: BridgeSettings, label: str | None, turn: bool
    ) -> Identity:
        """The caller, or the user a master-key caller names. With `user_header` set, the master key is a front
        end's: a turn without the header would run as the Cat's admin for whoever sent it, so it is refused."""
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
        cost: Cost,
        dialect: Dialect,
        model: str,
    ) -> Lease:
        """Each Cat turn is a request, and tokens are reserved for the prompt and the answer's cap, as OpenAI counts
        `max_tokens`. The prompt's share is a cheap upper bound first; once admitted, a long prompt is counted
        precisely in a thread. A request more than a per-minute limit holds is refused, never admitted: its turns
        beyond requests per minute, its prompt beyond tokens per minute (counted precisely first). A cap beyond
        what the limit leaves of it is reserved up to the limit only (the answer is charged what it used)."""
        quota = Quota(
            settings.rate_limit_per_minute,
            settings.tokens_per_minute,
            settings.max_concurrent_requests,
            settings.request_timeout + 60,
        )
        rpm, tpm, turns = quota.requests_per_minute, quota.tokens_per_minute, max(1, cost.turns)
        if rpm and turns > rpm:
            raise too_large_for("requests", rpm, turns, cost.prompt_param, model)
        pairs = cost.prompt.pairs() if cost.prompt is not None and tpm else []
        prompt, exact = tokens.estimate_chat(pairs) if pairs else (0, True)
        if tpm and prompt > tpm and not exact:
            prompt, exact = await tokens.count_chat_off_loop(pairs), True
        if tpm and prompt > tpm:
            raise too_large_for("tokens", tpm, prompt, cost.prompt_param, model)
        reserved = prompt + min(cost.completion_cap, tpm - prompt) if tpm else 0
        lease, verdict = await self.limiter.admit(
            identity.user_id, quota, reserved, settings.redis_url, settings.redis_failure_mode == "open", prompt, turns
        )
        headers.update(dialect.limit_headers(verdict))
        if not exact and lease.reserved:
            await lease.recount(await tokens.count_chat_off_loop(pairs))
        return lease

    def _stalled(self, seconds: float) -> None:
        self._warn(f"a stream's client read nothing for {seconds:g} s (stream_send_timeout); ended")
