"""While one identity sends hostile bodies, another identity's requests keep being answered.

The attacks are testkit.hostile.ATTACKS (add a case there); how fast the neighbour is answered meanwhile is
measured by bench/neighbour.py, never asserted here.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from testkit import hostile

from .conftest import cat_jwt

# A 150,000-character turn or a 1 MB history takes Cat v1 minutes through its memory (embedding, recall, storage):
# the attacker's requests time out there. These bounds are the Cat v2's findings (issue #22).
V1_TOO_LONG = {"150,000 one-letter text parts in one chat message", "a 1 MB stored chain, continued"}


@pytest.mark.parametrize("attack", hostile.ATTACKS, ids=[a.name for a in hostile.ATTACKS])
def test_the_neighbour_keeps_being_answered(cat, settings, base_url, attack, adapter):
    if adapter == "v1" and attack.name in V1_TOO_LONG:
        pytest.skip("Cat v1 takes minutes over a turn this long (its memory), past the attack's timeout")
    settings(**attack.settings)
    attacker = {"Authorization": f"Bearer {cat_jwt(f'mallory-{uuid.uuid4().hex[:6]}')}"}
    neighbour = {"Authorization": f"Bearer {cat_jwt(f'nina-{uuid.uuid4().hex[:6]}')}"}
    outcome = asyncio.run(hostile.under_attack(cat.url, attacker, neighbour, attack))
    assert set(outcome.attacker) <= attack.expect, outcome.attacker  # refused or served, never a 5xx
    assert sum(outcome.attacker.values()) == attack.requests
    assert dict(outcome.neighbour) == {200: len(outcome.latencies)} and len(outcome.latencies) >= 10, outcome.neighbour
