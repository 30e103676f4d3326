"""Reading an SSE response as the OpenAI SDKs do, keeping each event's arrival time."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class Event:
    data: str
    at: float  # time.time() when the event was complete

    @property
    def json(self) -> dict | None:
        return None if self.data == "[DONE]" else json.loads(self.data)


def parse(lines: Iterable[str]) -> list[Event]:
    events: list[Event] = []
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                events.append(Event("\n".join(data), time.time()))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif line.startswith(":"):
            continue
        else:
            raise AssertionError(f"unexpected SSE line: {line!r}")
    if data:
        raise AssertionError(f"stream ended inside an event: {data!r}")
    return events


def content_of(events: list[Event]) -> str:
    out = []
    for e in events:
        body = e.json
        if body and body.get("choices"):
            out.append(body["choices"][0]["delta"].get("content") or "")
    return "".join(out)
