"""User A never sees user B: not through `user`, memory, or concurrent streams."""

from __future__ import annotations

import asyncio
import re
import uuid

import openai

from .conftest import CURRENT, KEY, cat_jwt, user_says

PROBE_TAG = re.compile(r"\[probe-user:([^:\]]*):([^\]]*)\]")
MEMORY_TAG = re.compile(r"\[probe-memory:([^\]]*)\]")


def fresh(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def probe_model() -> str:
    """The model whose system prompt names the user and their memory: v2's probe agent; v1's one agent."""
    return "cheshire-cat" if CURRENT.get("adapter") == "v1" else "probe"


def ask(client: openai.OpenAI, text: str, **kw) -> str:
    return (
        client.chat.completions.create(model=probe_model(), messages=user_says(text), **kw).choices[0].message.content
    )


def who(answer: str):
    return PROBE_TAG.search(answer).groups(), MEMORY_TAG.search(answer).group(1)


def test_each_user_gets_their_own_cat_memory_and_user_cannot_switch(base_url):
    alice, bob = fresh("alice"), fresh("bob")
    as_alice = openai.OpenAI(base_url=base_url, api_key=cat_jwt(alice), max_retries=0)
    as_bob = openai.OpenAI(base_url=base_url, api_key=cat_jwt(bob), max_retries=0)
    ask(as_alice, "alice-secret")
    ask(as_bob, "bob-secret")
    (name, _), memory = who(ask(as_alice, "[[system]]", user=bob))
    assert (name, memory) == (alice, "alice-secret")
    (name, _), memory = who(ask(as_bob, "[[system]]", user=alice))
    assert (name, memory) == (bob, "bob-secret")


def test_concurrent_streams_of_two_users_never_mix(base_url):
    users = [fresh("alice"), fresh("bob")]

    async def stream(name: str):
        client = openai.AsyncOpenAI(base_url=base_url, api_key=cat_jwt(name), max_retries=0)
        chunks = await client.chat.completions.create(
            model=probe_model(), messages=user_says(f"{name} [[system]] [[delay:5]]"), stream=True
        )
        return [c.choices[0].delta.content or "" async for c in chunks if c.choices]

    async def both():
        return await asyncio.gather(*(stream(u) for _ in range(3) for u in users))

    results = asyncio.run(both())
    for index, pieces in enumerate(results):
        me, other = users[index % 2], users[1 - index % 2]
        text = "".join(pieces)
        assert len(pieces) > 5  # really streamed, token by token
        assert PROBE_TAG.search(text).group(1) == me
        assert other not in text


def test_master_key_may_act_for_a_labelled_user_only_when_trusted(settings, base_url):
    carol = fresh("carol")
    master = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0)
    (name, _), _ = who(ask(master, "[[system]]", user=carol))
    assert name != carol  # untrusted by default: `user` is only a label
    settings(trust_user_field=True)
    ask(master, "carol-note", user=carol)
    (name, user_id), memory = who(ask(master, "[[system]]", user=carol))
    assert (name, memory) == (carol, "carol-note")
    if CURRENT.get("adapter") == "v1":
        assert user_id == carol  # v1 users are their names, as its `user_id` header makes them
    else:
        assert uuid.UUID(user_id) == uuid.uuid5(uuid.NAMESPACE_URL, f"cat-openai-bridge:user:{carol}")
    dave = fresh("dave")
    as_dave = openai.OpenAI(base_url=base_url, api_key=cat_jwt(dave), max_retries=0)
    (name, _), memory = who(ask(as_dave, "[[system]]", user=carol))
    assert (name, memory) == (dave, "")  # a non-master caller never switches, even when trusted


def test_trusted_labels_get_their_own_rate_limits(settings, http):
    settings(trust_user_field=True, rate_limit_per_minute=1)
    one, two = fresh("svc-user"), fresh("svc-user")

    def send(label: str) -> int:
        return http.post(
            "/custom/v1/chat/completions", json={"model": "cheshire-cat", "messages": user_says("hi"), "user": label}
        ).status_code

    assert [send(one), send(two), send(one)] == [200, 200, 429]
