"""One cost admission (#22): what a request may cost is admitted once against every limit, and settled with what
the Cat used however it ends. A failed demand, an unknown tool, a timeout are charged; a request larger than a
per-minute limit is refused with OpenAI's words, never admitted; each prompt of a batch is a request."""

from __future__ import annotations

import asyncio

import pytest

from cat_openai_bridge.core.guards.limits import Limiter, MemoryStore, Quota
from cat_openai_bridge.core.turn import tokens
from cat_openai_bridge.core.turn.port import CatFailure, TurnResult, UnknownTool

from .fake_cat import Gate
from .http_kit import GOOD, KEY, Clock, anthropic_error, ask, chat, complete, error, limit, prompt_cost, responses

pytestmark = pytest.mark.asyncio

TPM = 1000
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
ATTEMPT = 100 + tokens.count_text("no json")  # what one scripted attempt used: its prompt and its text
JSON = "Answer in JSON"

# (path, body, attempts the Cat ran before the request failed)
FAILED_DEMANDS = {
    "chat-json": ("/v1/chat/completions", chat(JSON, response_format={"type": "json_object"}), 2),
    "chat-json-stream": ("/v1/chat/completions", chat(JSON, response_format={"type": "json_object"}, stream=True), 1),
    "chat-forced": ("/v1/chat/completions", chat(tools=[WEATHER], tool_choice="required"), 2),
    "chat-forced-stream": ("/v1/chat/completions", chat(tools=[WEATHER], tool_choice="required", stream=True), 2),
    "responses-json": ("/v1/responses", {**responses(JSON), "text": {"format": {"type": "json_object"}}}, 2),
    "responses-json-stream": (
        "/v1/responses",
        {**responses(JSON), "text": {"format": {"type": "json_object"}}, "stream": True},
        1,
    ),
    "responses-forced": (
        "/v1/responses",
        responses(tools=[{**WEATHER["function"], "type": "function"}], tool_choice="required"),
        2,
    ),
    "anthropic-forced": (
        "/v1/messages",
        ask(tools=[{"name": "get_weather", "input_schema": {"type": "object"}}], tool_choice={"type": "any"}),
        2,
    ),
    "anthropic-forced-stream": (
        "/v1/messages",
        ask(
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
            tool_choice={"type": "any"},
            stream=True,
        ),
        2,
    ),
}


async def remaining_after(client) -> int:
    """The tokens left once the next small request is admitted."""
    nxt = await client.post("/v1/chat/completions", json=chat(max_tokens=20), headers=GOOD)
    assert nxt.status_code == 200
    return int(nxt.headers["x-ratelimit-remaining-tokens"])


# Finding 3: a request whose demands fail pays for every attempt


@pytest.mark.parametrize("path,body,attempts", FAILED_DEMANDS.values(), ids=FAILED_DEMANDS.keys())
async def test_a_failed_demand_is_charged_every_attempt(client, cat, path, body, attempts):
    limit(cat, tokens_per_minute=TPM)
    for _ in range(2):
        cat.script(TurnResult("no json", prompt_tokens=100))
    failed = await client.post(path, json=body, headers={**GOOD, **KEY})
    assert len(cat.turns) == attempts
    assert failed.status_code == (200 if body.get("stream") else 400), failed.text
    assert b"does not have the form the request asked for" in failed.content
    assert await remaining_after(client) == TPM - attempts * ATTEMPT - prompt_cost() - 20


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_tool_that_does_not_exist_twice_is_charged_two_prompts(client, cat, stream):
    limit(cat, tokens_per_minute=TPM)
    stray = UnknownTool("get_weather", ("lookup",))
    cat.script(stray)
    cat.script(stray)
    failed = await client.post("/v1/chat/completions", json=chat(max_tokens=50, stream=stream), headers=GOOD)
    assert len(cat.turns) == 2 and (failed.status_code == 200 if stream else failed.status_code == 400)
    assert await remaining_after(client) == TPM - 2 * prompt_cost() - prompt_cost() - 20


async def test_an_answer_after_an_unknown_tool_pays_the_first_attempt_too(client, cat):
    limit(cat, tokens_per_minute=TPM)
    cat.script(UnknownTool("get_weather", ("lookup",)))
    cat.script(TurnResult("Hi", prompt_tokens=100))
    answered = await client.post("/v1/chat/completions", json=chat(max_tokens=50), headers=GOOD)
    assert answered.status_code == 200
    assert await remaining_after(client) == TPM - (100 + 100 + tokens.count_text("Hi")) - prompt_cost() - 20


async def test_a_timeout_pays_its_prompt_and_a_cat_failure_nothing(client, cat):
    limit(cat, tokens_per_minute=TPM, request_timeout=1.0)
    cat.script(Gate())  # never opened: the Cat runs out of time
    timed_out = await client.post("/v1/chat/completions", json=chat(max_tokens=50), headers=GOOD)
    assert timed_out.status_code == 504
    assert await remaining_after(client) == TPM - prompt_cost() - prompt_cost() - 20


async def test_a_batch_pays_the_prompts_that_ran_and_the_one_that_failed(client, cat):
    limit(cat, tokens_per_minute=TPM)
    cat.script(TurnResult("Hi", prompt_tokens=10))
    cat.script(UnknownTool("x", ()))
    cat.script(UnknownTool("x", ()))
    failed = await client.post("/v1/completions", json=complete(["one", "two"], max_tokens=5), headers=GOOD)
    assert failed.status_code == 400 and len(cat.turns) == 3
    each = tokens.count_chat([("user", "one"), ("user", "two")]) // 2  # one turn's share of the batch's prompt
    assert await remaining_after(client) == TPM - (10 + tokens.count_text("Hi")) - 2 * each - prompt_cost() - 20


