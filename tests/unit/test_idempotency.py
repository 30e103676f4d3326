"""Idempotency keys: what every store shares, the in-process store on a frozen clock, then the pipeline on a fake Cat
(conftest.py) replaying a finished answer byte for byte (never a failed, cut or abandoned one), within its byte
bounds."""

from __future__ import annotations

import asyncio

import pytest

from cat_openai_bridge.core.guards.idempotency import MAX_KEY_LENGTH, Keyed, once
from cat_openai_bridge.core.guards.memory_replays import Replays
from cat_openai_bridge.core.guards.replay_budget import ReplayLimits
from cat_openai_bridge.core.turn.errors import BridgeError
from cat_openai_bridge.core.turn.port import CatFailure, TurnResult

from .fake_cat import FakeCat, Gate
from .http_kit import (
    DONE,
    GOOD,
    MASTER,
    Clock,
    Reader,
    _explode,
    _fail,
    _fail_at_once,
    assert_request_id,
    chat,
    error,
    limit,
    responses,
    sse,
    wait_for,
)

# The stores


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


def test_idempotency_replays_waits_and_forgets_stale_claims():
    from cat_openai_bridge.core.guards.idempotency import Stored
    from cat_openai_bridge.core.guards.memory_replays import Replays

    clock = Clock()
    replays = Replays(clock)

    def claim_of(identity: str, key: str, body: bytes):
        return replays.claim(Keyed(identity=identity, key=key, route="chat", body=body, window=60, wait=10))

    async def scenario():
        claim, stored = await claim_of("u", "k", b"body")
        assert stored is None
        waiting = asyncio.ensure_future(claim_of("u", "k", b"body"))
        await asyncio.sleep(0)
        await claim.complete(Stored(200, "application/json", {}, b"{}"))
        assert (await waiting) == (None, Stored(200, "application/json", {}, b"{}"))
        with pytest.raises(BridgeError) as info:
            await claim_of("u", "k", b"other")
        assert info.value.code == "idempotency_key_reused"
        assert (await claim_of("v", "k", b"other"))[0] is not None  # per identity
        clock.now += 61
        assert (await claim_of("u", "k", b"other"))[0] is not None  # expired
        abandoned, _ = await claim_of("u", "s", b"b")
        clock.now += 16  # never completed, never abandoned: stale after wait + 5 s
        assert (await claim_of("u", "s", b"b"))[0] is not None

    asyncio.run(scenario())


# Replays on the pipeline


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/chat/completions", chat()),
        ("/v1/chat/completions", chat(stream=True)),
        ("/v1/responses", responses()),
        ("/v1/responses", responses(stream=True)),
        ("/custom/message", {"text": "Hi"}),
    ],
    ids=["chat", "chat-stream", "responses", "responses-stream", "message"],
)
async def test_same_key_and_body_replays_the_first_answer_byte_for_byte(client, cat, path, body):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    first = await client.post(path, json=body, headers=headers)
    second = await client.post(path, json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert assert_request_id(second) != assert_request_id(first)
    assert len(cat.turns) == 1


@pytest.mark.asyncio
async def test_a_replay_is_not_counted_against_the_rate_limit(client, cat):
    limit(cat, rate_limit_per_minute=2)
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    first = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    replay = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert not any(k.startswith(("x-ratelimit-", "retry-after")) for k in replay.headers)  # not the first's numbers
    fresh = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert fresh.status_code == 200 and fresh.headers["x-ratelimit-remaining-requests"] == "0"


@pytest.mark.asyncio
async def test_same_key_with_another_body_is_400_idempotency_key_reused(client, cat):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    assert (await client.post("/v1/chat/completions", json=chat("Hi"), headers=headers)).status_code == 200
    reused = await client.post("/v1/chat/completions", json=chat("Bye"), headers=headers)
    assert reused.status_code == 400
    assert reused.json() == error(
        "This Idempotency-Key was already used with a different request body.", code="idempotency_key_reused"
    )
    assert_request_id(reused)
    assert len(cat.turns) == 1


@pytest.mark.asyncio
async def test_keys_belong_to_their_identity(client, cat):
    for auth in (GOOD, MASTER):
        response = await client.post("/v1/chat/completions", json=chat(), headers={**auth, "Idempotency-Key": "k"})
        assert response.status_code == 200 and "idempotent-replayed" not in response.headers
    assert [t.identity.user_id for t in cat.turns] == ["alice", "admin"]


@pytest.mark.asyncio
@pytest.mark.parametrize("setup,status", [(_fail_at_once, 502), (_explode, 500)], ids=["cat-failure", "unexpected"])
async def test_a_failed_first_attempt_frees_the_key(client, cat, setup, status):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    setup(cat)
    failed = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert failed.status_code == status
    retry = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert retry.status_code == 200
    assert "idempotent-replayed" not in retry.headers
    assert retry.json()["choices"][0]["message"]["content"] == "Hello there!"
    assert len(cat.turns) == 2
    again = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.content == retry.content
    assert len(cat.turns) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/chat/completions", chat(stream=True)),
        ("/v1/responses", responses(stream=True)),
    ],
    ids=["chat", "responses"],
)
async def test_a_cut_stream_is_not_replayed(client, cat, path, body):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    _fail(cat)
    cut = await client.post(path, json=body, headers=headers)
    assert cut.status_code == 200 and not cut.content.endswith(DONE)
    retry = await client.post(path, json=body, headers=headers)
    assert retry.status_code == 200
    assert "idempotent-replayed" not in retry.headers
    assert len(cat.turns) == 2
    assert retry.content != cut.content


