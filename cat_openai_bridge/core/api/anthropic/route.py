"""`POST /v1/messages` and `/v1/messages/count_tokens`: the Cat's turn as an Anthropic `message` or its events.

The answer comes from the same `answer_stream` as every other protocol; this
module only encodes it. A stream is `message_start`, one `content_block_delta`
per Cat token in a text block, a `tool_use` block per client tool call,
`message_delta` (stop reason, real usage), `message_stop`. A failure after the
headers went out ends it with Anthropic's `error` event, never a `message_stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...http import sse
from ...http.parsing import parse_body
from ...http.pipeline import Call, Job, Reply, Route
from ...turn import tokens
from ...turn.answer import HEARTBEAT, Answer, OutputRules, check_message_count, output_rules
from ...turn.conversation import ClientTool, Conversation, ToolCall
from ...turn.demands import NO_DEMANDS, Demands, JsonOutput, demanded_answer, demanded_stream, json_output
from ...turn.errors import error_of, invalid_request
from ...turn.port import CatTurn
from .convert import build_conversation, client_tools
from .dialect import ANTHROPIC, error_event
from .protocol import (
    ContentBlock,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    InputJSONDelta,
    Message,
    MessageDelta,
    MessageDeltaEvent,
    MessageDeltaUsage,
    MessageRequest,
    MessageStartEvent,
    MessageStopEvent,
    MessageTokensCount,
    MessageTokensRequest,
    PingEvent,
    StopReason,
    TextBlock,
    TextDelta,
    ToolUseBlock,
    Usage,
)

# The last event of a stream that ended well (what an Idempotency-Key may replay).
FINISHED = (b"event: message_stop\n",)
OUTPUT = (b"event: content_block_delta\n",)  # text, or a tool call's input
PING = sse.event(PingEvent(), "ping")

STOP_REASONS: dict[str, StopReason] = {"length": "max_tokens", "tool_calls": "tool_use", "stop": "end_turn"}


def stop_reason(answer: Answer) -> StopReason:
    return "stop_sequence" if answer.stop_sequence is not None else STOP_REASONS[answer.finish_reason]


def _tool_use(call: ToolCall) -> ToolUseBlock:
    return ToolUseBlock(id=call.id, name=call.name, input=call.args())


def message_of(message_id: str, model: str, answer: Answer) -> Message:
    """The whole answer: its text (left out when the model only called tools), then one block per tool call."""
    text: list[ContentBlock] = [TextBlock(text=answer.content)] if answer.content or not answer.tool_calls else []
    return Message(
        id=message_id,
        model=model,
        content=[*text, *(_tool_use(call) for call in answer.tool_calls)],
        stop_reason=stop_reason(answer),
        stop_sequence=answer.stop_sequence,
        usage=Usage(input_tokens=answer.usage.prompt_tokens, output_tokens=answer.usage.completion_tokens),
    )


@dataclass
class MessagesJob(Job):
    body: MessageRequest | None = None
    rules: OutputRules | None = None
    tools: tuple[ClientTool, ...] = ()
    demands: Demands = NO_DEMANDS

    def completion_cap(self) -> int:
        return (self.rules.limit or 0) if self.rules is not None else 0


def _output_format(body: MessageRequest) -> JsonOutput | None:
    """`output_config.format` `json_schema` (Anthropic's structured outputs), held like OpenAI's."""
    fmt = body.output_config.format if body.output_config is not None else None
    if fmt is None:
        return None
    if fmt.type != "json_schema":
        raise invalid_request(
            f"output_config.format.type: '{fmt.type}' is not supported; use 'json_schema'.",
            "output_config.format.type",
            "unsupported_value",
        )
    return json_output("json_schema", "output_config.format.schema", "output", fmt.schema_)


@dataclass(frozen=True)
class MessageIds:
    model: str
    id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex}")


class Messages(Route[MessagesJob]):
    name = "anthropic.messages"
    dialect = ANTHROPIC

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> MessagesJob:
        body = parse_body(MessageRequest, raw)
        check_message_count(len(body.messages), settings, "messages")
        rules = output_rules(settings, bool(body.stream), body.max_tokens, "max_tokens", body.stop_sequences)
        tools, forced = client_tools(body.tools, body.tool_choice, self.cat.supports_client_tools)
        demands = Demands(_output_format(body), forced, {}, tuple(t.name for t in tools))
        conversation = build_conversation(
            body.system,
            body.messages,
            allow_images=self.cat.supports_images,
            allow_tools=self.cat.supports_client_tools,
        )
        return MessagesJob(body.model, None, conversation, False, body, rules, tools, demands)

    async def run(self, job: MessagesJob, call: Call) -> Reply:
        body, rules, conversation = job.body, job.rules, job.conversation
        assert body is not None and rules is not None and conversation is not None
        turn = call.turn(conversation, rules.stream, job.tools, demands=job.demands)
        ids = MessageIds(body.model)
        metadata_user = body.metadata.user_id if body.metadata is not None else None
        self.pipeline.debug(
            call,
            f"{ids.id} user={turn.identity.user_id} metadata.user_id={metadata_user!r} model={body.model} "
            f"messages={len(body.messages)} stream={rules.stream} limit={rules.limit} tools={len(turn.tools)}",
        )
        if rules.stream:
            return Reply(events=self.stream(turn, rules, ids, call, job.demands), ends=FINISHED, output=OUTPUT)
        answer = await demanded_answer(self.cat, turn, rules, job.demands)
        call.report(answer.usage, charged=answer.charged)
        self.pipeline.debug(
            call,
            f"{ids.id} stop={stop_reason(answer)} usage={answer.usage} "
            f"ms={1000 * (time.perf_counter() - call.started):.0f}",
        )
        return Reply(message_of(ids.id, ids.model, answer))

    async def stream(
        self, turn: CatTurn, rules: OutputRules, ids: MessageIds, call: Call, demands: Demands
    ) -> AsyncIterator[bytes]:
        out = _EventWriter()
        # The prompt the Cat really sends (its own system prompt, memories) is known when the turn ends:
        # message_start carries the client's part, message_delta the whole.
        estimate = tokens.count_chat(turn.conversation.pairs())
        started = Message(
            id=ids.id,
            model=ids.model,
            content=[],
            stop_reason=None,
            stop_sequence=None,
            usage=Usage(input_tokens=estimate, output_tokens=0),
        )
        yield sse.event(MessageStartEvent(message=started), "message_start")
        try:
            async with contextlib.aclosing(
                demanded_stream(self.cat, turn, rules, demands, wait_for_result=True)
            ) as items:
                async for item in items:
                    if item is HEARTBEAT:
                        yield PING
                    elif isinstance(item, str):
                        for event in out.text(item):
                            yield event
                    elif isinstance(item, Answer):
                        ending = item
        except Exception as exc:  # after the headers, a failure is Anthropic's error event, never a trace
            yield error_event(error_of(exc, self.cat.log, call.audience))
            return
        call.report(ending.usage, ending.prompt_counted, ending.charged)
        for event in out.ending(ending):
            yield event


class _EventWriter:
    """Numbers one stream's content blocks: a text block opens with the first text, so a turn that only calls
    tools streams just its `tool_use` blocks, as Anthropic does."""

    def __init__(self) -> None:
        self.index = 0
        self.text_open = False

    def _open_text(self) -> Iterator[bytes]:
        if not self.text_open:
            self.text_open = True
            start = ContentBlockStartEvent(index=self.index, content_block=TextBlock(text=""))
            yield sse.event(start, "content_block_start")

    def text(self, delta: str) -> Iterator[bytes]:
        yield from self._open_text()
        yield sse.event(ContentBlockDeltaEvent(index=self.index, delta=TextDelta(text=delta)), "content_block_delta")

    def _close(self) -> bytes:
        event = sse.event(ContentBlockStopEvent(index=self.index), "content_block_stop")
        self.index += 1
        return event

    def ending(self, ending: Answer) -> Iterator[bytes]:
        if not ending.tool_calls:
            yield from self._open_text()  # an answer is never without a content block
        if self.text_open:
            yield self._close()
        for call in ending.tool_calls:  # the Cat hands calls over whole: one input_json_delta each
            head = ToolUseBlock(id=call.id, name=call.name, input={})
            yield sse.event(ContentBlockStartEvent(index=self.index, content_block=head), "content_block_start")
            delta = InputJSONDelta(partial_json=call.arguments)
            yield sse.event(ContentBlockDeltaEvent(index=self.index, delta=delta), "content_block_delta")
            yield self._close()
        usage = MessageDeltaUsage(output_tokens=ending.usage.completion_tokens, input_tokens=ending.usage.prompt_tokens)
        delta = MessageDelta(stop_reason=stop_reason(ending), stop_sequence=ending.stop_sequence)
        yield sse.event(MessageDeltaEvent(delta=delta, usage=usage), "message_delta")
        yield sse.event(MessageStopEvent(), "message_stop")


# -- count_tokens ----------------------------------------------------------------------------------------------


@dataclass
class CountJob(Job):
    prompt: Conversation | None = None
    tools: tuple[ClientTool, ...] = ()


def count_prompt(conversation: Conversation, tools: tuple[ClientTool, ...]) -> int:
    """The client's prompt in cl100k tokens: its system prompt, messages and tool calls, and the tools offered.

    The Cat adds its own system prompt and memories when it runs the turn; those are in the answer's usage."""
    pairs = conversation.pairs()
    calls = [call.arguments for turn in conversation.turns for call in turn.tool_calls]
    return (
        tokens.count_chat(pairs)
        + sum(tokens.count_text(arguments) for arguments in calls)
        + sum(tokens.count_text(f"{t.name}\n{t.description}\n{json.dumps(t.parameters)}") for t in tools)
    )


class CountTokens(Route[CountJob]):
    """Counting runs no turn, so any conversation the API accepts is counted, on every Cat version."""

    name = "anthropic.count_tokens"

    dialect = ANTHROPIC
    idempotent = False

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> CountJob:
        body = parse_body(MessageTokensRequest, raw)
        check_message_count(len(body.messages), settings, "messages")
        tools, _ = client_tools(body.tools, None, allowed=True)
        conversation = build_conversation(body.system, body.messages, allow_images=True, allow_tools=True)
        return CountJob(body.model, prompt=conversation, tools=tools)

    async def run(self, job: CountJob, call: Call) -> Reply:
        assert job.prompt is not None
        count = await asyncio.to_thread(count_prompt, job.prompt, job.tools)  # up to max_request_bytes of text
        return Reply(MessageTokensCount(input_tokens=count))
