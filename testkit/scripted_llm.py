"""A deterministic OpenAI-compatible LLM server for tests and benchmarks.

The Cat reaches it through its own OpenAI-compatible provider, so everything
from the Cat's LLM client upward is real. Replies are scripted by directives in
the last user message (the Cat passes them through untouched):

    [[reply:TEXT]]      answer TEXT (otherwise "Echo: <last user text>")
    [[tokens:N]]        answer N tokens " t0 t1 ..."
    [[pad:W]]           make each token of [[tokens:N]] W characters wider (" t0xxxx..."): big answers, few tokens
    [[delay:MS]]        wait MS milliseconds before each token
    [[fail:status:S]]   answer HTTP S with an OpenAI error object
    [[fail:after:K]]    stream K tokens, then drop the connection (unstreamed: a JSON body cut short)
    [[hang]]            never answer
    [[garbage]]         answer bytes that are not JSON
    [[system]]          answer the system prompt it was sent (what the Cat told its LLM)
    [[call:NAME:JSON]]  call tool NAME with arguments JSON (repeatable: parallel calls in one step)
    [[next]]            the calls after it are the next step: the model calls them once the
                        previous step's results are in (one step per tool round of this turn)
                        Once every step has its results, answer "Tool said: <every tool result>".
    [[stubborn]]        in any user message: when the last user message has no directive (e.g. the
                        bridge's corrective re-ask), obey the last user message that has some
    [[gate:NAME]]       (streams) after the first token, send nothing more until POST /_gates/NAME
                        opens the gate (or GATE_SECONDS pass); the log says "opened" or "timed out".
                        A test that opens it only once it holds the first token proves the token came
                        through before the LLM went on, without timing anything.

Rules stand in for directives a client's user cannot type (Home Assistant's "turn on the kitchen light"):
POST /_rules {"when": TEXT, "then": DIRECTIVES} makes a last user message that contains TEXT (any case)
and no directive of its own read as if DIRECTIVES followed it; DELETE /_rules forgets them all.

Without a reply directive (reply, tokens, system, call) it follows the bridge's instructions in
its prompt as a model would: "Answer by calling the function `X`" (or "one of these functions:
`X`, ...") calls X with arguments made from X's parameters; "valid against this JSON Schema,
named ...:" (or a client's own "...schema: {...}") answers a value made from the schema
(testkit/schema_instances.py); "answer with one JSON object" answers {"echo": "<last user text>"}.

Tool calls work on both Cats. The Cat v2 (and any OpenAI client) gets native `tool_calls`; a round
is an assistant message with tool calls after the last user message. Cat v1 chooses its tools with
a text prompt instead (its system prompt asks for a JSON with "action" and "action_input"): that
call is answered with the step's first call as v1's JSON, ```json {"action": NAME, "action_input":
ARGS}```, and the following call, whose system prompt carries v1's "## Context of executed system
tools" section, answers "Tool said: <the outputs listed there>".

/v1/embeddings answers a deterministic vector of EMBEDDING_SIZE per input (`fake_embedding`);
`[[fail:status:S]]` and `[[hang]]` in an input script it too. /v1/models lists `scripted` and
`scripted-embed`, so the Cat's admin offers the embedder too.

A token is a word with its leading whitespace. Every request is logged with the
wall-clock times of its first and last token, `aborted_at` when the caller (the
Cat) closed a stream before its end, what it answered (`reply`: the text, or
the tool calls), and `gate` for a gated stream: GET /_requests.

    python -m testkit.scripted_llm --port 0 --delay-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import time
from collections import deque
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from testkit.schema_instances import instance

DIRECTIVE = re.compile(
    r"\[\[(reply|tokens|pad|delay|fail|hang|garbage|system|call|next|stubborn|gate)(?::(.*?))?\]\]", re.S
)
CALL_ONE = re.compile(r"Answer by calling the function `([^`]+)`")
CALL_ANY = re.compile(r"Answer by calling one of these functions: `([^`]+)`")
SCHEMA_MARK = "must be valid against this JSON Schema, named "
JSON_MARK = "answer with one JSON object and nothing else"
CLIENT_SCHEMA = re.compile(r"schema\W{0,3}:\s*(?=\{)", re.I)
MODEL = "scripted"
GATE_SECONDS = 20.0
EMBEDDING_MODEL = "scripted-embed"
EMBEDDING_SIZE = 8
V1_TOOL_PROMPT = '"action_input"'  # Cat v1's tool-choice prompt asks for this JSON key
V1_TOOLS_OUTPUT = "## Context of executed system tools:"  # v1's prompt section with the tools' results


def fake_embedding(text: str, size: int = EMBEDDING_SIZE) -> list[float]:
    """Deterministic across processes (unlike hash()): the same text always embeds the same."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [digest[i] / 255 for i in range(size)]


