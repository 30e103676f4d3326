"""Stored responses through the route table on a fake Cat: read back, listed, deleted, continued, per user.

The app is `app_of`, built from the same entries the plugin registers; the
Redis-backed store is exercised here only for its failure (503), against real
sockets in the integration suite.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio

from cat_openai_bridge.core.config.settings import BridgeSettings
from cat_openai_bridge.core.guards.limits import Limiter
from cat_openai_bridge.core.route_table import PREFIX, Bridge
from testkit.fake_redis import DROP, FakeRedis

from .fake_cat import BoundedTransport, FakeCat, app_of

pytestmark = pytest.mark.asyncio

ALICE = {"Authorization": "Bearer good"}
BOB = {"Authorization": "Bearer master", "X-User": "bob"}  # the master key acting for bob


@pytest.fixture
def cat() -> FakeCat:
    return FakeCat(BridgeSettings(rate_limit_per_minute=0, request_timeout=3.0, user_header="X-User"))


@pytest_asyncio.fixture
async def client(cat: FakeCat):
    app = app_of(Bridge(cat, Limiter()))
    async with httpx.AsyncClient(transport=BoundedTransport(httpx.ASGITransport(app=app)), base_url="http://b") as c:
        yield c


async def create(client: httpx.AsyncClient, input: Any = "hi there", **extra: Any) -> dict[str, Any]:
    made = await client.post("/v1/responses", json={"model": "cheshire-cat", "input": input, **extra}, headers=ALICE)
    assert made.status_code == 200, made.text
    return made.json()


def stored_routes(response_id: str) -> list[tuple[str, str]]:
    """Every route that reads or deletes one stored response."""
    return [
        ("GET", f"/v1/responses/{response_id}"),
        ("GET", f"/v1/responses/{response_id}/input_items"),
        ("DELETE", f"/v1/responses/{response_id}"),
    ]


def not_found(response_id: str) -> dict[str, Any]:
    return {
        "error": {
            "message": f"No response with id '{response_id}' was found (or it has expired).",
            "type": "invalid_request_error",
            "param": None,
            "code": "not_found",
        }
    }


def user_message(item_id: str, text: str) -> dict[str, Any]:
    content = [{"type": "input_text", "text": text}]
    return {"type": "message", "role": "user", "content": content, "id": item_id, "status": "completed"}


async def test_a_stored_response_reads_back_lists_its_input_and_deletes(client):
    made = await create(client, metadata={"k": "v"})
    response_id = made["id"]
    assert made["store"] is True and made["metadata"] == {"k": "v"}

    again = await client.get(f"/v1/responses/{response_id}", headers=ALICE)
    assert again.status_code == 200
    assert again.json() == made
    assert (await client.get(f"{PREFIX}/v1/responses/{response_id}", headers=ALICE)).json() == made  # as served

    listed = await client.get(f"/v1/responses/{response_id}/input_items", headers=ALICE)
    assert listed.status_code == 200
    [item] = listed.json()["data"]
    assert item["id"].startswith("msg_")
    assert listed.json() == {
        "object": "list",
        "data": [user_message(item["id"], "hi there")],
        "first_id": item["id"],
        "last_id": item["id"],
        "has_more": False,
    }

    deleted = await client.delete(f"/v1/responses/{response_id}", headers=ALICE)
    assert deleted.status_code == 200
    assert deleted.json() == {"id": response_id, "object": "response", "deleted": True}

    for method, path in stored_routes(response_id):
        gone = await client.request(method, path, headers=ALICE)
        assert (method, path, gone.status_code) == (method, path, 404)
        assert gone.json() == not_found(response_id)


async def test_continuing_sends_the_chain_and_lists_only_its_own_input(client, cat):
    first = await create(client, "My name is Ada")
    follow = await create(client, "What is my name?", previous_response_id=first["id"])
    assert follow["previous_response_id"] == first["id"]
    assert [(turn.role, turn.text) for turn in cat.turns[-1].conversation.turns] == [
        ("user", "My name is Ada"),
        ("assistant", "Hello there!"),
        ("user", "What is my name?"),
    ]
    listed = (await client.get(f"/v1/responses/{follow['id']}/input_items", headers=ALICE)).json()
    assert [item["content"][0]["text"] for item in listed["data"]] == ["What is my name?"]
    assert listed["has_more"] is False and listed["first_id"] == listed["last_id"] == listed["data"][0]["id"]

    assert (await client.delete(f"/v1/responses/{first['id']}", headers=ALICE)).status_code == 200
    cannot = await client.post(
        "/v1/responses",
        json={"model": "cheshire-cat", "input": "x", "previous_response_id": first["id"]},
        headers=ALICE,
    )
    assert cannot.status_code == 404
    assert cannot.json()["error"]["param"] == "previous_response_id"
    assert (await client.get(f"/v1/responses/{follow['id']}", headers=ALICE)).json() == follow  # the chain's copy


async def test_input_items_pages_by_order_limit_and_after(client):
    texts = ["one", "two", "three"]
    made = await create(client, [{"role": "user", "content": text} for text in texts])
    path = f"/v1/responses/{made['id']}/input_items"

    newest_first = await client.get(path, headers=ALICE)
    assert newest_first.status_code == 200
    ids = [item["id"] for item in reversed(newest_first.json()["data"])]
    assert newest_first.json()["data"] == [
        {"type": "message", "role": "user", "content": text, "id": item_id, "status": "completed"}
        for item_id, text in reversed(list(zip(ids, texts)))
    ]

    page = await client.get(path, params={"order": "asc", "limit": "2"}, headers=ALICE)
    assert page.status_code == 200
    assert [item["id"] for item in page.json()["data"]] == ids[:2]
    assert (page.json()["first_id"], page.json()["last_id"], page.json()["has_more"]) == (ids[0], ids[1], True)

    rest = await client.get(path, params={"order": "asc", "limit": "2", "after": ids[1]}, headers=ALICE)
    assert rest.status_code == 200
    assert rest.json() == {
        "object": "list",
        "data": [newest_first.json()["data"][0]],
        "first_id": ids[2],
        "last_id": ids[2],
        "has_more": False,
    }

    unknown = await client.get(path, params={"after": "msg_unknown"}, headers=ALICE)
    assert unknown.status_code == 200
    assert unknown.json() == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


@pytest.mark.parametrize(
    "params,param,message",
    [
        ({"limit": "0"}, "limit", "Invalid 'limit': expected 1 to 100."),
        ({"limit": "101"}, "limit", "Invalid 'limit': expected 1 to 100."),
        ({"limit": "9" * 5000}, "limit", "Invalid 'limit': expected 1 to 100."),
        ({"limit": "-1"}, "limit", "Invalid 'limit': expected 1 to 100."),
        ({"order": "up"}, "order", "Invalid 'order': expected 'asc' or 'desc'."),
    ],
    ids=["zero", "over-100", "5000-digits", "negative", "order"],
)
async def test_input_items_refuses_bad_paging_with_a_400(client, params, param, message):
    made = await create(client)
    refused = await client.get(f"/v1/responses/{made['id']}/input_items", params=params, headers=ALICE)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": "invalid_value"}
    }


async def test_another_users_response_does_not_exist_for_them(client):
    made = await create(client)
    response_id = made["id"]
    for method, path in stored_routes(response_id):
        other = await client.request(method, path, headers=BOB)
        assert (method, path, other.status_code) == (method, path, 404)
        assert other.json() == not_found(response_id)
    assert (await client.get(f"/v1/responses/{response_id}", headers=ALICE)).json() == made  # untouched


@pytest.mark.parametrize(
    "method,path",
    [("GET", "/v1/responses/resp_x"), ("GET", "/v1/responses/resp_x/input_items"), ("DELETE", "/v1/responses/resp_x")],
    ids=["get", "input-items", "delete"],
)
async def test_reading_or_deleting_needs_credentials_then_a_missing_id_is_404(client, method, path):
    unauthenticated = await client.request(method, path)
    assert unauthenticated.status_code == 401
    assert (unauthenticated.json()["error"]["code"], unauthenticated.json()["error"]["param"]) == (
        "invalid_api_key",
        None,
    )
    missing = await client.request(method, path, headers=ALICE)
    assert missing.status_code == 404
    assert missing.json() == not_found("resp_x")


async def test_store_false_keeps_nothing(client):
    made = await create(client, store=False)
    assert made["store"] is False
    assert (await client.get(f"/v1/responses/{made['id']}", headers=ALICE)).status_code == 404


async def test_an_unreachable_store_is_503_with_retry_after(client, cat):
    with FakeRedis(DROP) as redis:
        cat.settings = BridgeSettings(rate_limit_per_minute=0, request_timeout=3.0, redis_url=redis.url)
        for method, path in (
            ("GET", "/v1/responses/resp_x"),
            ("GET", "/v1/responses/resp_x/input_items"),
            ("DELETE", "/v1/responses/resp_x"),
        ):
            failed = await client.request(method, path, headers=ALICE)
            assert (method, path, failed.status_code) == (method, path, 503)
            assert failed.headers["retry-after"] == "1"
            assert failed.json() == {
                "error": {
                    "message": "The response store (Redis) is unreachable; try again.",
                    "type": "api_error",
                    "param": None,
                    "code": "store_unavailable",
                }
            }
