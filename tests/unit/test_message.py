"""`/custom/message`, the Cat's own simple route, on a fake Cat (conftest.py): it echoes the user the turn ran as."""

from __future__ import annotations

import pytest

from cat_openai_bridge.core.turn.port import TurnResult

from .http_kit import GOOD as JWT_USER  # alice, an ordinary Cat user
from .http_kit import MASTER
from .http_kit import limit as configure

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    "headers,trust,echoed",
    [(JWT_USER, True, "alice"), (MASTER, False, "admin"), (MASTER, True, "bob")],
    ids=["jwt-user-ignored", "master-untrusted-ignored", "master-trusted"],
)
async def test_message_echoes_the_user_the_turn_ran_as_never_an_ignored_user_id(client, cat, headers, trust, echoed):
    configure(cat, trust_user_field=trust)
    cat.script(TurnResult("Hello", prompt_tokens=1))
    response = await client.post("/custom/message", json={"text": "Hi", "user_id": "bob"}, headers=headers)
    assert response.status_code == 200 and response.json()["user_id"] == echoed
    assert cat.turns[0].identity.user_id == echoed
