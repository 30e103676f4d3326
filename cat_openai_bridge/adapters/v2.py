"""Cheshire Cat v2 (the `cheshire-cat-ai` package, 2.x): every Cat agent is a model."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from importlib import metadata

from starlette.requests import Request

from ..core.config.settings import BridgeSettings
from ..core.turn.port import Access, CatFailure, CatTurn, EmbedderInfo, Identity, ModelCard, TurnEvent
from .v2_agent_turn import run_turn

DEFAULT_AGENT = "default"
UNCONFIGURED = "default"  # the Cat's placeholder model provider: "default:default" means nothing is configured


class V2Cat:
    name = "v2"
    supports_images = True
    supports_client_tools = True
    stops_turns = True

    def __init__(self) -> None:
        self._embedder_sizes: dict[str, int] = {}  # v2 does not say an embedder's size: learnt from its vectors

    def cat_version(self) -> str:
        return metadata.version("cheshire-cat-ai")

    async def identify(self, request: Request, access: Access) -> Identity | None:
        """The Cat authenticated the request already; a key from another header (Anthropic's `x-api-key`) comes
        as the request's bearer, checked by the Cat's own auth, as its middleware would have."""
        from cat import config
        from cat.ambient.context_vars import ctx

        context = ctx()
        user = context.user
        seen = context.request.headers.get("authorization") if context.request is not None else None
        if user is None and request.headers.get("authorization") not in (None, seen):
            from cat.ambient import auth

            user = context.user = await auth(request)
        if user is None:
            return None
        credential = request.headers.get("authorization", "")
        if credential.lower().startswith("bearer "):
            credential = credential[7:]
        master = config.API_KEY is not None and credential == config.API_KEY
        return Identity(str(user.id), user.name, user.is_admin(), master)

    def act_as(self, caller: Identity, label: str) -> Identity:
        """v2 user ids are UUIDs: a label maps to the same user every time, and never to the admin."""
        return Identity(str(uuid.uuid5(uuid.NAMESPACE_URL, f"cat-openai-bridge:user:{label}")), label, delegated=True)

    async def load_settings(self) -> BridgeSettings:
        from ..settings_service import OpenAIBridgeSettings

        return await OpenAIBridgeSettings.cached_settings()

    async def _core_settings(self):
        from cat.ambient.runtime import ccat

        core = await ccat().get("config", "core")
        return await core.load_settings()

    async def llm_configured(self) -> bool:
        return not str((await self._core_settings()).default_llm).startswith(f"{UNCONFIGURED}:")

    async def embedder(self) -> EmbedderInfo | None:
        slug = str((await self._core_settings()).default_embedder)
        if slug.startswith(f"{UNCONFIGURED}:"):
            return None
        return EmbedderInfo(slug, self._embedder_sizes.get(slug))

    def _agents(self) -> dict:
        from cat.ambient.runtime import ccat

        return ccat().registry.classes.get("agents", {})

    async def list_models(self, settings: BridgeSettings) -> list[ModelCard]:
        agents = self._agents()
        cards = []
        if DEFAULT_AGENT in agents:
            cards.append(ModelCard(settings.model_alias, "cheshire-cat", "The Cat's default agent"))
        for slug, cls in agents.items():
            if slug != settings.model_alias:
                cards.append(ModelCard(slug, cls.plugin_id or "core", cls.description or ""))
        return cards

    async def resolve_model(self, model: str, settings: BridgeSettings) -> str | None:
        agents = self._agents()
        if model == settings.model_alias and DEFAULT_AGENT in agents:
            return DEFAULT_AGENT
        return model if model in agents else None

    def run(self, turn: CatTurn) -> AsyncIterator[TurnEvent]:
        return run_turn(turn)

    async def embed(self, texts: list[str]) -> tuple[str, list[list[float]]]:
        from cat.ambient import embedder

        slug = str((await self._core_settings()).default_embedder)
        gate = asyncio.Semaphore(8)  # v2 embeds one text per call: a few at a time, in order

        async def one(text: str) -> list[float]:
            async with gate:
                return list(await embedder(text))

        try:
            vectors = list(await asyncio.gather(*(one(text) for text in texts)))
        except Exception as exc:
            raise CatFailure("the Cat's embedder failed", f"{type(exc).__name__}: {exc}") from None
        if vectors:
            self._embedder_sizes[slug] = len(vectors[0])
        return slug, vectors

    def log(self, level: str, message: str) -> None:
        from cat import log

        getattr(log, level, log.info)(message)
