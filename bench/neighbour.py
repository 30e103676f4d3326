"""A neighbour's latency while another identity attacks: `python -m bench.neighbour [--v1] [--rounds N]`.

For each attack of testkit.hostile.ATTACKS (the list the hostile-neighbour test runs), a neighbour sends ordinary
chat requests one after another: first alone (the baseline), then while the attacker sends its bodies. Prints the
neighbour's p50 and p99 latency in both, and what the attacker got. One fresh Cat (v2, or v1 with --v1 and
CAT_V1_CORE) with the scripted LLM, on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
import warnings

import jwt

from testkit import cat_v1, hostile
from testkit.cat_v2 import put_bridge_settings

from .stack import KEY, Stack, start_stack

JWT_SECRET = "meow_jwt"  # the Cat v2's default JWT_SECRET


def identity(stack: Stack, name: str) -> dict[str, str]:
    """An identity of its own: a JWT on v2; on v1 the master key naming a user (v1's `user_id` header)."""
    if stack.version == "v1":
        return {"Authorization": f"Bearer {KEY}", "user_id": name}
    warnings.filterwarnings("ignore", message="The HMAC key")  # the Cat's default secret is short
    claims = {
        "sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
        "username": name,
        "roles": [],
        "exp": time.time() + 3600,
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


def apply(stack: Stack, values: dict) -> None:
    settings = {"rate_limit_per_minute": 0, **values}
    if stack.version == "v1":
        cat_v1.put_bridge_settings_v1(stack.cat.url, settings, KEY).raise_for_status()
    else:
        put_bridge_settings(stack.cat.url, settings, api_key=KEY).raise_for_status()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def run(stack: Stack, rounds: int, baseline_requests: int, only: str = "") -> list[dict]:
    rows = []
    asyncio.run(hostile.under_attack(stack.cat.url, {}, identity(stack, "warm-up"), None, 30))  # pools, caches
    for attack in [a for a in hostile.ATTACKS if any(o.lower() in a.name.lower() for o in only.split("|"))]:
        apply(stack, attack.settings)
        alone = asyncio.run(
            hostile.under_attack(
                stack.cat.url, {}, identity(stack, f"nina-{uuid.uuid4().hex[:6]}"), None, baseline_requests
            )
        )
        attacked = hostile.Outcome()
        for _ in range(rounds):
            one = asyncio.run(
                hostile.under_attack(
                    stack.cat.url,
                    identity(stack, f"mallory-{uuid.uuid4().hex[:6]}"),
                    identity(stack, f"nina-{uuid.uuid4().hex[:6]}"),
                    attack,
                )
            )
            attacked.attacker.update(one.attacker)
            attacked.neighbour.update(one.neighbour)
            attacked.latencies += one.latencies
            attacked.attack_seconds += one.attack_seconds
        stack.check_alive()
        rows.append(
            {
                "attack": attack.name,
                "alone": (alone.p(0.5), alone.p(0.99), len(alone.latencies)),
                "attacked": (attacked.p(0.5), attacked.p(0.99), len(attacked.latencies)),
                "neighbour": dict(attacked.neighbour),
                "attacker": dict(attacked.attacker),
                "seconds": attacked.attack_seconds / rounds,
            }
        )
    apply(stack, {})
    return rows


def table(version: str, rows: list[dict]) -> str:
    lines = [
        f"Cat {version}: the neighbour's chat latency alone and during each attack",
        "",
        "| attack | alone p50 / p99 (n) | during p50 / p99 (n) | neighbour got | attacker got | one attack took |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        (a50, a99, an), (d50, d99, dn) = row["alone"], row["attacked"]
        lines.append(
            f"| {row['attack']} | {ms(a50)} / {ms(a99)} ({an}) | {ms(d50)} / {ms(d99)} ({dn}) | "
            f"{row['neighbour']} | {row['attacker']} | {row['seconds']:.1f} s |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--v1", action="store_true", help="the Cat v1 from CAT_V1_CORE instead of v2")
    parser.add_argument("--rounds", type=int, default=3, help="times each attack runs (default 3)")
    parser.add_argument("--baseline", type=int, default=100, help="neighbour requests without an attack (100)")
    parser.add_argument(
        "--only", default="", help="only the attacks whose name contains one of these texts (separated by |)"
    )
    args = parser.parse_args()
    version = "v1" if args.v1 else "v2"
    stack = start_stack(version)
    try:
        print(table(version, run(stack, args.rounds, args.baseline, args.only)))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
