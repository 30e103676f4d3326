"""2. Streaming: first byte and first token of our SSE vs the LLM's first token and the Cat's native stream
(v2: AG-UI SSE; v1: websocket tokens)."""

from __future__ import annotations

import time
import uuid

import httpx

from . import ws
from .bodies import Endpoint
from .stack import Stack
from .stats import summary


def _first_token_sse(client: httpx.Client, endpoint: Endpoint, text: str) -> dict[str, float]:
    marker = endpoint.token_marker.encode()
    started_wall, started = time.time(), time.perf_counter()
    first_byte = first_token = None
    seen = b""
    body = endpoint.body(text, stream=True)
    with client.stream("POST", endpoint.path, json=body, headers=endpoint.headers()) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():  # read the whole answer, as a client would
            if not chunk:
                continue
            now = time.perf_counter()
            if first_byte is None:
                first_byte = now
            if first_token is None:
                seen = seen[-len(marker) :] + chunk  # a marker split across chunks is still found
                if marker in seen:
                    first_token = now
    if first_byte is None or first_token is None:
        raise RuntimeError(f"no token in the stream of {endpoint.path}")
    return {
        "ttfb_ms": (first_byte - started) * 1000,
        "ttft_ms": (first_token - started) * 1000,
        "started_wall": started_wall,
        "first_token_wall": started_wall + (first_token - started),
    }


def run(stack: Stack, repetitions: int, delay_ms: int = 20, tokens: int = 20, warmup: int = 3) -> dict[str, dict]:
    rows: dict[str, list[dict[str, float]]] = {"bridge": [], "native": []}
    httpx.delete(stack.llm.url + "/_requests").raise_for_status()
    with httpx.Client(base_url=stack.cat.url, headers=stack.headers, timeout=60) as client, stack.socket() as socket:
        for i in range(repetitions + warmup):
            for name in ("bridge", "native") if i % 2 == 0 else ("native", "bridge"):
                endpoint = stack.endpoints[name]
                tag = uuid.uuid4().hex
                endpoint.fresh(client, stream=True)  # untimed: the user's stored conversation starts empty
                text = f"{tag} [[tokens:{tokens}]] [[delay:{delay_ms}]]"
                row = (
                    ws.first_token(socket, text)
                    if endpoint.stream == "ws"
                    else _first_token_sse(client, endpoint, text)
                )
                row["tag"] = tag  # type: ignore[assignment]
                if i >= warmup:
                    rows[name].append(row)
    llm_first: dict[str, float | None] = {}
    for entry in httpx.get(stack.llm.url + "/_requests").json():
        text = str(entry["body"]["messages"][-1])
        for rs in rows.values():
            for r in rs:
                if r["tag"] in text:
                    llm_first[r["tag"]] = entry["first_token_at"]
    result: dict[str, dict] = {}
    for name, items in rows.items():
        timed = [r for r in items if llm_first.get(r["tag"])]
        result[name] = {
            "ttfb": summary([r["ttfb_ms"] for r in items]),
            "ttft": summary([r["ttft_ms"] for r in items]),
            # when the LLM server sent its first token, counted from the client's request
            "llm_first_token": summary([(llm_first[r["tag"]] - r["started_wall"]) * 1000 for r in timed]),
            # how long that token took to reach the client through this path
            "after_llm_token": summary([(r["first_token_wall"] - llm_first[r["tag"]]) * 1000 for r in timed]),
        }
    result["first_token_gap_ms"] = result["bridge"]["ttft"]["p50"] - result["native"]["ttft"]["p50"]
    # each bridge stream minus the native one of the same round: drift on a shared machine cancels out
    pairs = zip(rows["bridge"], rows["native"], strict=True)
    result["paired_gap"] = summary([b["ttft_ms"] - n["ttft_ms"] for b, n in pairs])
    result["after_llm_gap_ms"] = result["bridge"]["after_llm_token"]["p50"] - result["native"]["after_llm_token"]["p50"]
    return result
