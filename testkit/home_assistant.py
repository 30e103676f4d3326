"""A real Home Assistant, offline on loopback, set up the way a user does it but through its REST API: onboarded,
its Ollama integration added by config flow with the bridge's URL, Assist given control (the `assist` LLM API).

Home Assistant lives in its own venv (`.venv-homeassistant`, Python 3.13, made by scripts/home-assistant.sh): its
pins conflict with the Cat's. It runs with `--skip-pip` (every integration's requirement is installed with it) and
a configuration of only what the test needs: no `default_config`, so no cloud, discovery, updates or analytics.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from testkit.processes import REPO, Server, free_port, start

VERSION = "2025.4.4"  # the newest release on Python 3.13.0; its Ollama integration uses ollama 0.4.7
VENV = Path(REPO / ".venv-homeassistant")
USER = {"name": "Test", "username": "test", "password": "test-password-1", "language": "en"}

CONFIGURATION = """\
homeassistant:
  name: Bridge test
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
  country: US
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
config:
onboarding:
conversation:
input_boolean:
  kitchen_power:
    name: Kitchen power
light:
  - platform: template
    lights:
      kitchen_light:
        friendly_name: Kitchen Light
        value_template: "{{{{ is_state('input_boolean.kitchen_power', 'on') }}}}"
        turn_on:
          action: input_boolean.turn_on
          target:
            entity_id: input_boolean.kitchen_power
        turn_off:
          action: input_boolean.turn_off
          target:
            entity_id: input_boolean.kitchen_power
"""


def installed() -> bool:
    return (VENV / "bin" / "hass").exists()


def start_home_assistant(config_dir: Path) -> Server:
    config_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (config_dir / "configuration.yaml").write_text(CONFIGURATION.format(port=port))
    args = [str(VENV / "bin" / "hass"), "--config", str(config_dir), "--skip-pip", "--log-no-color"]
    return start(args, port, "/api/onboarding", config_dir / "hass.log", timeout=180, ready=lambda s: s == 200)


class HomeAssistant:
    """Its REST API as the onboarded owner."""

    def __init__(self, url: str) -> None:
        self.url = url
        client_id = url + "/"
        created = httpx.post(url + "/api/onboarding/users", json={"client_id": client_id, **USER}, timeout=60)
        created.raise_for_status()
        grant = {"grant_type": "authorization_code", "code": created.json()["auth_code"], "client_id": client_id}
        token = httpx.post(url + "/auth/token", data=grant, timeout=60).raise_for_status().json()["access_token"]
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120)

    def post(self, path: str, body: dict) -> dict:
        return self.http.post(path, json=body).raise_for_status().json()

    def flow(self, kind: str, handler: str, *steps: dict) -> dict:
        """A config (or options) flow, each step's form filled with the next `steps`; its last answer."""
        base = f"/api/config/config_entries/{kind}"
        answer = self.post(base, {"handler": handler, "show_advanced_options": False})
        for step in steps:
            assert answer["type"] == "form", answer
            answer = self.post(f"{base}/{answer['flow_id']}", step)
        return answer

    def add_ollama(self, base_url: str, model: str) -> str:
        """The Ollama integration on `base_url`, with control of the house (Assist): its config entry id."""
        entry = self.flow("flow", "ollama", {"url": base_url}, {"model": model})
        assert entry["type"] == "create_entry", entry
        entry_id = entry["result"]["entry_id"]
        options = self.flow("options/flow", entry_id, {"llm_hass_api": "assist"})
        assert options["type"] == "create_entry", options
        self.wait_until_loaded(entry_id)
        return entry_id

    def wait_until_loaded(self, entry_id: str, seconds: float = 60) -> None:
        """Changed options reload the entry."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            entries = self.http.get("/api/config/config_entries/entry").raise_for_status().json()
            if any(e["entry_id"] == entry_id and e["state"] == "loaded" for e in entries):
                return
            time.sleep(0.2)
        raise AssertionError(f"the Ollama entry did not load: {entries}")

    def state(self, entity_id: str) -> str:
        return self.http.get(f"/api/states/{entity_id}").raise_for_status().json()["state"]

    def say(self, text: str, agent_id: str) -> dict:
        return self.post("/api/conversation/process", {"text": text, "language": "en", "agent_id": agent_id})