@pytest.mark.asyncio
async def test_an_abandoned_stream_is_not_replayed(streaming, client, cat):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    cat.script("Hel", Gate(), "lo", TurnResult("Hello", prompt_tokens=3))
    async with streaming.stream("POST", "/v1/chat/completions", json=chat(stream=True), headers=headers) as first:
        await Reader(first).until(b'"content":"Hel"')
    retry = await client.post("/v1/chat/completions", json=chat(stream=True), headers=headers)
    assert retry.status_code == 200 and retry.content.endswith(DONE)
    assert "idempotent-replayed" not in retry.headers
    assert len(cat.turns) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [chat(), chat(stream=True)], ids=["json", "stream"])
async def test_a_duplicate_arriving_while_the_first_runs_waits_and_gets_the_replay(client, cat, body):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    gate = Gate()
    cat.script("Hello", gate, " there!", TurnResult("Hello there!", prompt_tokens=10))
    first = asyncio.ensure_future(client.post("/v1/chat/completions", json=body, headers=headers))
    await asyncio.wait_for(gate.reached.wait(), 2)
    second = asyncio.ensure_future(client.post("/v1/chat/completions", json=body, headers=headers))
    await wait_for(lambda: cat.resolved == 2, "the duplicate to reach its claim")
    await asyncio.sleep(0.02)
    assert not second.done()  # waiting for the first, neither refused (409) nor run
    assert len(cat.turns) == 1
    gate.open()
    one, two = await asyncio.wait_for(asyncio.gather(first, second), 2)
    assert one.status_code == two.status_code == 200
    assert two.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in one.headers
    assert two.content == one.content
    assert len(cat.turns) == 1


@pytest.mark.asyncio
async def test_a_duplicate_waiting_on_a_first_that_fails_runs_itself(client, cat):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    gate = Gate()
    cat.script("Hel", gate, CatFailure("LLM down"))
    first = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(), headers=headers))
    await asyncio.wait_for(gate.reached.wait(), 2)
    second = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(), headers=headers))
    await wait_for(lambda: cat.resolved == 2, "the duplicate to reach its claim")
    await asyncio.sleep(0.02)
    assert not second.done() and len(cat.turns) == 1
    gate.open()
    one, two = await asyncio.wait_for(asyncio.gather(first, second), 2)
    assert one.status_code == 502
    assert two.status_code == 200 and "idempotent-replayed" not in two.headers
    assert two.json()["choices"][0]["message"]["content"] == "Hello there!"
    assert len(cat.turns) == 2


@pytest.mark.asyncio
async def test_the_same_key_and_bytes_on_another_route_is_another_request(client, cat):
    """The fingerprint covers the route: a chat answer is never replayed to a Responses client."""
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    body = {"model": "cheshire-cat", "input": "Hi", "messages": [{"role": "user", "content": "Hi"}]}
    first = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert first.status_code == 200 and first.json()["object"] == "chat.completion"
    other = await client.post("/v1/responses", json=body, headers=headers)
    assert other.status_code == 400
    assert other.json() == error(
        "This Idempotency-Key was already used with a different request body.", code="idempotency_key_reused"
    )
    assert len(cat.turns) == 1


# What is kept is bounded in bytes


def _big_answers(cat: FakeCat, count: int, size: int) -> None:
    for i in range(count):
        text = f"{i}:" + "x" * size
        cat.script(text, TurnResult(text, prompt_tokens=3))


@pytest.mark.asyncio
async def test_kept_answers_are_bounded_in_bytes_per_identity_oldest_first(client, cat, bridge):
    limit(cat, idempotency_identity_bytes=64 * 1024)
    _big_answers(cat, 10, 20_000)
    for i in range(10):
        r = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": f"k-{i}"})
        assert r.status_code == 200 and "idempotency-replayable" not in r.headers
    replays = bridge.pipeline.replays
    assert replays.budget.used_by("alice") <= 64 * 1024
    newest = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": "k-9"})
    assert newest.headers["idempotent-replayed"] == "true"
    assert len(cat.turns) == 10
    oldest = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": "k-0"})
    assert "idempotent-replayed" not in oldest.headers  # evicted: the key runs again
    assert len(cat.turns) == 11
    # another identity's answers are not evicted for alice's
    mine = await client.post("/v1/chat/completions", json=chat(), headers={**MASTER, "Idempotency-Key": "m"})
    assert (
        await client.post("/v1/chat/completions", json=chat(), headers={**MASTER, "Idempotency-Key": "m"})
    ).content == (mine.content)