async def test_a_cat_failure_still_gives_everything_back(client, cat):
    limit(cat, tokens_per_minute=TPM)
    cat.script(CatFailure("LLM down"))
    assert (await client.post("/v1/chat/completions", json=chat(max_tokens=50), headers=GOOD)).status_code == 502
    assert await remaining_after(client) == TPM - prompt_cost() - 20


# Finding 4: a request larger than the whole token budget is refused, never admitted

LONG = "lorem ipsum dolor sit amet " * 1000


def too_large(limit_: int, requested: int, unit: str = "tokens") -> str:
    abbr, what = ("TPM", "The input") if unit == "tokens" else ("RPM", "The number of prompts")
    return (
        f"Request too large for cheshire-cat on {unit} per min ({abbr}): Limit {limit_}, Requested {requested}. "
        f"{what} must be reduced in order to run successfully."
    )


@pytest.mark.parametrize(
    "path,body,param,pairs",
    [
        ("/v1/chat/completions", chat(LONG), "messages", [("user", LONG)]),
        ("/v1/responses", responses(LONG), "input", [("user", LONG)]),
        ("/v1/completions", complete(LONG), "prompt", [("user", LONG)]),
    ],
    ids=["chat", "responses", "completions"],
)
async def test_a_prompt_over_the_token_budget_is_refused_with_openais_words(client, cat, path, body, param, pairs):
    limit(cat, tokens_per_minute=2000)
    refused = await client.post(path, json=body, headers=GOOD)
    assert refused.status_code == 429
    assert refused.json() == error(too_large(2000, tokens.count_chat(pairs)), "tokens", param, "rate_limit_exceeded")
    assert refused.headers["x-should-retry"] == "false" and "retry-after" not in refused.headers
    assert cat.turns == []
    assert (
        await client.post(path, json={**body, "prompt" if param == "prompt" else param: "Hi"}, headers=GOOD)
    ).status_code in (200, 400)


async def test_anthropic_says_it_in_its_own_shape(client, cat):
    limit(cat, tokens_per_minute=2000)
    refused = await client.post("/v1/messages", json=ask(LONG), headers=KEY)
    assert refused.status_code == 429
    requested = tokens.count_chat([("user", LONG)])
    assert refused.json()["error"] == anthropic_error("rate_limit_error", too_large(2000, requested))["error"]
    assert cat.turns == []


async def test_a_cap_beyond_what_the_budget_leaves_is_reserved_up_to_the_budget(client, cat):
    limit(cat, tokens_per_minute=2000)
    admitted = await client.post("/v1/chat/completions", json=chat(max_tokens=4000), headers=GOOD)
    assert admitted.status_code == 200 and admitted.headers["x-ratelimit-remaining-tokens"] == "0"


async def test_the_stores_never_admit_more_than_a_limit_holds():
    store = MemoryStore(Clock())
    assert (await store.admit("u", Quota(tokens_per_minute=50), 51, "l")).reason == "tokens"
    assert (await store.admit("u", Quota(requests_per_minute=2), 0, "l", 3)).reason == "requests"
    assert (await store.admit("u", Quota(tokens_per_minute=50), 50, "l")).allowed


# Finding 7: each prompt of a batch is a request


async def test_each_prompt_of_a_batch_counts_against_requests_per_minute(client, cat):
    limit(cat, rate_limit_per_minute=3)
    batch = await client.post("/v1/completions", json=complete(["one", "two"]), headers=GOOD)
    assert batch.status_code == 200 and batch.headers["x-ratelimit-remaining-requests"] == "1"
    refused = await client.post("/v1/completions", json=complete(["one", "two"]), headers=GOOD)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert refused.headers["retry-after"] == "20"  # refused whole: one request is left, the batch needs two
    assert len(cat.turns) == 2
    too_many = await client.post("/v1/completions", json=complete(["a", "b", "c", "d"]), headers=GOOD)
    assert too_many.status_code == 429
    assert too_many.json() == error(too_large(3, 4, "requests"), "requests", "prompt", "rate_limit_exceeded")
    assert (await client.post("/v1/completions", json=complete("one"), headers=GOOD)).status_code == 200


async def test_a_batch_is_admitted_whole_or_not_at_all():
    quota = Quota(requests_per_minute=20)
    assert (await Limiter(Clock()).admit("u", quota, turns=20))[1].requests.remaining == 0
    assert not (await MemoryStore(Clock()).admit("u", quota, 0, "l", 21)).allowed


# Finding 10: reading the body is bounded in time


@pytest.mark.parametrize(
    "path,headers", [("/v1/chat/completions", GOOD), ("/v1/messages", KEY)], ids=["openai", "anthropic"]
)
async def test_a_body_that_does_not_arrive_in_time_is_408_and_the_connection_closed(client, cat, path, headers):
    cat.settings = cat.settings.model_copy(update={"body_read_timeout": 0.2})  # the setting's floor is 1 s

    async def trickle():
        yield b'{"model": "cheshire-cat", '
        await asyncio.sleep(5)
        yield b"}"

    slow = await client.post(path, content=trickle(), headers={**headers, "content-length": "1000"})
    assert slow.status_code == 408 and slow.headers["connection"] == "close"
    message = "The request body did not arrive within 0.2 seconds."
    if path == "/v1/messages":
        assert slow.json()["error"] == {"type": "invalid_request_error", "message": message}
    else:
        assert slow.json() == error(message, code="request_timeout")
    assert cat.turns == []
