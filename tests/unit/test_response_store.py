"""The in-process store of Responses: bounded per user, in all and per response, and by age."""

from __future__ import annotations

import asyncio

from cat_openai_bridge.core.api.responses.storage import MemoryResponseStore, StoreLimits


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bounds_and_expiry():
    async def scenario():
        clock = Clock()
        store = MemoryResponseStore(clock)
        limits = StoreLimits(ttl=10, per_answer=2000, per_identity=4000, total=6000)
        assert not await store.put("a", "big", b"x" * 2001, limits)  # over per_answer: not kept
        for i in range(4):
            assert await store.put("a", f"r{i}", b"x" * 1000, limits)
        # a's oldest went first to keep a under 4000 bytes (each entry also costs its overhead)
        assert [await store.get("a", f"r{i}") is not None for i in range(4)] == [False, False, True, True]
        for i in range(3):
            assert await store.put("b", f"s{i}", b"y" * 1000, limits)
        assert await store.get("b", "s2") == b"y" * 1000
        assert await store.get("a", "s2") is None  # another user's id does not exist for them
        assert await store.delete("b", "s2") and not await store.delete("b", "s2")
        clock.now = 11
        assert await store.get("a", "r3") is None  # expired
        short = StoreLimits(ttl=1, per_answer=2000, per_identity=4000, total=6000)
        clock.now = 20
        assert await store.put("c", "long", b"z", StoreLimits(ttl=100, per_answer=10, per_identity=4000, total=6000))
        assert await store.put("c", "brief", b"z", short)
        clock.now = 22
        assert await store.get("c", "brief") is None and await store.get("c", "long") == b"z"

    asyncio.run(scenario())
