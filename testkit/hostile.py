"""Hostile neighbours: one identity sends bodies meant to hurt the Cat while another goes on using it.

`ATTACKS` is the list the test (tests/integration/test_hostile_neighbour.py) and the benchmark
(bench/neighbour.py) both run: add a case by adding an `Attack`. `under_attack` runs one: the attacker sends its
requests, `concurrency` at a time, while the neighbour sends ordinary chat requests one after another, and
reports what both got (statuses, the neighbour's latencies).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import httpx

CHAT = "/custom/v1/chat/completions"
RESPONSES = "/custom/v1/responses"
NEIGHBOUR_BODY = {"model": "cheshire-cat", "messages": [{"role": "user", "content": "neighbour [[tokens:5]]"}]}
NEIGHBOUR_ANSWER = " t0 t1 t2 t3 t4"


@dataclass(frozen=True)
class Attack:
    name: str
    path: str
    body: Callable[[int], bytes]  # the i-th request's JSON body
    headers: Callable[[int], dict[str, str]] = lambda i: {}
    settings: dict = field(default_factory=dict)  # bridge settings the attack runs under (for everyone)
    concurrency: int = 4
    requests: int = 12
    expect: frozenset[int] = frozenset({200})  # statuses the attacker may get (never a 500)
    continues: dict | None = None  # a Responses body the attacker stores first: each request continues it
    method: str = "POST"  # GET: `path` names the stored response as {stored} (with `continues`), no body


def _json(value: dict) -> bytes:
    return json.dumps(value).encode()


METADATA = {f"k{i}": f"{i % 10}" * (192 * 1024) for i in range(16)}  # 3 MiB, echoed by three stream events
SPACES = " " * 8_000_000  # under the default max_request_bytes (8 MiB), counted with tokens_per_minute on
RUN = uuid.uuid4().hex[:8]  # Idempotency-Keys unique to this process
MESSAGES = "/custom/v1/messages"
ANTHROPIC = {"anthropic-version": "2023-06-01"}
ONE_LETTER_PARTS = _json(
    {"model": "cheshire-cat", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}] * 150_000}]}
)  # 4.4 MiB
TOOL_RESULTS = _json(
    {
        "model": "cheshire-cat",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}] * 60_000},
        ],
    }
)
STORED_PARTS = {
    "model": "cheshire-cat",
    "input": [{"role": "user", "content": [{"type": "input_text", "text": "x"}] * 50_000}],
}
LONG_CHAIN = {"model": "cheshire-cat", "input": "word " * 200_000}  # 1 MB, 200k tokens: stored, then continued
CONTINUED = _json({"model": "cheshire-cat", "input": "and? [[tokens:3]]", "store": False})  # not kept again

ATTACKS = [
    Attack(
        "150,000 one-letter text parts in one chat message", CHAT, lambda i: ONE_LETTER_PARTS, concurrency=2, requests=4
    ),
    Attack(
        "60,000 tool_result blocks (Anthropic)",
        MESSAGES,
        lambda i: TOOL_RESULTS,
        headers=lambda i: ANTHROPIC,
        concurrency=2,
        requests=4,
        expect=frozenset({400}),  # too_many_content_parts (v1: tool blocks are refused there anyway)
    ),
    Attack(
        "count_tokens on 60,000 blocks",
        f"{MESSAGES}/count_tokens",
        lambda i: TOOL_RESULTS,
        headers=lambda i: ANTHROPIC,
        concurrency=2,
        requests=4,
        expect=frozenset({400}),
    ),
    Attack("a stored input of 50,000 parts, continued", RESPONSES, lambda i: CONTINUED, continues=STORED_PARTS),
    Attack(
        "a 1 MB stored chain, continued",
        RESPONSES,
        lambda i: CONTINUED,
        continues=LONG_CHAIN,
        expect=frozenset({400}),  # context_length_exceeded (responses_context_tokens)
    ),
    Attack(
        "keyed Responses streams with 3 MiB of metadata",
        RESPONSES,
        lambda i: _json(
            {"model": "cheshire-cat", "input": f"hostile {i} [[tokens:5]]", "stream": True, "metadata": METADATA}
        ),
        headers=lambda i: {"Idempotency-Key": f"hostile-{RUN}-{i}"},
        concurrency=4,
        requests=12,
    ),
    Attack(
        "8 MB of spaces with tokens_per_minute on",
        CHAT,
        lambda i: _json({"model": "cheshire-cat", "messages": [{"role": "user", "content": SPACES}]}),
        settings={"tokens_per_minute": 100_000},
        concurrency=3,
        requests=6,
        expect=frozenset({200, 429, 502}),  # 502: the Cat v1's own tokenizer (tiktoken 0.7) panics on it
    ),
    Attack(
        "100,000 newlines before a housekeeping prompt's start (the task-prompt patterns' old quadratic case)",
        CHAT,
        lambda i: _json(
            {"model": "cheshire-cat", "messages": [{"role": "user", "content": "\n" * 100_000 + "### Task: x"}]}
        ),
        concurrency=2,
        requests=2,
    ),
    *(
        Attack(
            f"a schema pattern that backtracks, {pattern}, on a 2,000-character answer (structured outputs)",
            CHAT,
            lambda i, pattern=pattern: _json(
                {
                    "model": "cheshire-cat",
                    "messages": [{"role": "user", "content": f'x [[stubborn]] [[reply:{{"a": "{"x" * 2000}"}}]]'}],
                    "response_format": {
                        "type": "json_schema",
                        "json_schema": {
                            "name": "s",
                            "schema": {"type": "object", "properties": {"a": {"type": "string", "pattern": pattern}}},
                        },
                    },
                }
            ),
            concurrency=4,
            requests=8,
            expect=frozenset({400}),  # invalid_structured_output, once the re-ask fails too
        )
        for pattern in (r"(x|x)*z", r"(x|xx)+z", r"x*x*x*x*x*x*z")
    ),
    Attack(
        "48 long answers cut at max_tokens, 16 at a time",
        CHAT,
        lambda i: _json(
            {
                "model": "cheshire-cat",
                "messages": [{"role": "user", "content": "[[tokens:400]] [[delay:5]]"}],
                "max_tokens": 10,
            }
        ),
        concurrency=16,
        requests=48,
    ),
    Attack(
        "two 20-prompt completions batches with rate_limit_per_minute 10",
        "/custom/v1/completions",
        lambda i: _json({"model": "cheshire-cat", "prompt": [f"batch {i} [[tokens:5]]"] * 20}),
        settings={"rate_limit_per_minute": 10},
        concurrency=2,
        requests=2,
        expect=frozenset({200, 429}),  # 429: a batch is 20 requests, more than a minute's 10
    ),
    Attack(
        "a 60,000-token prompt with tokens_per_minute 2000",
        CHAT,
        lambda i: _json({"model": "cheshire-cat", "messages": [{"role": "user", "content": "lorem ipsum " * 30_000}]}),
        settings={"tokens_per_minute": 2000, "max_tokens": 100},  # the neighbour reserves 100, not the budget
        concurrency=3,
        requests=6,
        expect=frozenset({200, 429}),  # 429: Request too large
    ),
    Attack(
        "structured answers that fail their re-ask, 1,000-token prompts, tokens_per_minute 3000",
        CHAT,
        lambda i: _json(
            {
                "model": "cheshire-cat",
                "messages": [{"role": "user", "content": "word " * 1000 + "[[stubborn]] [[reply:not json]]"}],
                "response_format": {"type": "json_object"},
                "max_tokens": 50,
            }
        ),
        settings={"tokens_per_minute": 3000, "max_tokens": 100},
        concurrency=1,
        requests=6,
        expect=frozenset({400, 429}),
    ),
    *(
        Attack(
            f"16 connections reading one's own 3 MiB stored response{label}",
            f"{RESPONSES}/{{stored}}",
            lambda i: b"",
            settings=values,
            concurrency=16,
            requests=96,
            expect=frozenset({200, 429}),
            continues={"model": "cheshire-cat", "input": "x [[tokens:3]]", "metadata": METADATA},
            method="GET",
        )
        for label, values in (("", {}), (", max_concurrent_requests 2", {"max_concurrent_requests": 2}))
    ),
]


@dataclass
class Outcome:
    attacker: Counter = field(default_factory=Counter)  # status -> count
    neighbour: Counter = field(default_factory=Counter)  # status (or what went wrong) -> count
    latencies: list[float] = field(default_factory=list)  # the neighbour's answered requests, seconds
    attack_seconds: float = 0.0  # how long the attacker's requests took, all of them

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _neighbour(client: httpx.AsyncClient, outcome: Outcome, until: Callable[[], bool], least: int) -> None:
    sent = 0
    while sent < least or not until():
        started = time.perf_counter()
        try:
            r = await client.post(CHAT, json=NEIGHBOUR_BODY)
        except httpx.HTTPError as exc:
            outcome.neighbour[type(exc).__name__] += 1
        else:
            ok = r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == NEIGHBOUR_ANSWER
            outcome.neighbour[r.status_code if ok else f"wrong {r.status_code}"] += 1
            if ok:
                outcome.latencies.append(time.perf_counter() - started)
        sent += 1


async def _attacker(base_url: str, headers: dict[str, str], attack: Attack, outcome: Outcome) -> None:
    gate = asyncio.Semaphore(attack.concurrency)

    async def one(client: httpx.AsyncClient, i: int) -> None:
        async with gate:
            try:
                r = await client.request(
                    attack.method,
                    attack.path,
                    content=attack.body(i) if attack.method == "POST" else None,
                    headers={"Content-Type": "application/json", **attack.headers(i)},
                )
                outcome.attacker[r.status_code] += 1
            except httpx.HTTPError as exc:
                outcome.attacker[type(exc).__name__] += 1

    limits = httpx.Limits(max_connections=attack.concurrency)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120, limits=limits) as client:
        if attack.continues is not None:
            stored = (await client.post(RESPONSES, json=attack.continues)).raise_for_status().json()["id"]
            body = attack.body
            attack = replace(attack, path=attack.path.format(stored=stored))
            if attack.method == "POST":
                attack = replace(attack, body=lambda i: _json({**json.loads(body(i)), "previous_response_id": stored}))
        await asyncio.gather(*(one(client, i) for i in range(attack.requests)))


async def under_attack(
    base_url: str, attacker: dict[str, str], neighbour: dict[str, str], attack: Attack | None, least: int = 10
) -> Outcome:
    """The neighbour's requests while `attack` runs (at least `least` of them); without an attack, `least` only."""
    outcome = Outcome()
    async with httpx.AsyncClient(base_url=base_url, headers=neighbour, timeout=120) as client:
        if attack is None:
            await _neighbour(client, outcome, lambda: True, least)
            return outcome
        started = time.perf_counter()
        attacking = asyncio.ensure_future(_attacker(base_url, attacker, attack, outcome))
        attacking.add_done_callback(lambda _: setattr(outcome, "attack_seconds", time.perf_counter() - started))
        await asyncio.sleep(0.2)  # let the attack get going first
        await _neighbour(client, outcome, attacking.done, least)
        await attacking
    return outcome
