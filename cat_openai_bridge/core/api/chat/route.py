"""`POST /v1/chat/completions`: the request's rules, the Cat's turn, the answer as JSON or as chunks.

A stream is role chunk, one chunk per Cat token, tool-call deltas, finish
chunk, usage, [DONE]. A failure after the headers went out ends it with an
OpenAI error event and no `finish_reason`, so no client mistakes half an
answer for a whole one.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...http import sse
from ...http.parsing import parse_body
from ...http.pipeline import Call, Job, Reply, Route
from ...turn.answer import (
    HEARTBEAT,
    Answer,
    OutputRules,
    Usage,
    check_message_count,
    output_rules,
)
from ...turn.conversation import ClientTool, ToolCall
from ...turn.demands import Demands, demanded_answer, demanded_stream, json_output, strict_parameters
from ...turn.errors import error_of, invalid_request
from ...turn.port import CatTurn
from .convert import build_conversation, client_tools, function_specs
from .protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageToolCall,
    ChatCompletionRequest,
    Choice,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
    ChunkChoice,
    CompletionUsage,
    Function,
    JSONSchemaFormat,
)

OUTPUT = (b'"delta":{"content":"', b'"delta":{"tool_calls":')  # a chunk with text, or a tool call


def completion_usage(usage: Usage) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens, total_tokens=usage.total_tokens
    )


def rules_of(body: ChatCompletionRequest, settings: BridgeSettings) -> OutputRules:
    if body.n is not None and body.n > 1:
        raise invalid_request("Only n=1 is supported: the Cat gives one answer per turn.", "n", "unsupported_value")
    if body.logprobs:
        raise invalid_request("logprobs are not available from the Cat.", "logprobs", "unsupported_parameter")
    check_message_count(len(body.messages), settings, "messages")
    stops = body.stop_sequences()
    if len(stops) > 4:
        raise invalid_request("Invalid 'stop': at most 4 stop sequences are allowed.", "stop", "invalid_value")
    stream = bool(body.stream)
    if body.stream_options is not None and not stream:
        raise invalid_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
            "invalid_value",
        )
    param = "max_completion_tokens" if body.max_completion_tokens is not None else "max_tokens"
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return output_rules(settings, stream, body.completion_limit(), param, stops, include_usage)


def demands_of(body: ChatCompletionRequest, tools: tuple[ClientTool, ...], call: str | None) -> Demands:
    """`response_format`, a forced `tool_choice` and `strict` functions, checked as OpenAI checks them."""
    fmt = body.response_format
    output = None
    if isinstance(fmt, JSONSchemaFormat):
        spec = fmt.json_schema
        output = json_output("json_schema", "response_format", spec.name, spec.schema_, spec.description, spec.strict)
    elif fmt is not None:
        output = json_output(fmt.type, "response_format")
    strict = strict_parameters(function_specs(body.tools), "tools.[{i}].function.parameters")
    return Demands(output, call, strict, tuple(t.name for t in tools))


@dataclass
class ChatJob(Job):
    body: ChatCompletionRequest | None = None
    rules: OutputRules | None = None
    tools: tuple[ClientTool, ...] = ()
    demands: Demands = field(default_factory=Demands)

    def completion_cap(self) -> int:
        return (self.rules.limit or 0) if self.rules is not None else 0


@dataclass(frozen=True)
class CompletionIds:
    """One per request: every chunk shares `id`, `created` and `model`, as OpenAI's do."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))

    def chunk(
        self, delta: ChoiceDelta | None, finish_reason: str | None = None, with_usage: bool = False, **extra: object
    ) -> ChatCompletionChunk:
        choices = [] if delta is None else [ChunkChoice(delta=delta, logprobs=None, finish_reason=finish_reason)]
        if with_usage:
            extra.setdefault("usage", None)
        return ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model, system_fingerprint=None, choices=choices, **extra
        )


def completion(ids: CompletionIds, answer: Answer) -> ChatCompletion:
    calls = [
        ChatCompletionMessageToolCall(id=c.id, function=Function(name=c.name, arguments=c.arguments))
        for c in answer.tool_calls
    ]
    # A message that only calls tools has `content: null`; `tool_calls` is sent only when there are some.
    message = (
        ChatCompletionMessage(content=answer.content or None, refusal=None, tool_calls=calls)
        if calls
        else ChatCompletionMessage(content=answer.content, refusal=None)
    )
    extra = {"cat_why": answer.why} if answer.why is not None else {}
    return ChatCompletion(
        id=ids.id,
        created=ids.created,
        model=ids.model,
        usage=completion_usage(answer.usage),
        system_fingerprint=None,
        **extra,
        choices=[Choice(message=message, logprobs=None, finish_reason=answer.finish_reason)],
    )