@pytest.mark.asyncio
async def test_eviction_passes_over_a_running_entry(client, cat, bridge):
    """An answer still running at the head of the store neither is evicted nor stops eviction behind it."""
    limit(cat, idempotency_identity_bytes=64 * 1024)
    gate = Gate()
    cat.script("slow", gate, TurnResult("slow", prompt_tokens=3))
    running = asyncio.ensure_future(
        client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": "first"})
    )
    await asyncio.wait_for(gate.reached.wait(), 2)
    _big_answers(cat, 10, 20_000)
    for i in range(10):
        r = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": f"k-{i}"})
        assert r.status_code == 200
    replays = bridge.pipeline.replays
    assert replays.budget.used_by("alice") <= 64 * 1024 and len(replays.budget) <= 5
    gate.open()
    first = await running
    assert first.status_code == 200
    again = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": "first"})
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content


@pytest.mark.asyncio
async def test_all_identities_together_are_bounded_too(client, cat, bridge):
    limit(cat, idempotency_store_bytes=96 * 1024, idempotency_identity_bytes=1024 * 1024)
    _big_answers(cat, 8, 20_000)
    for i in range(8):
        auth = GOOD if i % 2 else MASTER
        r = await client.post("/v1/chat/completions", json=chat(), headers={**auth, "Idempotency-Key": f"k-{i}"})
        assert r.status_code == 200
    assert bridge.pipeline.replays.budget.total <= 96 * 1024
    newest = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": "k-7"})
    assert newest.headers["idempotent-replayed"] == "true"
    oldest = await client.post("/v1/chat/completions", json=chat(), headers={**MASTER, "Idempotency-Key": "k-0"})
    assert "idempotent-replayed" not in oldest.headers  # evicted for another identity's newer answers
    assert len(cat.turns) == 9


@pytest.mark.asyncio
async def test_an_answer_too_large_to_keep_says_its_key_is_not_replayable(client, cat):
    limit(cat, idempotency_answer_bytes=4096)
    _big_answers(cat, 2, 5000)
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    first = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert first.status_code == 200 and first.headers["idempotency-replayable"] == "false"
    second = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert second.status_code == 200 and "idempotent-replayed" not in second.headers  # the Cat ran again
    assert len(cat.turns) == 2
    small = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": "k-2"})
    assert "idempotency-replayable" not in small.headers


@pytest.mark.asyncio
async def test_a_responses_stream_echoing_large_metadata_is_not_kept_and_says_so_up_front(client, cat, bridge):
    """Its three lifecycle events repeat the metadata: the answer is known to be too large before it starts."""
    limit(cat, idempotency_answer_bytes=64 * 1024)
    metadata = {f"k{i}": "v" * 500 for i in range(16)}  # 8 KB, echoed three times: 24 KB < 64 KiB
    big = {f"k{i}": "v" * 2000 for i in range(16)}  # 32 KB, echoed three times: 96 KB > 64 KiB
    keyed = {**GOOD, "Idempotency-Key": "k-1"}
    small = await client.post("/v1/responses", json=responses(stream=True, metadata=metadata), headers=keyed)
    assert small.status_code == 200 and "idempotency-replayable" not in small.headers
    keyed = {**GOOD, "Idempotency-Key": "k-2"}
    large = await client.post("/v1/responses", json=responses(stream=True, metadata=big), headers=keyed)
    assert large.status_code == 200 and large.headers["idempotency-replayable"] == "false"
    assert sse(large.content)[-1][0] == "response.completed"
    again = await client.post("/v1/responses", json=responses(stream=True, metadata=big), headers=keyed)
    assert "idempotent-replayed" not in again.headers and len(cat.turns) == 3
    assert bridge.pipeline.replays.budget.used_by("alice") < 64 * 1024


@pytest.mark.asyncio
async def test_a_stream_outgrowing_the_limit_is_dropped_as_it_goes_and_its_key_freed(client, cat, bridge):
    limit(cat, idempotency_answer_bytes=8 * 1024)
    parts = ["x" * 1000] * 20
    cat.script(*parts, TurnResult("".join(parts), prompt_tokens=3))
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    first = await client.post("/v1/chat/completions", json=chat(stream=True), headers=headers)
    assert first.status_code == 200 and first.content.endswith(DONE)
    assert "idempotency-replayable" not in first.headers  # not known when the headers went out
    assert len(bridge.pipeline.replays.budget) == 0  # nothing was kept of it
    retry = await client.post("/v1/chat/completions", json=chat(stream=True), headers=headers)
    assert retry.status_code == 200 and "idempotent-replayed" not in retry.headers
    assert len(cat.turns) == 2
