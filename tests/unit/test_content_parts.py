"""Content parts (issue #22, findings 1 and 8): adjacent texts reach the Cat as one, the parts that cannot be merged
are bounded by `max_content_parts` (stored conversations and count_tokens included), and a conversation continued
with `previous_response_id` is bounded by `responses_context_tokens` and charged whole against tokens_per_minute."""

from __future__ import annotations

from typing import Any

import pytest

from cat_openai_bridge.core.turn import tokens
from cat_openai_bridge.core.turn.conversation import ImagePart, TextPart, Turn
from cat_openai_bridge.core.turn.port import TurnResult

from .http_kit import GOOD, KEY, anthropic_error, ask, error, limit

pytestmark = pytest.mark.asyncio

PNG = "data:image/png;base64,iVBORw0KGgo="
SENT = (
    "Too many content parts: this bridge sends the Cat at most {limit} (max_content_parts) per request, its stored "
    "conversation included: each text (adjacent texts count as one), image, tool call and tool result."
)


def texts(*words: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": w} for w in words]


def image() -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": PNG}}


def calls(*ids: str) -> dict[str, Any]:
    made = [{"id": i, "type": "function", "function": {"name": "f", "arguments": "{}"}} for i in ids]
    return {"role": "assistant", "content": None, "tool_calls": made}


async def chat(client, messages: list[dict[str, Any]]):
    return await client.post("/v1/chat/completions", json={"model": "cheshire-cat", "messages": messages}, headers=GOOD)


async def test_adjacent_texts_reach_the_cat_as_one_and_images_keep_their_place(client, cat):
    parts = [*texts(*"abc"), image(), *texts("d", "", "e")]
    assert (await chat(client, [{"role": "user", "content": parts}])).status_code == 200
    turn = cat.turns[-1].conversation.turns[0]
    assert turn.parts == [TextPart("abc"), ImagePart("image/png", "iVBORw0KGgo="), TextPart("de")]
    assert turn.text == "abcde"  # what v1, the token counts and the Cat's own `Message.text` read: unchanged


async def test_150000_one_letter_parts_are_one_part(client, cat):
    response = await chat(client, [{"role": "user", "content": texts(*"x" * 150_000)}])
    assert response.status_code == 200
    assert cat.turns[-1].conversation.turns == [Turn("user", [TextPart("x" * 150_000)])]


async def test_parts_that_cannot_merge_are_bounded_with_a_400_naming_the_message(client, cat):
    limit(cat, max_content_parts=4)
    fits = [{"role": "user", "content": [image(), *texts("a", "b"), image(), *texts("c")]}]  # 4 after merging
    assert (await chat(client, fits)).status_code == 200
    over = [{"role": "user", "content": "hi"}, {"role": "user", "content": [image(), *texts("a"), image(), image()]}]
    response = await chat(client, over)
    assert response.status_code == 400
    assert response.json() == error(SENT.format(limit=4), param="messages.[1].content", code="too_many_content_parts")
    assert len(cat.turns) == 1  # refused before the Cat


async def test_tool_calls_and_results_count_one_each(client, cat):
    limit(cat, max_content_parts=5)
    asked = [{"role": "user", "content": "go"}, calls("c1", "c2")]
    results = [{"role": "tool", "tool_call_id": i, "content": texts("r", "s")} for i in ("c1", "c2")]
    assert (await chat(client, [*asked, *results])).status_code == 200  # 1 + 2 + 2
    assert cat.turns[-1].conversation.turns[2] == Turn("tool", [TextPart("rs")], (), "c1")
    response = await chat(client, [*asked, *results, {"role": "user", "content": "more"}])
    assert response.status_code == 400
    assert response.json() == error(SENT.format(limit=5), param="messages.[4].content", code="too_many_content_parts")
    response = await chat(
        client, [{"role": "user", "content": "go"}, calls(*"abcde"), {"role": "user", "content": "x"}]
    )
    assert response.json()["error"]["param"] == "messages.[1].tool_calls"


def tool_results(n: int) -> dict[str, Any]:
    """An assistant's call, then one user message of `n` results of it (the API takes the same id again)."""
    return ask(
        messages=[
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}] * n},
        ]
    )


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
async def test_anthropic_tool_results_are_bounded_for_messages_and_count_tokens_alike(client, cat, path):
    limit(cat, max_content_parts=10)
    assert (await client.post(path, json=tool_results(8), headers=KEY)).status_code == 200  # 1 + 1 + 8
    response = await client.post(path, json=tool_results(9), headers=KEY)
    assert response.status_code == 400
    body = response.json()
    assert body.pop("request_id").startswith("req_")
    assert body == anthropic_error("invalid_request_error", SENT.format(limit=10))


