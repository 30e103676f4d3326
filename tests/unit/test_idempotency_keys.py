"""What every idempotency store shares: a key longer than the limit is refused before any store is asked."""

from __future__ import annotations

import asyncio

import pytest

from cat_openai_bridge.core.guards.idempotency import MAX_KEY_LENGTH, Keyed, once
from cat_openai_bridge.core.guards.memory_replays import Replays
from cat_openai_bridge.core.guards.replay_budget import ReplayLimits
from cat_openai_bridge.core.turn.errors import BridgeError


def test_a_key_over_the_limit_is_a_400_whatever_the_store():
    async def no_store(*args):
        raise AssertionError("the store was asked")

    async def scenario(claim_of, key: str) -> None:
        keyed = Keyed(
            identity="me", key=key, route="ChatCompletions", body=b"{}", window=60, wait=1, limits=ReplayLimits()
        )
        async with once(claim_of, keyed, {}) as run:
            assert run.replay is None

    with pytest.raises(BridgeError) as info:
        asyncio.run(scenario(no_store, "k" * (MAX_KEY_LENGTH + 1)))
    assert (info.value.status, info.value.code) == (400, "invalid_idempotency_key")

    async def in_process() -> None:  # a key at the limit is fine
        await scenario(Replays().claimer(), "k" * MAX_KEY_LENGTH)

    asyncio.run(in_process())
