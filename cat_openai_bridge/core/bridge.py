"""The bridge's HTTP handlers, written once against `CatPort`.

Each handler follows the same path: authenticate with the Cat, read the
settings live, validate, limit, hand the turn to the Cat, encode the answer.
Every failure leaves as an OpenAI error object.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Awaitable, Callable, Dict, Optional

from starlette.requests import Request
from starlette.responses import Response

from . import chat, tokens
from .completions import CompletionIds, completion
from .conversation import Conversation, TextPart, Turn, build_conversation
from .errors import BridgeError, model_not_found, server_error, unauthorized
from .http import error_response, json_response, read_body, sse_response
from .limits import Decision, RateLimiter
from .port import CatPort, CatTurn, Identity
from .requests import ChatCompletionRequest, SimpleMessageRequest, parse_body
from .settings import BridgeSettings
from .version import PLUGIN_VERSION


def rate_limited(decision: Decision) -> BridgeError:
    return BridgeError(
        429,
        f"Rate limit reached for requests per minute: limit {decision.limit}. "
        f"Please try again in {decision.retry_after:.1f}s.",
        "requests",
        None,
        "rate_limit_exceeded",
    )


class Bridge:
    """Holds the adapter and the limiter; nothing else lives between requests."""

    def __init__(self, cat: CatPort, limiter: Optional[RateLimiter] = None) -> None:
        self.cat = cat
        self.limiter = limiter or RateLimiter()
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

    def _limit(self, identity: Identity, settings: BridgeSettings, headers: Dict[str, str]) -> None:
        decision = self.limiter.check(identity.user_id, settings.rate_limit_per_minute)
        if settings.rate_limit_per_minute:
            headers.update(decision.headers())
        if not decision.allowed:
            raise rate_limited(decision)

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
            body = parse_body(ChatCompletionRequest, await read_body(request, settings.max_request_bytes))
            p = chat.plan(body, settings)
            conversation = build_conversation(body.messages, allow_images=self.cat.supports_images)
            target = await self.cat.resolve_model(body.model, settings)
            if target is None:
                raise model_not_found(body.model)
            self._limit(identity, settings, headers)
            turn = CatTurn(conversation, target, p.stream, settings.system_message_policy, identity)
            ids = CompletionIds(body.model)
            self._debug(
                settings,
                f"{ids.id} user={identity.user_id} label={body.user!r} model={body.model} "
                f"messages={len(body.messages)} stream={p.stream} limit={p.limit}",
            )
            if p.stream:
                return sse_response(chat.stream(self.cat, turn, p, ids, self.cat.log), headers)
            started = time.perf_counter()
            content, finish_reason, usage = await chat.run_to_end(self.cat, turn, p)
            self._debug(
                settings,
                f"{ids.id} finish={finish_reason} usage={usage.body()} ms={1000 * (time.perf_counter() - started):.0f}",
            )
            return json_response(completion(ids, content, finish_reason, usage), headers=headers)

        return await self._guarded(handle)

    async def message(self, request: Request) -> Response:
        """The seed's simple endpoint: same auth, limits and pipeline, plain JSON."""

        async def handle(headers: Dict[str, str]) -> Response:
            identity = await self._identify(request)
            settings = await self.cat.load_settings()
            body = parse_body(SimpleMessageRequest, await read_body(request, settings.max_request_bytes))
            target = await self.cat.resolve_model(settings.model_alias, settings)
            if target is None:
                raise model_not_found(settings.model_alias)
            self._limit(identity, settings, headers)
            conversation = Conversation("", [Turn("user", [TextPart(body.text)])])
            turn = CatTurn(conversation, target, False, settings.system_message_policy, identity)
            p = chat.Plan(False, False, settings.max_tokens or None, [], settings.request_timeout)
            content, _, _ = await chat.run_to_end(self.cat, turn, p)
            self._debug(settings, f"message user={identity.user_id} label={body.user_id!r} chars={len(content)}")
            answer = {
                "text": content,
                "user_id": body.user_id if body.user_id is not None else identity.user_id,
                "timestamp": datetime.now(timezone.utc).isoformat(),
            }
            return json_response(answer, headers=headers)

        return await self._guarded(handle)
