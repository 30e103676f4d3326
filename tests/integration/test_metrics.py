"""`GET /custom/metrics` on a real Cat (v2 and v1): who may read it, and figures that follow the traffic sent."""

from __future__ import annotations

import httpx

from testkit import sse
from testkit.prometheus import samples, value

from .conftest import KEY, cat_jwt, user_says

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ROUTE = {"route": "chat.completions", "model": "cheshire-cat"}


def scrape(cat, token: str = KEY) -> dict:
    response = httpx.get(cat.url + "/custom/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE
    return samples(response.text)


def test_admins_and_the_scrape_token_only(cat, settings, adapter):
    def status(headers: dict) -> httpx.Response:
        return httpx.get(cat.url + "/custom/metrics", headers=headers, timeout=30)

    missing = status({})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    user = status({"Authorization": f"Bearer {cat_jwt('metrics-reader')}"})
    assert user.status_code == 403 and user.json()["error"]["code"] == "insufficient_permissions"
    assert status({"Authorization": "Bearer scrape-me"}).status_code == 401
    settings(metrics_token="scrape-me")
    found = scrape(cat, token="scrape-me")
    assert value(found, "openai_bridge_info", plugin_version=_plugin_version(), adapter=adapter, cat_version=_cat(cat))
    assert status({"Authorization": "Bearer scrape-me-not"}).status_code == 401
    assert status({"Authorization": f"Bearer {KEY}"}).status_code == 200  # the master key is the Cat's admin


def test_figures_follow_the_traffic(cat, http):
    before = scrape(cat)
    answer = http.post(
        "/custom/v1/chat/completions", json={"model": "cheshire-cat", "messages": user_says("[[reply:one two]]")}
    ).json()
    with http.stream(
        "POST",
        "/custom/v1/chat/completions",
        json={
            "model": "cheshire-cat",
            "messages": user_says("[[tokens:3]]"),
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ) as r:
        events = sse.parse(r.iter_lines())
    streamed = events[-2].json["usage"]
    assert http.post("/custom/v1/chat/completions", json={"model": "gpt-9", "messages": user_says("x")}).status_code
    after = scrape(cat)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("openai_bridge_requests_total", status="200", **ROUTE) == 2
    assert grew("openai_bridge_requests_total", route="chat.completions", status="404", model="") == 1
    prompt = answer["usage"]["prompt_tokens"] + streamed["prompt_tokens"]
    assert grew("openai_bridge_prompt_tokens_total", **ROUTE) == prompt
    completion = answer["usage"]["completion_tokens"] + streamed["completion_tokens"]
    assert grew("openai_bridge_completion_tokens_total", **ROUTE) == completion
    assert grew("openai_bridge_request_duration_seconds_count", route="chat.completions") == 3
    assert grew("openai_bridge_time_to_first_token_seconds_count", route="chat.completions") == 1
    assert value(after, "openai_bridge_requests_in_flight", route="chat.completions") == 0


def _plugin_version() -> str:
    from cat_openai_bridge.core.config.version import PLUGIN_VERSION

    return PLUGIN_VERSION


def _cat(cat) -> str:
    return httpx.get(cat.url + "/custom/health", timeout=30).json()["cat_version"]
