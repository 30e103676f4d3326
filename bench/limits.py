"""6. What a rate limit costs: the same non-streamed bridge request with the default limit on (60 requests a minute
per identity, the in-process store) and with limits off (as every other scenario runs), in alternating blocks.

Requests rotate over enough identities that none comes near its limit: a 429 is cheaper than an answer, so a
limit that refused would flatter the "on" side. The same identities answer in both modes, so what differs is only
the limiter's admission, headers and settlement. The limiter alone is also timed in this process.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import jwt

from cat_openai_bridge.core.guards.limits import Limiter
from cat_openai_bridge.core.guards.quota import Quota
from testkit import cat_v1
from testkit.cat_v2 import put_bridge_settings

from . import cpu
from .bodies import expected_tokens
from .stack import KEY, Stack
from .stats import summary

DEFAULT_LIMIT = 60  # BridgeSettings.rate_limit_per_minute's default
PER_IDENTITY = 20  # requests per identity at most: far below the 60 a minute (and the burst of 60) it may send
V2_JWT_SECRET = "meow_jwt"  # the Cat v2's default JWT_SECRET, which the benchmark's Cat keeps


def _identities(stack: Stack, count: int) -> list[dict[str, str]]:
    """Request headers naming `count` distinct Cat users: v2 JWTs (as the Cat mints them), v1 `user_id` headers."""
    names = [f"bench-limit-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    if stack.version == "v1":
        return [{"user_id": name} for name in names]
    exp = int(time.time()) + 3600
    return [
        {
            "Authorization": "Bearer "
            + jwt.encode(
                {"sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, n)), "username": n, "roles": [], "exp": exp},
                V2_JWT_SECRET,
                algorithm="HS256",
            )
        }
        for n in names
    ]


def _limit(stack: Stack, per_minute: int) -> None:
    values = {"rate_limit_per_minute": per_minute}
    if stack.version == "v1":
        cat_v1.put_bridge_settings_v1(stack.cat.url, values, KEY).raise_for_status()
    else:
        put_bridge_settings(stack.cat.url, values, api_key=KEY).raise_for_status()


def limiter_alone(repetitions: int = 20_000) -> float:
    """Microseconds for what the pipeline does with the limit on: admit, headers, settle (in-process store),
    over 5,000 identities, in this process."""

    async def loop() -> float:
        limiter = Limiter()
        quota = Quota(requests_per_minute=DEFAULT_LIMIT)
        started = time.perf_counter()
        for i in range(repetitions):
            lease, verdict = await limiter.admit(f"user-{i % 5000}", quota)
            verdict.headers()
            await lease.settle(0)
        return time.perf_counter() - started

    return asyncio.run(loop()) / repetitions * 1e6


def run(stack: Stack, blocks: int, per_block: int, tokens: int = 20) -> dict[str, object]:
    text = f"[[tokens:{tokens}]]"
    bridge = stack.endpoints["bridge"]
    identities = _identities(stack, max(8, blocks * per_block // PER_IDENTITY + 1))
    samples: dict[str, list[float]] = {"on": [], "off": []}
    cat_cpu = {"on": 0.0, "off": 0.0}
    pid = stack.cat.process.pid
    turn = 0
    with httpx.Client(base_url=stack.cat.url, headers=stack.headers, timeout=60) as client:
        for block in range(blocks):
            for mode in ("on", "off") if block % 2 == 0 else ("off", "on"):
                _limit(stack, DEFAULT_LIMIT if mode == "on" else 0)
                for _ in range(per_block):
                    headers = identities[turn % len(identities)]
                    turn += 1
                    before = cpu.process_seconds(pid) or 0.0
                    started = time.perf_counter()
                    response = client.post(bridge.path, json=bridge.body(text), headers=headers)
                    samples[mode].append((time.perf_counter() - started) * 1000)
                    cat_cpu[mode] += (cpu.process_seconds(pid) or 0.0) - before
                    response.raise_for_status()
                    if bridge.answer(response.json()) != expected_tokens(tokens):
                        raise RuntimeError(f"wrong answer: {response.text[:200]}")
                    limited = "x-ratelimit-limit-requests" in response.headers
                    if limited != (mode == "on"):
                        raise RuntimeError(f"limit {mode} but the headers say otherwise: {dict(response.headers)}")
    _limit(stack, 0)
    result: dict[str, object] = {mode: summary(values) for mode, values in samples.items()}
    n = blocks * per_block
    result.update(
        on_cpu_ms=cat_cpu["on"] / n * 1000,
        off_cpu_ms=cat_cpu["off"] / n * 1000,
        p50_cost_ms=result["on"]["p50"] - result["off"]["p50"],  # type: ignore[index]
        mean_cost_ms=result["on"]["mean"] - result["off"]["mean"],  # type: ignore[index]
        cpu_cost_ms=(cat_cpu["on"] - cat_cpu["off"]) / n * 1000,
        identities=len(identities),
        limiter_alone_us=limiter_alone(),
    )
    print(
        f"  rate limit {DEFAULT_LIMIT}/min on vs off: p50 {result['on']['p50']:.2f} vs {result['off']['p50']:.2f} ms "  # type: ignore[index]
        f"({result['p50_cost_ms']:+.3f}), mean {result['mean_cost_ms']:+.3f} ms, Cat CPU "
        f"{result['cpu_cost_ms']:+.3f} ms/request; the limiter alone {result['limiter_alone_us']:.1f} µs",
        flush=True,
    )
    return result
