"""`/v1/models` and `/custom/health` on a fake Cat (conftest.py): the model the Cat serves, and a health check that
needs no credentials."""

from __future__ import annotations

import pytest

from .http_kit import GOOD, assert_request_id, error

pytestmark = pytest.mark.asyncio


async def test_health_needs_no_credentials(client):
    for headers in ({}, {"Authorization": "Bearer weak"}, {"Authorization": "Bearer nope"}):
        response = await client.get("/custom/health", headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert {k: body[k] for k in ("status", "cat_version", "adapter", "llm_configured")} == {
            "status": "ok",
            "cat_version": "0.0-fake",
            "adapter": "fake",
            "llm_configured": True,
        }
        assert_request_id(response)


async def test_models_list_and_get(client):
    listed = await client.get("/v1/models", headers=GOOD)
    assert listed.status_code == 200
    assert [(m["id"], m["object"], m["owned_by"]) for m in listed.json()["data"]] == [("cheshire-cat", "model", "fake")]
    one = await client.get("/v1/models/cheshire-cat", headers=GOOD)
    assert one.status_code == 200 and one.json()["id"] == "cheshire-cat"
    missing = await client.get("/v1/models/org/gpt-4o", headers=GOOD)
    assert missing.status_code == 404
    assert missing.json() == error(
        "The model `org/gpt-4o` does not exist or you do not have access to it.", param="model", code="model_not_found"
    )
    assert_request_id(missing)
