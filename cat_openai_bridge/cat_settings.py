"""Registers `BridgeSettings` with whichever Cat imports this file.

v2 finds a `Service` with `service_type = "config"` (edited at
`PUT /settings/<plugin>__config__openai_bridge`); v1 finds a `settings_model`
plugin function. Only the branch for the running Cat is defined.
"""

from __future__ import annotations

from .core.settings import BridgeSettings
from .runtime import running_v2

if running_v2():
    from cat.services.service import Service

    class OpenAIBridgeSettings(Service):
        """Settings of the OpenAI-compatible API."""

        service_type = "config"
        slug = "openai_bridge"
        name = "OpenAI bridge"
        description = "Limits and behaviour of the OpenAI-compatible endpoints under /custom/v1."
        Settings = BridgeSettings

        @classmethod
        async def save_settings(cls, payload):
            saved = await super().save_settings(payload)
            from .runtime import bridge

            bridge().cat.settings_cache.forget()  # the next request reads what was just saved
            return saved

else:
    from cat.mad_hatter.decorators import plugin

    @plugin
    def settings_model():
        return BridgeSettings