def call_deltas(calls: tuple[ToolCall, ...]) -> list[ChoiceDelta]:
    """OpenAI streams a call as its header (id, name) then its arguments; the Cat gives them whole."""
    deltas = []
    for index, call in enumerate(calls):
        head = ChoiceDeltaToolCall(
            index=index, id=call.id, type="function", function=ChoiceDeltaToolCallFunction(name=call.name, arguments="")
        )
        body = ChoiceDeltaToolCall(index=index, function=ChoiceDeltaToolCallFunction(arguments=call.arguments))
        deltas += [ChoiceDelta(tool_calls=[head]), ChoiceDelta(tool_calls=[body])]
    return deltas


class ChatCompletions(Route[ChatJob]):
    name = "chat.completions"

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> ChatJob:
        body = parse_body(ChatCompletionRequest, raw, {"client_tools": self.cat.supports_client_tools})
        rules = rules_of(body, settings)
        tools, call = client_tools(body.tools, body.tool_choice)
        demands = demands_of(body, tools, call)
        conversation = build_conversation(
            body.messages, allow_images=self.cat.supports_images, allow_tools=self.cat.supports_client_tools
        )
        return ChatJob(body.model, body.user, conversation, bool(body.cat_why), body, rules, tools, demands)

    async def run(self, job: ChatJob, call: Call) -> Reply:
        body, rules, conversation = job.body, job.rules, job.conversation
        assert body is not None and rules is not None and conversation is not None
        demands = job.demands
        turn = call.turn(conversation, rules.stream, job.tools, body.metadata, bool(body.cat_why), demands)
        ids = CompletionIds(body.model)
        self.pipeline.debug(
            call,
            f"{ids.id} user={turn.identity.user_id} label={body.user!r} model={body.model} "
            f"messages={len(body.messages)} stream={rules.stream} limit={rules.limit} "
            f"task_prompt={turn.plain} tools={len(turn.tools)}",
        )
        if rules.stream:
            return Reply(events=self.stream(turn, rules, ids, call, demands), ends=(sse.DONE,), output=OUTPUT)
        answer = await demanded_answer(self.cat, turn, rules, demands)
        call.report(answer.usage, charged=answer.charged)
        self.pipeline.debug(
            call,
            f"{ids.id} finish={answer.finish_reason} usage={answer.usage} "
            f"ms={1000 * (time.perf_counter() - call.started):.0f}",
        )
        return Reply(completion(ids, answer))

    async def stream(
        self, turn: CatTurn, rules: OutputRules, ids: CompletionIds, call: Call, demands: Demands
    ) -> AsyncIterator[bytes]:
        with_usage = rules.include_usage
        yield sse.event(ids.chunk(ChoiceDelta(role="assistant", content="", refusal=None), with_usage=with_usage))
        try:
            async with contextlib.aclosing(
                demanded_stream(self.cat, turn, rules, demands, with_usage or turn.why)
            ) as items:
                async for item in items:
                    if item is HEARTBEAT:
                        yield sse.PING
                    elif isinstance(item, str):
                        yield sse.event(ids.chunk(ChoiceDelta(content=item), with_usage=with_usage))
                    elif isinstance(item, Answer):
                        ending = item
            for delta in call_deltas(ending.tool_calls):
                yield sse.event(ids.chunk(delta, with_usage=with_usage))
            yield sse.event(ids.chunk(ChoiceDelta(), ending.finish_reason, with_usage=with_usage))
            call.report(ending.usage, ending.prompt_counted, ending.charged)
            if with_usage:
                yield sse.event(ids.chunk(None, usage=completion_usage(ending.usage)))
            if turn.why and ending.why is not None:
                yield sse.event(ids.chunk(None, cat_why=ending.why))
            yield sse.DONE
        except Exception as exc:  # after the headers, a failure is an error event, never a trace
            yield sse.event(error_of(exc, self.cat.log, call.audience).wire())
