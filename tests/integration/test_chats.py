"""Each client chat is recognised, so the Cat (and its memory plugins) can keep chats apart."""

from __future__ import annotations

import re

import openai
import pytest

from .conftest import KEY, user_says

pytestmark = pytest.mark.v2_only

CHAT = re.compile(r"\[probe-chat:([^\]]*)\]")


def chat_of(client: openai.OpenAI, messages: list, **kw) -> str:
    answer = client.chat.completions.create(model="probe", messages=messages, **kw).choices[0].message.content
    return CHAT.search(answer).group(1)


def test_chat_id_from_the_front_end_header_or_metadata(client):
    assert chat_of(client, user_says("[[system]]"), extra_headers={"X-OpenWebUI-Chat-Id": "c-1"}) == "chat:c-1"
    assert chat_of(client, user_says("[[system]]"), extra_headers={"X-OpenWebUI-Chat-Id": "c-2"}) == "chat:c-2"
    assert chat_of(client, user_says("[[system]]"), metadata={"chat_id": "m-7"}) == "chat:m-7"


def test_without_an_id_a_chat_is_recognised_by_how_it_started(client):
    first = [{"role": "user", "content": "plan a trip [[system]]"}]
    later = first + [{"role": "assistant", "content": "sure"}, {"role": "user", "content": "to Rome [[system]]"}]
    other = [{"role": "user", "content": "write a poem [[system]]"}]
    key = chat_of(client, first)
    assert key.startswith("derived:") and len(key) == len("derived:") + 24
    assert chat_of(client, later) == key
    assert chat_of(client, other) not in (key, "")


def test_the_chat_header_is_configurable(settings, base_url):
    settings(chat_id_header="X-Chat")
    client = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0)
    assert chat_of(client, user_says("[[system]]"), extra_headers={"X-Chat": "lc-1"}) == "chat:lc-1"
    assert chat_of(client, user_says("[[system]]"), extra_headers={"X-OpenWebUI-Chat-Id": "c-1"}).startswith("derived:")
