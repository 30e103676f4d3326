"""The plugin's settings: their defaults and bounds, and the cache that reads them once for many requests."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from cat_openai_bridge.core.config.settings import BridgeSettings

from .http_kit import Clock


def test_settings_bounds():
    assert BridgeSettings().model_dump() == {
        "rate_limit_per_minute": 60,
        "max_tokens": 4000,
        "max_tokens_over_ceiling": "clamp",
        "enable_streaming": True,
        "debug_mode": False,
        "request_timeout": 300.0,
        "system_message_policy": "append",
        "max_request_bytes": 8388608,
        "body_read_timeout": 60.0,
        "max_messages": 1000,
        "max_content_parts": 1000,
        "model_alias": "cheshire-cat",
        "tokens_per_minute": 0,
        "max_concurrent_requests": 0,
        "redis_url": "",
        "redis_failure_mode": "open",
        "trust_user_field": False,
        "user_header": "",
        "metrics_token": "",
        "idempotency_window_seconds": 600,
        "idempotency_store_bytes": 64 * 2**20,
        "idempotency_identity_bytes": 8 * 2**20,
        "idempotency_answer_bytes": 2 * 2**20,
        "responses_store_seconds": 86400,
        "responses_store_bytes": 67108864,
        "responses_store_identity_bytes": 16777216,
        "responses_store_response_bytes": 4194304,
        "responses_context_tokens": 128000,
        "task_prompt_patterns": [
            r"^\s*### Task:",
            r"^Your task is to reflect the speaker's likely facial expression",
            r"^You have been provided with a set of responses from various models to the latest user query",
            r"^Provide a concise, 5-word-or-less title for the conversation",
            r"^Analyze this conversation and provide:\s*1\. The detected language",
        ],
        "task_prompt_mode": "llm",
        "stream_send_timeout": 30.0,
        "stream_heartbeat_seconds": 0.0,
        "chat_id_header": "X-OpenWebUI-Chat-Id",
        "v1_history": "request",
    }
    assert BridgeSettings().is_task_prompt("\n### Task:\nGenerate a title") and not BridgeSettings().is_task_prompt(
        "hi"
    )
    assert not BridgeSettings(task_prompt_mode="agent").is_task_prompt("### Task: x")
    assert BridgeSettings(redis_url=" redis://h:1/0 ").redis_url == "redis://h:1/0"
    for bad in (
        {"rate_limit_per_minute": 1001},
        {"max_tokens": 32001},
        {"system_message_policy": "x"},
        {"redis_url": "http://h"},
        {"redis_failure_mode": "maybe"},
        {"user_header": "X Bad:"},
        {"task_prompt_patterns": ["("]},
        {"max_concurrent_requests": -1},
        {"body_read_timeout": 0.5},
        {"stream_send_timeout": 0.5},
        {"idempotency_answer_bytes": 10},
    ):
        with pytest.raises(ValidationError):
            BridgeSettings(**bad)


def test_settings_cache_rereads_after_forget_or_max_age():
    from cat_openai_bridge.core.config.settings import BridgeSettings, SettingsCache

    clock = Clock()
    reads = []

    async def load():
        reads.append(clock.now)
        return BridgeSettings(rate_limit_per_minute=len(reads))

    cache = SettingsCache(max_age=1.0, clock=clock)

    async def scenario():
        assert (await cache.get(load)).rate_limit_per_minute == 1
        assert (await cache.get(load)).rate_limit_per_minute == 1  # cached
        cache.forget()
        assert (await cache.get(load)).rate_limit_per_minute == 2  # a save is seen at once
        clock.now += 1.5
        assert (await cache.get(load)).rate_limit_per_minute == 3  # and nothing is older than max_age

    asyncio.run(scenario())


def test_settings_cache_reads_once_for_many_waiting_requests_and_never_keeps_a_read_a_save_overtook():
    from cat_openai_bridge.core.config.settings import BridgeSettings, SettingsCache

    reads = []
    release = {}

    async def load():
        n = len(reads) + 1
        reads.append(n)
        release[n] = asyncio.Event()
        await release[n].wait()
        return BridgeSettings(rate_limit_per_minute=n)

    cache = SettingsCache(max_age=1.0, clock=Clock())

    async def turns():  # let every task started so far run up to its next wait
        for _ in range(5):
            await asyncio.sleep(0)

    async def scenario():
        many = [asyncio.ensure_future(cache.get(load)) for _ in range(64)]
        await turns()
        assert reads == [1]  # 64 requests found the value missing: one read
        cancelled = many.pop()
        cancelled.cancel()  # a request that gives up does not cancel the read the others wait for
        release[1].set()
        assert {s.rate_limit_per_minute for s in await asyncio.gather(*many)} == {1}
        cache.forget()
        stale = asyncio.ensure_future(cache.get(load))  # read 2 begins...
        await turns()
        cache.forget()  # ...and a save lands while it runs
        fresh = asyncio.ensure_future(cache.get(load))  # read 3: the save's value
        await turns()
        release[2].set()
        release[3].set()
        assert (await stale).rate_limit_per_minute == 2  # the request that began before the save
        assert (await fresh).rate_limit_per_minute == 3
        assert (await cache.get(load)).rate_limit_per_minute == 3  # read 2's value was never kept
        assert reads == [1, 2, 3]

    asyncio.run(scenario())
