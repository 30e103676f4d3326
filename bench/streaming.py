"""2. Streaming: first byte and first token of our SSE vs the LLM's first token and the Cat's native AG-UI stream."""

from __future__ import annotations

import time
import uuid
from typing import Dict, List

import httpx

from .bodies import BRIDGE_CHAT, NATIVE_MESSAGE, bridge_body, native_body
from .stack import Stack
from .stats import summary


def _first_token(client: httpx.Client, path: str, body: dict, marker: str) -> Dict[str, float]:
    started_wall, started = time.time(), time.perf_counter()
    with client.stream("POST", path, json=body) as response:
        first_byte = None
        first_token = None
        for line in response.iter_lines():  # read the whole answer, as a client would
            if first_byte is None:
                first_byte = time.perf_counter()
            if first_token is None and marker in line:
                first_token = time.perf_counter()
        if first_byte is not None and first_token is not None:
            return {"ttfb_ms": (first_byte - started) * 1000, "ttft_ms": (first_token - started) * 1000,
                        "started_wall": started_wall, "first_token_wall": started_wall + (first_token - started)}
    raise RuntimeError(f"no token in the stream of {path}")


def run(stack: Stack, repetitions: int, delay_ms: int = 20, tokens: int = 20) -> Dict[str, dict]:
    rows: Dict[str, List[Dict[str, float]]] = {"bridge": [], "native": []}
    httpx.delete(stack.llm.url + "/_requests").raise_for_status()
    with httpx.Client(base_url=stack.cat.url, headers=stack.headers, timeout=60) as client:
        for i in range(repetitions + 3):
            for name in (("bridge", "native") if i % 2 == 0 else ("native", "bridge")):
                tag = uuid.uuid4().hex
                text = f"{tag} [[tokens:{tokens}]] [[delay:{delay_ms}]]"
                if name == "bridge":
                    row = _first_token(client, BRIDGE_CHAT, bridge_body(text, stream=True), '"content":" t')
                else:
                    row = _first_token(client, NATIVE_MESSAGE, native_body(text, stream=True), "TEXT_MESSAGE_CONTENT")
                row["tag"] = tag  # type: ignore[assignment]
                if i >= 3:  # the first rounds warm up
                    rows[name].append(row)
        log = httpx.get(stack.llm.url + "/_requests").json()
    llm_first = {}
    for entry in log:
        for tag in [r["tag"] for rs in rows.values() for r in rs]:
            if tag in str(entry["body"]["messages"]):
                llm_first[tag] = entry["first_token_at"]
    result: Dict[str, dict] = {}
    for name, items in rows.items():
        after_llm = [(r["first_token_wall"] - llm_first[r["tag"]]) * 1000 for r in items if llm_first.get(r["tag"])]
        result[name] = {"ttfb": summary([r["ttfb_ms"] for r in items]),
                        "ttft": summary([r["ttft_ms"] for r in items]),
                        "after_llm_token": summary(after_llm)}
    result["first_token_gap_ms"] = result["bridge"]["ttft"]["p50"] - result["native"]["ttft"]["p50"]
    return result