def split_tokens(text: str) -> list[str]:
    return re.findall(r"\s*\S+", text)


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def system_text(messages: list[dict[str, Any]]) -> str:
    return "".join(message_text(m) for m in messages if m.get("role") == "system")


def called_since_last_user(messages: list[dict[str, Any]]) -> set[str]:
    """Names of the tools the model called after the last user message (its rounds of this turn)."""
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    return {
        call.get("function", {}).get("name", "")
        for m in messages[last_user + 1 :]
        if m.get("role") == "assistant"
        for call in m.get("tool_calls") or []
    }


def v1_tools_output(system: str) -> list[str]:
    """The outputs Cat v1 lists under its tools-output section: lines ` - name: output`."""
    section = system.split(V1_TOOLS_OUTPUT, 1)[1]
    return [line.split(": ", 1)[1] for line in section.splitlines() if line.startswith(" - ") and ": " in line]


class Script:
    """What to answer, read from the last user message (or, in a call without one, the last system message: Cat v1
    1.8's `llm(prompt)` sends its prompt as the only, system, message; 1.9's sends it as a user message)."""

    def __init__(
        self, messages: list[dict[str, Any]], default_delay: float, tools: list | None = None, rules: dict | None = None
    ) -> None:
        users = [message_text(m) for m in messages if m.get("role") == "user"]
        if not users:
            users = [message_text(m) for m in messages if m.get("role") == "system"][-1:]
        last = users[-1] if users else ""
        if not DIRECTIVE.search(last):
            last += "".join(then for when, then in (rules or {}).items() if when.lower() in last.lower())
        if any("[[stubborn]]" in u for u in users) and not DIRECTIVE.search(last):
            last = next(u for u in reversed(users) if DIRECTIVE.search(u))
        self.delay = default_delay
        self.fail_status: int | None = None
        self.fail_after: int | None = None
        self.hang = False
        self.garbage = False
        self.pad = 0
        self.steps: list[list[dict[str, str]]] = [[]]
        self.calls: list[dict[str, str]] = []  # what this answer calls
        self.gate: str | None = None
        reply: str | None = None
        for name, arg in DIRECTIVE.findall(last):
            reply = self._directive(name, arg, messages, reply)
        steps = [step for step in self.steps if step]
        if steps:
            reply = self._tool_step(steps, messages, reply)
        if reply is None and not self.calls:
            reply = self._follow(messages, tools or [], DIRECTIVE.sub("", last).strip())
        if reply is None:
            reply = "Echo: " + DIRECTIVE.sub("", last).strip()
        self.tokens = [token + "x" * self.pad for token in split_tokens(reply)]

    def _follow(self, messages: list[dict[str, Any]], tools: list, said: str) -> str | None:
        """Do what the bridge's instructions in the prompt ask: call a function, or answer JSON."""
        system = [message_text(m) for m in messages if m.get("role") == "system"]
        prompt = "\n".join(system) or "\n".join(message_text(m) for m in messages)
        called = CALL_ONE.search(prompt) or CALL_ANY.search(prompt)
        if called:
            name = called.group(1)
            spec = next((t["function"] for t in tools if t.get("function", {}).get("name") == name), {})
            self.calls = [{"name": name, "arguments": json.dumps(instance(spec.get("parameters") or {}))}]
            return None
        at = prompt.rfind(SCHEMA_MARK)
        if at >= 0:
            start = prompt.index(":\n", at) + 2
            schema, _ = json.JSONDecoder().raw_decode(prompt, start)
            return json.dumps(instance(schema))
        asked = CLIENT_SCHEMA.search(prompt)  # a client's own prompt with a schema (PromptedOutput, JSON modes)
        if asked:
            try:
                schema, _ = json.JSONDecoder().raw_decode(prompt, asked.end())
                return json.dumps(instance(schema))
            except ValueError:
                pass
        if JSON_MARK in prompt:
            return json.dumps({"echo": said})
        return None

    def _directive(self, name: str, arg: str, messages: list[dict[str, Any]], reply: str | None) -> str | None:
        """Apply one `[[name:arg]]` directive; returns the reply text it sets (or the one so far)."""
        if name == "reply":
            return arg
        if name == "tokens":
            return "".join(f" t{i}" for i in range(int(arg)))
        if name == "system":
            return system_text(messages)
        if name in ("delay", "pad"):
            self.delay, self.pad = (float(arg) / 1000, self.pad) if name == "delay" else (self.delay, int(arg))
        elif name == "fail" and arg.startswith("status:"):
            self.fail_status = int(arg.split(":", 1)[1])
        elif name == "fail" and arg.startswith("after:"):
            self.fail_after = int(arg.split(":", 1)[1])
        elif name in ("hang", "garbage", "gate"):
            setattr(self, name, arg if name == "gate" else True)
        elif name == "call":
            tool, _, arguments = arg.partition(":")
            self.steps[-1].append({"name": tool, "arguments": arguments or "{}"})
        elif name == "next":
            self.steps.append([])
        return reply

    def _tool_step(self, steps: list[list[dict[str, str]]], messages: list[dict[str, Any]], reply: str | None) -> str:
        """The calls of the first step not made yet in this turn (`self.calls`), or the answer once all are."""
        system = system_text(messages)
        if V1_TOOLS_OUTPUT in system:  # Cat v1 ran the tool: its output is in the prompt
            return "Tool said: " + "; ".join(v1_tools_output(system))
        if V1_TOOL_PROMPT in system:  # Cat v1 asks which tool to run, as JSON text
            call = steps[0][0]
            choice = {"action": call["name"], "action_input": json.loads(call["arguments"])}
            return "```json\n" + json.dumps(choice) + "\n```"
        called = called_since_last_user(messages)
        for step in steps:
            if not {call["name"] for call in step} <= called:
                self.calls = step
                return reply or ""
        return "Tool said: " + "; ".join(message_text(m) for m in messages if m.get("role") == "tool")

    def tool_calls(self, log_size: int) -> list[dict[str, Any]]:
        return [
            {"id": f"call_{log_size}_{i}", "type": "function", "function": dict(call)}
            for i, call in enumerate(self.calls)
        ]


