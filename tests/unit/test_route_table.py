"""The one route table, as the unit tests' app and as the plugin registers it with the Cat (v2, installed here).

The plugin's side runs the real `routes.py` endpoints in a FastAPI app, with
`bridge()` swapped for one on a fake Cat: the paths, path parameters,
function names and /docs bodies come from the table, and each reaches its route.
"""

from __future__ import annotations

import httpx
import pytest

from cat_openai_bridge.core.http import openapi
from cat_openai_bridge.core.route_table import ENTRIES, PATH_PARAMETER, PREFIX, Bridge

from .fake_cat import FakeCat, app_of

GOOD = {"Authorization": "Bearer good"}


def test_every_entry_is_distinct_and_documents_its_body():
    assert len({entry.name for entry in ENTRIES}) == len(ENTRIES)
    assert len({(entry.method, entry.path) for entry in ENTRIES}) == len(ENTRIES)
    assert all(entry.body is not None and entry.errors for entry in ENTRIES if entry.method == "POST")
    assert all(entry.body is None for entry in ENTRIES if entry.method != "POST")


def test_the_unit_tests_app_serves_every_entry_where_the_plugin_does_and_at_v1():
    served = {(method, route.path) for route in app_of(Bridge(FakeCat())).routes for method in route.methods or ()}
    assert {(entry.method, PREFIX + entry.path) for entry in ENTRIES} <= served
    assert {(entry.method, entry.path) for entry in ENTRIES if entry.path.startswith("/v1/")} <= served
    assert ("GET", "/v1/responses/{response_id}/input_items") in served
    assert ("DELETE", "/v1/responses/{response_id}") in served


@pytest.fixture
def plugin(monkeypatch):
    """A FastAPI app with the plugin's registered endpoints, as the Cat v2 mounts them, on a fake Cat."""
    decorators = pytest.importorskip("cat.mad_hatter.decorators.endpoint")
    if not hasattr(decorators, "EndpointDecorator"):  # pragma: no cover - a Cat v1 installed instead
        pytest.skip("the plugin's registration is checked against Cat v2's decorators")
    from fastapi import FastAPI  # the Cat's: not in the Python 3.10 compatibility venv, which skips here

    from cat_openai_bridge import routes

    bridge = Bridge(FakeCat())
    monkeypatch.setattr(routes, "bridge", lambda: bridge)
    app = FastAPI()
    for entry in ENTRIES:
        app.include_router(getattr(routes, f"openai_bridge_{entry.name}"))
    return app


def test_the_plugin_registers_every_entry_with_its_documented_body_and_errors(plugin):
    document = plugin.openapi()
    for entry in ENTRIES:
        operation = document["paths"][PATH_PARAMETER.sub(r"{\1}", PREFIX + entry.path)][entry.method.lower()]
        assert operation["operationId"].startswith(f"openai_bridge_{entry.name}_")
        assert [p["name"] for p in operation.get("parameters", [])] == list(entry.path_parameters)
        if entry.body is not None:  # FastAPI rewrites the schema a little (defaults): its shape stays ours
            [(media, declared)] = openapi.body(entry.body)["requestBody"]["content"].items()
            shown = operation["requestBody"]["content"][media]["schema"]
            assert (shown["title"], shown["required"], set(shown["properties"])) == (
                declared["schema"]["title"],
                declared["schema"]["required"],
                set(declared["schema"]["properties"]),
            )
        assert set(entry.errors or ()) <= {int(status) for status in operation["responses"] if status.isdigit()}
    assert len([op for ops in document["paths"].values() for op in ops]) == len(ENTRIES)


@pytest.mark.asyncio
async def test_each_plugin_endpoint_reaches_its_route_with_its_path_parameters(plugin):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=plugin), base_url="http://cat") as client:
        model = await client.get(f"{PREFIX}/v1/models/cheshire-cat", headers=GOOD)
        assert (model.status_code, model.json()["id"]) == (200, "cheshire-cat")
        unknown = await client.get(f"{PREFIX}/v1/models/org/gpt-4o", headers=GOOD)
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "model_not_found")
        made = await client.post(f"{PREFIX}/v1/responses", json={"model": "cheshire-cat", "input": "Hi"}, headers=GOOD)
        assert made.status_code == 200
        path = f"{PREFIX}/v1/responses/{made.json()['id']}"
        assert (await client.get(path, headers=GOOD)).json() == made.json()
        assert (await client.get(path + "/input_items", headers=GOOD)).json()["data"][0]["content"][0]["text"] == "Hi"
        assert (await client.delete(path, headers=GOOD)).json()["deleted"] is True
        assert (await client.get(path, headers=GOOD)).status_code == 404
        invalid = await client.post(f"{PREFIX}/v1/chat/completions", json={"model": "cheshire-cat"}, headers=GOOD)
        assert (invalid.status_code, invalid.json()["error"]["param"]) == (400, "messages")  # ours, not FastAPI's
        assert (await client.get(f"{PREFIX}/health")).status_code == 200
