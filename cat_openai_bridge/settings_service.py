"""Registers `BridgeSettings` with whichever Cat imports this file: v2 finds a config `Service` (which owns the
settings cache, since saving is where a cached value must be dropped), v1 a `settings_model` plugin function."""

from __future__ import annotations

from typing import ClassVar

from .cat_version import running_v2
from .core.config.settings import BridgeSettings, SettingsCache

if running_v2():
    from cat.services.service import Service

    class OpenAIBridgeSettings(Service):
        """Settings of the OpenAI-compatible API."""

        service_type = "config"
        slug = "openai_bridge"
        name = "OpenAI bridge"
        description = "Limits and behaviour of the OpenAI-compatible endpoints under /custom/v1."
        Settings = BridgeSettings
        cache: ClassVar[SettingsCache] = SettingsCache()

        @classmethod
        async def save_settings(cls, payload):
            saved = await super().save_settings(payload)
            cls.cache.forget()  # the next request reads what was just saved
            return saved

        @classmethod
        async def cached_settings(cls) -> BridgeSettings:
            return await cls.cache.get(cls.load_settings)

else:
    from cat.mad_hatter.decorators import plugin

    @plugin
    def settings_model():
        return BridgeSettings
