"""A model calling a tool the turn does not have (small models do; the v2 adapter reports it as `UnknownTool`):
re-asked once through the same agent, naming the tools that exist, on every protocol and mode; then a final 400
that names the tool."""

from __future__ import annotations

import pytest

from cat_openai_bridge.core.turn.port import UnknownTool

from .http_kit import GOOD, KEY, ask, chat, complete, deltas, responses, sse

pytestmark = pytest.mark.asyncio

STRAY = UnknownTool("get_weather", ("get_time", "lookup"))
CORRECTION = (
    "Your previous answer could not be used: there is no tool `get_weather`; the tools you can call are "
    "`get_time`, `lookup`. Answer again, in the form the instructions ask."
)
FINAL = {
    "error": {
        "message": "The Cat's answer does not have the form the request asked for: the Cat's model called the tool "
        "'get_weather', which this turn does not offer, even when told which tools exist.",
        "type": "api_error",
        "param": None,
        "code": "invalid_structured_output",
    }
}


def _reasked(cat) -> None:
    assert len(cat.turns) == 2
    first, again = (t.conversation.turns for t in cat.turns)
    assert [(t.role, t.text) for t in again[len(first) :]] == [
        ("assistant", "(called get_weather)"),
        ("user", CORRECTION),
    ]
    assert [t.text for t in again[: len(first)]] == [t.text for t in first]


@pytest.mark.parametrize(
    "path,body,text_of",
    [
        ("/v1/chat/completions", chat(), lambda r: r.json()["choices"][0]["message"]["content"]),
        ("/v1/completions", complete(), lambda r: r.json()["choices"][0]["text"]),
        ("/v1/responses", responses(), lambda r: r.json()["output"][0]["content"][0]["text"]),
        ("/v1/messages", ask(), lambda r: r.json()["content"][0]["text"]),
    ],
    ids=["chat", "completions", "responses", "anthropic"],
)
async def test_a_call_to_a_tool_that_does_not_exist_is_reasked_once(client, cat, path, body, text_of):
    cat.script(STRAY)
    response = await client.post(path, json=body, headers={**GOOD, **KEY})
    assert response.status_code == 200, response.text
    assert text_of(response) == "Hello there!"
    _reasked(cat)
    assert ("info", "openai bridge: re-asking once: " + str(STRAY)) in cat.logs


async def test_a_stream_is_reasked_before_it_sent_any_text(client, cat):
    cat.script(STRAY)
    response = await client.post("/v1/chat/completions", json=chat(stream=True), headers=GOOD)
    assert "".join(d.get("content") or "" for d, _ in deltas(response.content)) == "Hello there!"
    assert deltas(response.content)[-1][1] == "stop"
    _reasked(cat)


async def test_a_model_that_keeps_calling_it_gets_a_final_400_naming_the_tool(client, cat):
    cat.script(STRAY)
    cat.script(STRAY)
    response = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert (response.status_code, response.headers["x-should-retry"]) == (400, "false")
    assert response.json() == FINAL
    cat.script(STRAY)
    cat.script(STRAY)
    streamed = await client.post("/v1/responses", json=responses(stream=True), headers=GOOD)
    name, last = sse(streamed.content)[-1]
    assert name == "response.failed"
    assert (last["response"]["error"]["code"], last["response"]["error"]["message"]) == (
        "invalid_prompt",
        FINAL["error"]["message"],
    )


async def test_after_text_was_streamed_it_is_the_cats_failure(client, cat):
    cat.script("Let me check", STRAY)
    response = await client.post("/v1/chat/completions", json=chat(stream=True), headers=GOOD)
    last = sse(response.content)[-1][1]
    assert last["error"]["code"] == "cat_error" and "get_weather" in last["error"]["message"]
    assert len(cat.turns) == 1
