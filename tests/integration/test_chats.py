"""Each client chat is recognised, so the Cat (and its memory plugins) can keep chats apart."""

from __future__ import annotations

import re

import openai
import pytest

from .conftest import KEY, user_says

pytestmark = pytest.mark.v2_only

CHAT = re.compile(r"\[probe-chat:([^\]]*)\]")
SCOPE = r"[0-9a-f]{16}"  # the user's tag: every key belongs to the user the turn runs as


def chat_of(client: openai.OpenAI, messages: list, **kw) -> str:
    answer = client.chat.completions.create(model="probe", messages=messages, **kw).choices[0].message.content
    return CHAT.search(answer).group(1)


def test_chat_id_from_the_front_end_header_or_metadata(client):
    one = chat_of(client, user_says("[[system]]"), extra_headers={"X-OpenWebUI-Chat-Id": "c-1"})
    assert re.fullmatch(f"chat:{SCOPE}:c-1", one)
    two = chat_of(client, user_says("[[system]]"), extra_headers={"X-OpenWebUI-Chat-Id": "c-2"})
    assert two == one.replace(":c-1", ":c-2")
    assert chat_of(client, user_says("[[system]]"), metadata={"chat_id": "m-7"}) == one.replace(":c-1", ":m-7")


def test_without_an_id_a_chat_is_recognised_by_how_it_started(client):
    first = [{"role": "user", "content": "plan a trip [[system]]"}]
    later = first + [{"role": "assistant", "content": "sure"}, {"role": "user", "content": "to Rome [[system]]"}]
    other = [{"role": "user", "content": "write a poem [[system]]"}]
    key = chat_of(client, first)
    assert re.fullmatch(f"derived:{SCOPE}:[0-9a-f]{{24}}", key)
    assert chat_of(client, later) == key
    assert chat_of(client, other) not in (key, "")


def test_the_chat_header_is_configurable(settings, base_url):
    settings(chat_id_header="X-Chat")
    client = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0)
    assert re.fullmatch(
        f"chat:{SCOPE}:lc-1", chat_of(client, user_says("[[system]]"), extra_headers={"X-Chat": "lc-1"})
    )
    assert chat_of(client, user_says("[[system]]"), extra_headers={"X-OpenWebUI-Chat-Id": "c-1"}).startswith("derived:")
