"""The bridge's HTTP handlers, written once against `CatPort`.

Each handler follows the same path: authenticate with the Cat, read the
settings live, validate, limit, hand the turn to the Cat, encode the answer.
Every failure leaves as an OpenAI error object.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timezone
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable, Dict, List, Optional, Tuple

from starlette.requests import Request
from starlette.responses import Response

from . import chat, sse, tokens
from .completions import CompletionIds, Usage, completion
from .conversation import Conversation, TextPart, Turn, build_conversation
from .errors import BridgeError, model_not_found, server_error, unauthorized, upstream_failed, upstream_timeout
from .http import STREAM_HEADERS, error_response, json_response, read_body, sse_response
from .idempotency import Claim, Replays, Stored
from .chats import conversation_key
from . import responses
from .embeddings import EmbeddingRequest, embedding_list, texts_of
from .responses import ResponsesRequest
from .responses_tools import function_tools
from .tools import client_tools
from .limits import Lease, Limiter, Quota
from .port import CatFailure, CatPort, CatTurn, Identity
from .requests import ChatCompletionRequest, SimpleMessageRequest, parse_body
from .settings import BridgeSettings
from .version import PLUGIN_VERSION


def replayed(stored: Stored, headers: Dict[str, str]) -> Response:
    return Response(stored.body, stored.status, {**stored.headers, **headers, "idempotent-replayed": "true"},
                    media_type=stored.media_type)


class Once:
    """One request under an Idempotency-Key (or none): keeps what it answered for replays."""

    def __init__(self, claim: Optional[Claim], replay: Optional[Response], headers: Dict[str, str]) -> None:
        self._claim = claim
        self.replay = replay
        self._headers = headers

    def give_up(self) -> None:
        if self._claim is not None:
            self._claim.abandon()

    def _replayable_headers(self) -> Dict[str, str]:
        return {k: v for k, v in self._headers.items() if not k.startswith(("x-ratelimit-", "x-request-id"))}

    def keep(self, response: Response) -> Response:
        if self._claim is not None:
            kept = self._replayable_headers()
            self._claim.complete(Stored(response.status_code, response.media_type or "", kept, bytes(response.body)))
        return response

    async def recording(self, events: AsyncIterator[bytes],
                        ends: Tuple[bytes, ...] = (sse.DONE,)) -> AsyncIterator[bytes]:
        """Pass a stream through; keep it only if it ended well (its last event holds one of `ends`)."""
        if self._claim is None:
            async for event in events:
                yield event
            return
        sent: List[bytes] = []
        try:
            async for event in events:
                sent.append(event)
                yield event
        finally:
            await events.aclose()  # type: ignore[attr-defined]
            if sent and any(end in sent[-1] for end in ends):
                self.keep_stream(b"".join(sent))
            else:
                self.give_up()

    def keep_stream(self, body: bytes) -> None:
        if self._claim is not None:
            kept = self._replayable_headers()
            self._claim.complete(Stored(200, "text/event-stream; charset=utf-8", {**STREAM_HEADERS, **kept}, body))


@asynccontextmanager
async def settling(lease: Lease) -> AsyncIterator[List[Usage]]:
    """Settle the lease with the usage the block reports (none if it failed)."""
    used: List[Usage] = []
    try:
        yield used
    finally:
        await lease.settle(used[-1].total_tokens if used else 0)


async def settled(events: AsyncIterator[bytes], lease: Lease, used: List[Usage]) -> AsyncIterator[bytes]:
    """A stream body that settles its lease however it ends, disconnects included."""
    try:
        async for event in events:
            yield event
    finally:
        await events.aclose()  # type: ignore[attr-defined]
        await lease.settle(used[-1].total_tokens if used else 0)


def why_forbidden() -> BridgeError:
    return BridgeError(403, "'cat_why' shows the Cat's prompts and tool results, so only the Cat's admins may ask for it.",
                       "invalid_request_error", "cat_why", "insufficient_permissions")


class Bridge:
    """Holds the adapter and the limiter; nothing else lives between requests."""

    def __init__(self, cat: CatPort, limiter: Optional[Limiter] = None) -> None:
        self.cat = cat
        self.limiter = limiter or Limiter(warn=lambda message: cat.log("warning", f"openai bridge: {message}"))
        self.replays = Replays()
        self.created = int(time.time())

    # -- shared steps -------------------------------------------------------

    async def _guarded(self, handler: Callable[[Dict[str, str]], Awaitable[Response]]) -> Response:
        headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
        try:
            return await handler(headers)
        except BridgeError as exc:
            return error_response(exc, headers)
        except Exception as exc:
            self.cat.log("error", f"openai bridge: unexpected {exc!r}")
            return error_response(server_error(), headers)

    async def _identify(self, request: Request) -> Identity:
        identity = await self.cat.identify(request)
        if identity is None:
            if request.headers.get("authorization"):
                raise unauthorized("Incorrect API key provided. Use the Cat's API key or a Cat JWT as the bearer token.")
            raise unauthorized(
                "You didn't provide an API key. Send the Cat's API key or a Cat JWT in an "
                "Authorization header: 'Authorization: Bearer YOUR_KEY'."
            )
        return identity

    def _acting(self, request: Request, identity: Identity, settings: BridgeSettings, label: Optional[str]) -> Identity:
        """Who the turn runs as: the caller, or the user a master-key caller names (header, then trusted `user`)."""
        if not identity.master_key:
            return identity
        forwarded = request.headers.get(settings.user_header, "").strip() if settings.user_header else ""
        if forwarded:
            return self.cat.act_as(identity, forwarded)
        if label and settings.trust_user_field:
            return self.cat.act_as(identity, label)
        return identity

    @asynccontextmanager
    async def _once(self, request: Request, identity: Identity, settings: BridgeSettings, raw: bytes,
                    headers: Dict[str, str]) -> AsyncIterator["Once"]:
        """Idempotency-Key handling around one request: replay, or run and keep the answer."""
        key = request.headers.get("idempotency-key")
        if not key or not settings.idempotency_window_seconds:
            yield Once(None, None, headers)
            return
        claim, stored = await self.replays.claim(
            identity.user_id, key, raw, settings.idempotency_window_seconds, settings.request_timeout
        )
        if stored is not None:
            yield Once(None, replayed(stored, headers), headers)
            return
        once = Once(claim, None, headers)
        try:
            yield once
        except BaseException:
            once.give_up()
            raise

    async def _admit(self, identity: Identity, settings: BridgeSettings, headers: Dict[str, str],
                     conversation: Optional[Conversation] = None) -> Lease:
        """Apply the identity's limits; the lease must be settled when the answer is done."""
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
        headers.update(verdict.headers())
        return lease

    def _debug(self, settings: BridgeSettings, message: str) -> None:
        if settings.debug_mode:
            self.cat.log("info", f"openai bridge: {message}")

    # -- routes -------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        async def handle(headers: Dict[str, str]) -> Response:
            body = {
                "status": "ok",
                "plugin_version": PLUGIN_VERSION,
                "cat_version": self.cat.cat_version(),
                "adapter": self.cat.name,
                "llm_configured": await self.cat.llm_configured(),
                "tokenizer": tokens.tokenizer_name(),
            }
            return json_response(body, headers=headers)

        return await self._guarded(handle)

    async def list_models(self, request: Request) -> Response:
        async def handle(headers: Dict[str, str]) -> Response:
            await self._identify(request)
            settings = await self.cat.load_settings()
            cards = await self.cat.list_models(settings)
            data = [self._model_object(c.id, c.owned_by) for c in cards]
            return json_response({"object": "list", "data": data}, headers=headers)

        return await self._guarded(handle)

    async def get_model(self, request: Request, model_id: str) -> Response:
        async def handle(headers: Dict[str, str]) -> Response:
            await self._identify(request)
            settings = await self.cat.load_settings()
            for card in await self.cat.list_models(settings):
                if card.id == model_id:
                    return json_response(self._model_object(card.id, card.owned_by), headers=headers)
            raise model_not_found(model_id)

        return await self._guarded(handle)

    def _model_object(self, model_id: str, owned_by: str) -> dict:
        return {"id": model_id, "object": "model", "created": self.created, "owned_by": owned_by}

    async def chat_completions(self, request: Request) -> Response:
        async def handle(headers: Dict[str, str]) -> Response:
            identity = await self._identify(request)
            settings = await self.cat.load_settings()
            raw = await read_body(request, settings.max_request_bytes)
            body = parse_body(ChatCompletionRequest, raw)
            p = chat.plan(body, settings, allow_tools=self.cat.supports_client_tools)
            tools = client_tools(body.tools, body.tool_choice)
            conversation = build_conversation(body.messages, allow_images=self.cat.supports_images,
                                              allow_tools=self.cat.supports_client_tools)
            target = await self.cat.resolve_model(body.model, settings)
            if target is None:
                raise model_not_found(body.model)
            if body.cat_why and not (identity.is_admin or identity.master_key):
                raise why_forbidden()
            identity = self._acting(request, identity, settings, body.user)
            async with self._once(request, identity, settings, raw, headers) as once:
                if once.replay is not None:
                    return once.replay
                lease = await self._admit(identity, settings, headers, conversation)
                return await self._complete(body, p, CatTurn(
                    conversation, target, p.stream, settings.system_message_policy, identity,
                    settings.is_task_prompt(conversation.last_user_text), tuple(tools),
                    conversation_key(request, settings.chat_id_header, body.metadata, conversation),
                    bool(body.cat_why),
                ), settings, lease, headers, once)

        return await self._guarded(handle)

    async def _complete(self, body: ChatCompletionRequest, p: chat.Plan, turn: CatTurn, settings: BridgeSettings,
                        lease: Lease, headers: Dict[str, str], once: "Once") -> Response:
        ids = CompletionIds(body.model)
        self._debug(
            settings,
            f"{ids.id} user={turn.identity.user_id} label={body.user!r} model={body.model} "
            f"messages={len(body.messages)} stream={p.stream} limit={p.limit} task_prompt={turn.plain} "
            f"tools={len(turn.tools)}",
        )
        if p.stream:
            used: List[Usage] = []
            events = chat.stream(self.cat, turn, p, ids, self.cat.log, used.append)
            return sse_response(once.recording(settled(events, lease, used)), headers)
        started = time.perf_counter()
        async with settling(lease) as used:
            answer = await chat.run_answer(self.cat, turn, p)
            used.append(answer.usage)
        self._debug(
            settings,
            f"{ids.id} finish={answer.finish_reason} usage={answer.usage.body()} "
            f"ms={1000 * (time.perf_counter() - started):.0f}",
        )
        body_out = completion(ids, answer.content, answer.finish_reason, answer.usage, answer.tool_calls, answer.why)
        return once.keep(json_response(body_out, headers=headers))

    async def responses(self, request: Request) -> Response:
        """The Responses API: the same turn as a chat completion, in the newer wire format."""

        async def handle(headers: Dict[str, str]) -> Response:
            identity = await self._identify(request)
            settings = await self.cat.load_settings()
            raw = await read_body(request, settings.max_request_bytes)
            body = parse_body(ResponsesRequest, raw)
            if isinstance(body.input, list):
                chat.check_message_count(len(body.input), settings, "input")
            p = chat.output_plan(settings, bool(body.stream), body.max_output_tokens, "max_output_tokens")
            tools = function_tools(body.tools, body.tool_choice, allowed=self.cat.supports_client_tools)
            conversation = build_conversation(responses.messages_of(body), allow_images=self.cat.supports_images,
                                              allow_tools=self.cat.supports_client_tools)
            target = await self.cat.resolve_model(body.model, settings)
            if target is None:
                raise model_not_found(body.model)
            identity = self._acting(request, identity, settings, body.user)
            async with self._once(request, identity, settings, raw, headers) as once:
                if once.replay is not None:
                    return once.replay
                lease = await self._admit(identity, settings, headers, conversation)
                turn = CatTurn(conversation, target, p.stream, settings.system_message_policy, identity,
                               settings.is_task_prompt(conversation.last_user_text), tuple(tools),
                               conversation_key=conversation_key(request, settings.chat_id_header, body.metadata,
                                                                 conversation))
                ids = responses.ResponseIds(body.model)
                if p.stream:
                    used: List[Usage] = []
                    events = responses.stream(self.cat, turn, p, ids, body, self.cat.log, used.append)
                    return sse_response(once.recording(settled(events, lease, used), ends=responses.FINISHED),
                                        headers)
                async with settling(lease) as used:
                    answer = await chat.run_answer(self.cat, turn, p)
                    used.append(answer.usage)
                out = responses.response_object(ids, body, "completed", answer.content, answer.usage,
                                                answer.finish_reason, calls=answer.tool_calls, tools=tools)
                return once.keep(json_response(out, headers=headers))

        return await self._guarded(handle)

    async def embeddings(self, request: Request) -> Response:
        """Vectors from the Cat's own embedder; same auth and limits as chat."""

        async def handle(headers: Dict[str, str]) -> Response:
            identity = await self._identify(request)
            settings = await self.cat.load_settings()
            body = parse_body(EmbeddingRequest, await read_body(request, settings.max_request_bytes))
            texts = texts_of(body)
            embed = getattr(self.cat, "embed", None)
            if embed is None:
                raise BridgeError(404, "Embeddings are not available on this Cat version.", "invalid_request_error",
                                  None, "unsupported_endpoint")
            # The Cat has one embedder, the one its memory uses: any `model` selects it; the answer names it.
            used = sum(tokens.count_text(t) for t in texts)
            lease = await self._admit(identity, settings, headers, None)
            try:
                model, vectors = await asyncio.wait_for(embed(texts), settings.request_timeout)
            except CatFailure as exc:
                await lease.settle(0)
                raise upstream_failed(str(exc)) from None
            except asyncio.TimeoutError:
                await lease.settle(0)
                raise upstream_timeout(settings.request_timeout) from None
            await lease.settle(used)
            return json_response(embedding_list(model, vectors, body.encoding_format, used), headers=headers)

        return await self._guarded(handle)

    async def message(self, request: Request) -> Response:
        """The seed's simple endpoint: same auth, limits and pipeline, plain JSON."""

        async def handle(headers: Dict[str, str]) -> Response:
            identity = await self._identify(request)
            settings = await self.cat.load_settings()
            raw = await read_body(request, settings.max_request_bytes)
            body = parse_body(SimpleMessageRequest, raw)
            target = await self.cat.resolve_model(settings.model_alias, settings)
            if target is None:
                raise model_not_found(settings.model_alias)
            conversation = Conversation("", [Turn("user", [TextPart(body.text)])])
            identity = self._acting(request, identity, settings, body.user_id)
            async with self._once(request, identity, settings, raw, headers) as once:
                if once.replay is not None:
                    return once.replay
                lease = await self._admit(identity, settings, headers, conversation)
                turn = CatTurn(conversation, target, False, settings.system_message_policy, identity)
                p = chat.Plan(False, False, settings.max_tokens or None, [], settings.request_timeout)
                async with settling(lease) as used:
                    content, _, usage = await chat.run_to_end(self.cat, turn, p)
                    used.append(usage)
                self._debug(settings, f"message user={identity.user_id} label={body.user_id!r} chars={len(content)}")
                answer = {
                    "text": content,
                    "user_id": body.user_id if body.user_id is not None else identity.user_id,
                    "timestamp": datetime.now(timezone.utc).isoformat(),
                }
                return once.keep(json_response(answer, headers=headers))

        return await self._guarded(handle)
