"""Home Assistant's Assist on the Cat: its own Ollama integration, given the bridge's URL (a user's JWT in its path,
as it has no key field), turns a light on through the Cat's turn. Home Assistant runs for real (testkit/
home_assistant.py); the Cat's scripted LLM answers "turn on the kitchen light" with a HassTurnOn call (a rule: the
words are Home Assistant's user's, no directive can ride in them), then with what the tool said."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import httpx
import pytest

from testkit import home_assistant
from testkit.processes import Server

from .conftest import cat_jwt

pytestmark = pytest.mark.v2_only  # client tools: Cat v1's agent cannot hand a call back

SAID = "turn on the kitchen light"
TURN_ON = '[[call:HassTurnOn:{"name": "kitchen light"}]]'


@pytest.fixture(scope="module")
def hass(tmp_path_factory) -> Iterator[Server]:
    if not home_assistant.installed():
        missing = "Home Assistant is not installed: scripts/home-assistant.sh makes .venv-homeassistant (Python 3.13)"
        if os.environ.get("CI", "false") not in ("", "false"):
            pytest.fail(f"CI must run the Home Assistant test. {missing}")
        pytest.skip(missing)
    server = home_assistant.start_home_assistant(tmp_path_factory.mktemp("home-assistant"))
    yield server
    server.stop()


@pytest.fixture
def rule(llm) -> Iterator[None]:
    httpx.post(llm.url + "/_rules", json={"when": SAID, "then": TURN_ON}).raise_for_status()
    yield
    httpx.delete(llm.url + "/_rules").raise_for_status()


def test_assist_turns_the_kitchen_light_on_through_the_cat(cat, hass, rule, llm_log):
    house = home_assistant.HomeAssistant(hass.url)
    entry = house.add_ollama(f"{cat.url}/custom/ollama/{cat_jwt('home-assistant')}", "cheshire-cat:latest")
    assert house.state("light.kitchen_light") == "off"
    reply = house.say(SAID, entry)
    assert house.state("light.kitchen_light") == "on"
    speech = reply["response"]["speech"]["plain"]["speech"]
    assert speech.startswith("Tool said: ") and "light.kitchen_light" in speech  # the Cat's answer to the result
    first, after = [entry["body"] for entry in llm_log()]
    assert "HassTurnOn" in [tool["function"]["name"] for tool in first["tools"]]
    assert "Kitchen Light" in first["messages"][0]["content"]  # Home Assistant's entity overview, in the agent's prompt
    call = next(m for m in after["messages"] if m.get("tool_calls"))["tool_calls"][0]["function"]
    assert (call["name"], json.loads(call["arguments"])) == ("HassTurnOn", {"name": "kitchen light"})
    assert "action_done" in [m for m in after["messages"] if m["role"] == "tool"][0]["content"]
