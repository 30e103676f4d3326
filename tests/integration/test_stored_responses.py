"""Stored responses: `store`, `previous_response_id`, and reading them back, per user, in process and in Redis."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from .conftest import KEY, cat_jwt


def _sent_messages(entry: dict) -> list[tuple[str, str]]:
    out = []
    for m in entry["body"]["messages"]:
        content = m.get("content")
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
        out.append((m["role"], text))
    return out


def test_continue_by_id_sends_the_whole_chain_to_the_cat(client, llm_log, adapter):
    first = client.responses.create(model="cheshire-cat", input="My name is Ada [[reply:Hello Ada]]")
    assert first.store is True and first.previous_response_id is None
    second = client.responses.create(
        model="cheshire-cat", input="What is my name? [[reply:You are Ada]]", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id and second.output_text == "You are Ada"
    third = client.responses.create(model="cheshire-cat", input="And again?", previous_response_id=second.id)
    assert third.output_text == "Echo: And again?"
    if adapter == "v2":  # v2 hands the Cat's LLM the conversation as messages
        sent = [m for m in _sent_messages(llm_log()[-1]) if m[0] != "system"]
        assert sent == [
            ("user", "My name is Ada [[reply:Hello Ada]]"),
            ("assistant", "Hello Ada"),
            ("user", "What is my name? [[reply:You are Ada]]"),
            ("assistant", "You are Ada"),
            ("user", "And again?"),
        ]
    else:  # v1 puts earlier turns into its prompt's history
        prompt = "\n".join(text for _, text in _sent_messages(llm_log()[-1]))
        assert "My name is Ada" in prompt and "You are Ada" in prompt


def test_retrieve_input_items_and_delete(client, http):
    made = client.responses.create(model="cheshire-cat", input="hi there", metadata={"k": "v"})
    again = client.responses.retrieve(made.id)
    assert again.model_dump() == made.model_dump()
    items = client.responses.input_items.list(made.id)
    [item] = items.data
    assert (item.type, item.role, item.content[0].text) == ("message", "user", "hi there")
    follow = client.responses.create(model="cheshire-cat", input="two", previous_response_id=made.id)
    listed = http.get(f"/custom/v1/responses/{follow.id}/input_items", params={"order": "asc"}).json()
    assert [i["content"][0]["text"] for i in listed["data"]] == ["two"]  # its own input, as OpenAI lists it
    assert listed["has_more"] is False and listed["first_id"] == listed["last_id"]
    client.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError) as gone:
        client.responses.retrieve(made.id)
    assert gone.value.code == "not_found"
    with pytest.raises(openai.NotFoundError) as cannot:
        client.responses.create(model="cheshire-cat", input="x", previous_response_id=made.id)
    assert (cannot.value.code, cannot.value.param) == ("not_found", "previous_response_id")
    assert client.responses.retrieve(follow.id).previous_response_id == made.id  # the chain's copy stays


def test_store_false_keeps_nothing(client):
    made = client.responses.create(model="cheshire-cat", input="secret", store=False)
    assert made.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)


def test_another_users_response_does_not_exist_for_them(base_url, client):
    mine = client.responses.create(model="cheshire-cat", input="mine")
    with openai.OpenAI(base_url=base_url, api_key=cat_jwt("mallory"), max_retries=0) as other:
        with pytest.raises(openai.NotFoundError):
            other.responses.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError):
            other.responses.create(model="cheshire-cat", input="x", previous_response_id=mine.id)
        with pytest.raises(openai.NotFoundError):
            other.responses.delete(mine.id)
    assert client.responses.retrieve(mine.id).id == mine.id  # the failed delete touched nothing


def test_a_streamed_response_is_stored_and_continued(client):
    with client.responses.stream(model="cheshire-cat", input="[[tokens:3]]") as stream:
        final = stream.get_final_response()
    assert final.store is True
    assert client.responses.retrieve(final.id).output_text == " t0 t1 t2"
    nxt = client.responses.create(model="cheshire-cat", input="next", previous_response_id=final.id)
    assert nxt.previous_response_id == final.id


def test_expiry_and_size_bounds(client, settings):
    settings(responses_store_seconds=1)
    short = client.responses.create(model="cheshire-cat", input="brief")
    assert client.responses.retrieve(short.id).id == short.id
    time.sleep(1.2)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(short.id)
    settings(responses_store_response_bytes=2048)
    big = client.responses.create(model="cheshire-cat", input="x" * 4000)
    with pytest.raises(openai.NotFoundError):  # larger than a stored response may be: not kept
        client.responses.retrieve(big.id)


def test_the_identity_bound_drops_the_oldest_first(client, settings):
    settings(responses_store_identity_bytes=20_000)
    made = [client.responses.create(model="cheshire-cat", input=f"{i} " + "y" * 3000) for i in range(8)]
    kept = []
    for response in made:
        try:
            kept.append(client.responses.retrieve(response.id).id)
        except openai.NotFoundError:
            kept.append(None)
    assert kept[-1] == made[-1].id and kept[0] is None  # the newest stays, the oldest went
    assert kept.index(next(k for k in kept if k)) > 0 and all(kept[kept.index(next(k for k in kept if k)) :])


def test_input_items_rejects_bad_paging(http, client):
    made = client.responses.create(model="cheshire-cat", input="x")
    for params, param in (({"limit": "0"}, "limit"), ({"limit": "9" * 5000}, "limit"), ({"order": "up"}, "order")):
        response = http.get(f"/custom/v1/responses/{made.id}/input_items", params=params)
        assert response.status_code == 400 and response.json()["error"]["param"] == param


def test_unauthenticated_reads_are_401(cat):
    response = httpx.get(cat.url + "/custom/v1/responses/resp_x")
    assert response.status_code == 401
    assert (
        httpx.get(cat.url + "/custom/v1/responses/resp_x", headers={"Authorization": f"Bearer {KEY}"}).status_code
        == 404
    )