async def test_count_tokens_counts_merged_texts_as_before(client):
    body = ask(messages=[{"role": "user", "content": [{"type": "text", "text": w} for w in ("Hello", " there")]}])
    response = await client.post("/v1/messages/count_tokens", json=body, headers=KEY)
    assert response.json() == {"input_tokens": tokens.count_chat([("user", "Hello there")])}


async def respond(client, input: Any, **extra: Any):
    return await client.post("/v1/responses", json={"model": "cheshire-cat", "input": input, **extra}, headers=GOOD)


def said(response: dict[str, Any]) -> str:
    return response["output"][0]["content"][0]["text"]


def input_texts(n: int) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "input_text", "text": "x"}] * n}]


async def test_a_stored_input_of_many_parts_is_merged_again_when_continued(client, cat):
    made = (await respond(client, input_texts(5000))).json()
    again = await respond(client, "and?", previous_response_id=made["id"])
    assert again.status_code == 200
    sent = cat.turns[-1].conversation.turns
    assert [t.parts for t in sent] == [[TextPart("x" * 5000)], [TextPart(said(made))], [TextPart("and?")]]


async def test_a_continued_conversation_counts_its_stored_parts(client, cat):
    first = (
        await respond(client, [{"role": "user", "content": [{"type": "input_image", "image_url": PNG}] * 3}])
    ).json()
    limit(cat, max_content_parts=4)  # stored: 3 images and the answer; the new input is the fifth part
    response = await respond(client, "and?", previous_response_id=first["id"])
    assert response.status_code == 400
    assert response.json() == error(SENT.format(limit=4), param="input", code="too_many_content_parts")
    limit(cat, max_content_parts=3)
    response = await respond(client, "and?", previous_response_id=first["id"])
    assert response.json()["error"]["param"] == "previous_response_id.[1].content"  # the stored answer


async def test_a_continued_conversation_is_bounded_as_a_context_window(client, cat):
    long = "word " * 1500  # 1500 tokens
    first = await respond(client, long)
    assert first.status_code == 200
    limit(cat, responses_context_tokens=1000)
    assert (await respond(client, long)).status_code == 200  # not continued: the body's bounds hold it
    response = await respond(client, "and?", previous_response_id=first.json()["id"])
    assert response.status_code == 400
    count = tokens.count_chat([("user", long), ("assistant", said(first.json())), ("user", "and?")])
    body = response.json()
    assert body == error(
        "Your input exceeds the context window of this model. Please adjust your input and try again. (The "
        f"conversation continued from 'previous_response_id' with this input is {count} tokens; this bridge "
        "continues at most 1000.)",
        param="input",
        code="context_length_exceeded",
    )
    assert len(cat.turns) == 2


async def test_a_continued_conversation_is_charged_with_its_stored_history(client, cat):
    long = "word " * 500
    limit(cat, tokens_per_minute=100_000, max_tokens=0)
    cat.script("ok", TurnResult("ok", prompt_tokens=600))
    first = await respond(client, long)
    output = said(first.json())
    used = 100_000 - int(first.headers["x-ratelimit-remaining-tokens"])  # what the first one reserved
    again = await respond(client, "and?", previous_response_id=first.json()["id"])
    reserved = tokens.count_chat([("user", long), ("assistant", output), ("user", "and?")])
    assert reserved > tokens.count_chat([("user", "and?")]) + 500 and used < reserved
    settled = 600 + tokens.count_text("ok")  # what the first one used
    assert again.headers["x-ratelimit-remaining-tokens"] == str(100_000 - settled - reserved)


@pytest.mark.parametrize("path", ["/api/chat", "/api/generate"])
async def test_ollama_images_are_bounded_too(client, cat, path):
    limit(cat, max_content_parts=3)
    png = "iVBORw0KGgo="
    asked = {"messages": [{"role": "user", "content": "What?", "images": [png] * 3}]}
    body = {"model": "cheshire-cat", "stream": False, **(asked if path == "/api/chat" else {"prompt": "What?"})}
    if path == "/api/generate":
        body["images"] = [png] * 3
    response = await client.post(f"/custom/ollama/good{path}", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": SENT.format(limit=3)}