class ScriptedLLM:
    def __init__(self, default_delay: float = 0.0, keep: int = 500) -> None:
        self.default_delay = default_delay
        self.log: deque[dict[str, Any]] = deque(maxlen=keep)
        self.gates: dict[str, asyncio.Event] = {}
        self.rules: dict[str, str] = {}  # when -> then (POST /_rules)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/_requests", self.requests, methods=["GET", "DELETE"]),
                Route("/_gates/{name}", self.open_gate, methods=["POST"]),
                Route("/_rules", self.set_rules, methods=["POST", "DELETE"]),
            ]
        )

    async def models(self, request: Request) -> Response:
        listed = [{"id": m, "object": "model", "created": 0, "owned_by": "testkit"} for m in (MODEL, EMBEDDING_MODEL)]
        return JSONResponse({"object": "list", "data": listed})

    async def requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.log.clear()
        return JSONResponse(list(self.log))

    async def set_rules(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.rules.clear()
        else:
            rule = await request.json()
            self.rules[rule["when"]] = rule["then"]
        return JSONResponse(self.rules)

    async def open_gate(self, request: Request) -> Response:
        """Opened before the stream reaches it is fine too: the stream then passes straight through."""
        self.gates.setdefault(request.path_params["name"], asyncio.Event()).set()
        return JSONResponse({"opened": request.path_params["name"]})

    async def _wait_at_gate(self, name: str, entry: dict[str, Any]) -> None:
        gate = self.gates.setdefault(name, asyncio.Event())
        try:
            await asyncio.wait_for(gate.wait(), GATE_SECONDS)
            entry["gate"] = "opened"
        except asyncio.TimeoutError:
            entry["gate"] = "timed out"
        finally:
            self.gates.pop(name, None)

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        for text in inputs:  # [[fail:status:S]] and [[hang]] in an input script embeddings too
            script = Script([{"role": "user", "content": str(text)}], 0.0)
            if script.fail_status:
                error = {"error": {"message": "scripted failure", "type": "server_error", "param": None, "code": None}}
                return JSONResponse(error, status_code=script.fail_status)
            if script.hang:
                await asyncio.Event().wait()
        data = [{"object": "embedding", "index": i, "embedding": fake_embedding(str(t))} for i, t in enumerate(inputs)]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", MODEL),
                "usage": {"prompt_tokens": 0, "total_tokens": 0},
            }
        )

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        script = Script(body.get("messages", []), self.default_delay, body.get("tools"), self.rules)
        entry: dict[str, Any] = {
            "body": body,
            "received_at": time.time(),
            "first_token_at": None,
            "finished_at": None,
            "aborted_at": None,
            "reply": None,
        }
        self.log.append(entry)
        calls = script.tool_calls(len(self.log))
        if script.fail_status:
            error = {"error": {"message": "scripted failure", "type": "server_error", "param": None, "code": None}}
            return JSONResponse(error, status_code=script.fail_status)
        if script.hang:
            await asyncio.sleep(3600)
        if script.garbage:
            return Response(b"\x00not json{", media_type="application/json")
        message: dict[str, Any] = {"role": "assistant", "content": "".join(script.tokens)}
        if calls:
            message = {"role": "assistant", "content": None, "tool_calls": calls}
        entry["reply"] = message  # what it answers in full (a [[fail:after:K]] stream breaks off before its end)
        # the same count as split_tokens, in linear time (its regex is quadratic on megabytes of spaces)
        prompt_tokens = sum(len(message_text(m).split()) for m in body.get("messages", []))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(script.tokens),
            "total_tokens": prompt_tokens + len(script.tokens),
        }
        cid = f"chatcmpl-scripted-{len(self.log)}"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                self._stream(cid, script, calls, entry, usage if include_usage else None),
                media_type="text/event-stream",
            )
        if script.fail_after is not None:  # a JSON answer cut off mid-body, as a dropped connection leaves it
            return StreamingResponse(self._cut_json(script), media_type="application/json")
        for _ in script.tokens:
            if script.delay:
                await asyncio.sleep(script.delay)
                if await request.is_disconnected():
                    entry["aborted_at"] = time.time()  # the Cat hung up (its run was cancelled)
                    return Response(status_code=499)
        entry["first_token_at"] = entry["finished_at"] = time.time()
        finish = "tool_calls" if calls else "stop"
        return JSONResponse(
            {
                "id": cid,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": MODEL,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }
        )

    async def _cut_json(self, script: Script):
        partial = "".join(script.tokens[: script.fail_after])
        yield (
            '{"id": "chatcmpl-cut", "object": "chat.completion", "choices": [{"index": 0, "message": '
            '{"role": "assistant", "content": ' + json.dumps(partial)[:-1]
        ).encode()
        raise ConnectionAbortedError("scripted drop")

    async def _stream(self, cid: str, script: Script, calls: list, entry: dict[str, Any], usage: dict | None):
        try:
            async for part in self._stream_parts(cid, script, calls, entry, usage):
                yield part
        except (asyncio.CancelledError, GeneratorExit):
            entry["aborted_at"] = time.time()  # the Cat hung up mid-answer (its run was cancelled)
            raise

    async def _stream_parts(self, cid: str, script: Script, calls: list, entry: dict[str, Any], usage: dict | None):
        def chunk(delta: dict, finish: str | None = None) -> bytes:
            payload = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        if calls:
            for index, call in enumerate(calls):
                yield chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": call["function"]["name"], "arguments": ""},
                            }
                        ]
                    }
                )
                yield chunk(
                    {"tool_calls": [{"index": index, "function": {"arguments": call["function"]["arguments"]}}]}
                )
            entry["first_token_at"] = entry["finished_at"] = time.time()
            yield chunk({}, "tool_calls")
            yield b"data: [DONE]\n\n"
            return
        for i, token in enumerate(script.tokens):
            if script.fail_after is not None and i >= script.fail_after:
                raise ConnectionAbortedError("scripted drop")
            if script.delay:
                await asyncio.sleep(script.delay)
            if entry["first_token_at"] is None:
                entry["first_token_at"] = time.time()
            elif i == 1 and script.gate is not None:
                await self._wait_at_gate(script.gate, entry)
            yield chunk({"content": token})
        entry["finished_at"] = time.time()
        yield chunk({}, "stop")
        if usage:
            payload = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": MODEL,
                "choices": [],
                "usage": usage,
            }
            yield f"data: {json.dumps(payload)}\n\n".encode()
        yield b"data: [DONE]\n\n"


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="default wait before each token")
    args = parser.parse_args()
    uvicorn.run(ScriptedLLM(args.delay_ms / 1000).app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
