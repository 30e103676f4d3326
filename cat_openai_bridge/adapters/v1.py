"""Cheshire Cat v1 (1.8.0 - 1.9.2): the Docker line most users run. A turn runs in v1_stray_turn.py."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from importlib import metadata

from starlette.requests import Request

from ..core.config.settings import BridgeSettings
from ..core.turn.port import Access, CatFailure, CatTurn, EmbedderInfo, Forbidden, Identity, ModelCard, TurnEvent
from .v1_stray_turn import CatUserIdentity, in_a_thread, run_turn

PLUGIN_ID = __name__.split(".")[2] if __name__.startswith("cat.plugins.") else "cat_openai_bridge"
MAIN = "main"  # the adapter's name for the Cat's one agent

PERMISSIONS: dict[Access, tuple[str, str]] = {
    Access.MODELS: ("LLM", "READ"),
    Access.CHAT: ("CONVERSATION", "WRITE"),
    Access.EMBEDDINGS: ("EMBEDDER", "READ"),
    Access.METRICS: ("STATUS", "READ"),
}


def _cat_user_of(credential: str | None) -> bool:
    import jwt
    from cat.db.crud import get_users
    from cat.env import get_env

    if not credential or credential.count(".") != 2:
        return False
    try:
        claims = jwt.decode(credential, get_env("CCAT_JWT_SECRET"), algorithms=[get_env("CCAT_JWT_ALGORITHM")])
    except jwt.PyJWTError:
        return False
    return claims.get("sub") in get_users()


class V1Cat:
    name = "v1"
    supports_images = False
    supports_client_tools = False
    stops_turns = False  # a turn runs in its own thread, which nothing can stop: a cut answer lets it finish

    def __init__(self) -> None:
        self._settings: tuple[int | None, BridgeSettings | None] = (None, None)

    def cat_version(self) -> str:
        for name in ("Cheshire-Cat", "cheshire-cat"):
            with contextlib.suppress(metadata.PackageNotFoundError):
                return metadata.version(name)
        return "1.x"

    async def identify(self, request: Request, access: Access) -> Identity | None:
        from cat.auth.connection import HTTPAuth
        from cat.auth.permissions import AuthPermission, AuthResource

        resource_name, permission_name = PERMISSIONS[access]
        resource, permission = AuthResource[resource_name], AuthPermission[permission_name]
        user_id, credential = HTTPAuth(resource, permission).extract_credentials(request)
        ccat = request.app.state.ccat
        for handler in (ccat.custom_auth_handler, ccat.core_auth_handler):
            user = handler.authorize_user_from_credential("http", credential, resource, permission, user_id=user_id)
            if user:
                key = os.environ.get("CCAT_API_KEY")
                master = bool(key) and credential == key
                return CatUserIdentity(user.name, user.name, master, master, user=user)
        if _cat_user_of(credential):  # a real user, only not allowed here: say so, as v1's own routes do (403)
            raise Forbidden(
                f"This Cat user lacks the {resource_name} {permission_name} permission this route "
                "needs (v1 user permissions, PUT /users/{id})."
            )
        return None

    def act_as(self, caller: Identity, label: str) -> Identity:
        return Identity(label, label, delegated=True)

    async def load_settings(self) -> BridgeSettings:
        """The Cat saves plugin settings to settings.json: its mtime says when to reread."""
        from cat.looking_glass.cheshire_cat import CheshireCat

        plugin = CheshireCat().mad_hatter.plugins[PLUGIN_ID]
        try:
            stamp: int | None = os.stat(os.path.join(plugin.path, "settings.json")).st_mtime_ns
        except OSError:
            stamp = None
        if stamp is not None and stamp == self._settings[0]:
            return self._settings[1]  # type: ignore[return-value]  # set with its stamp
        raw = plugin.load_settings() or {}
        try:
            settings = BridgeSettings.model_validate(raw)
        except Exception as exc:  # a hand-edited file: keep serving with defaults, say so
            self.log("warning", f"openai bridge: invalid settings.json ({exc}); using defaults")
            settings = BridgeSettings()
        self._settings = (stamp, settings)
        return settings

    async def llm_configured(self) -> bool:
        from cat.looking_glass.cheshire_cat import CheshireCat

        return type(CheshireCat()._llm).__name__ not in ("LLMDefault", "NoneType")

    async def list_models(self, settings: BridgeSettings) -> list[ModelCard]:
        return [ModelCard(settings.model_alias, "cheshire-cat", "The Cheshire Cat")]

    async def resolve_model(self, model: str, settings: BridgeSettings) -> str | None:
        return MAIN if model == settings.model_alias else None

    def run(self, turn: CatTurn) -> AsyncIterator[TurnEvent]:
        return run_turn(turn, self.load_settings)

    async def embedder(self) -> EmbedderInfo | None:
        """v1 always has one (DumbEmbedder until another is chosen); its memory collections know its size."""
        from cat.looking_glass.cheshire_cat import CheshireCat

        cat = CheshireCat()
        if cat.embedder is None:
            return None
        try:
            size = int(cat.memory.vectors.declarative.embedder_size)
        except (AttributeError, TypeError, ValueError):
            size = None
        return EmbedderInfo(type(cat.embedder).__name__, size)

    async def embed(self, texts: list[str]) -> tuple[str, list[list[float]]]:
        from cat.looking_glass.cheshire_cat import CheshireCat

        embedder = CheshireCat().embedder
        try:
            vectors = await in_a_thread(embedder.embed_documents, texts)
        except Exception as exc:
            raise CatFailure("the Cat's embedder failed", f"{type(exc).__name__}: {exc}") from None
        return type(embedder).__name__, [list(v) for v in vectors]

    def log(self, level: str, message: str) -> None:
        from cat.log import log

        getattr(log, level, log.info)(message)
