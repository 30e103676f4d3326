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


@pytest.mark.parametrize("attack", hostile.ATTACKS, ids=[a.name for a in hostile.ATTACKS])
def test_the_neighbour_keeps_being_answered(cat, settings, base_url, attack):
    settings(**attack.settings)
    attacker = {"Authorization": f"Bearer {cat_jwt(f'mallory-{uuid.uuid4().hex[:6]}')}"}
    neighbour = {"Authorization": f"Bearer {cat_jwt(f'nina-{uuid.uuid4().hex[:6]}')}"}
    outcome = asyncio.run(hostile.under_attack(cat.url, attacker, neighbour, attack))
    assert set(outcome.attacker) <= attack.expect, outcome.attacker  # refused or served, never a 5xx
    assert sum(outcome.attacker.values()) == attack.requests
    assert dict(outcome.neighbour) == {200: len(outcome.latencies)} and len(outcome.latencies) >= 10, outcome.neighbour
