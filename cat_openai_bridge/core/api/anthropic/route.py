"""`POST /v1/messages` and `/v1/messages/count_tokens`: the Cat's turn as an Anthropic `message` or its events."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...http.parsing import parse_body
from ...http.route import Call, Job, Reply, Route, TurnJob
from ...http.text_runs import TextLists
from ...turn import tokens
from ...turn.answer import check_message_count, output_rules
from ...turn.conversation import ClientTool, Conversation
from ...turn.demands import Demands, JsonOutput, json_output
from ...turn.errors import invalid_request
from .convert import build_conversation, client_tools
from .dialect import ANTHROPIC
from .encoder import MessageEncoder, message_of, stop_reason
from .protocol import MessageRequest, MessageTokensCount, MessageTokensRequest


@dataclass(frozen=True, kw_only=True)
class MessagesJob(TurnJob):
    body: MessageRequest


TEXTS = TextLists("messages", "text", skip_roles=frozenset({"system"}))  # system texts join with blank lines


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


class Messages(Route[MessagesJob]):
    name = "anthropic.messages"
    dialect = ANTHROPIC

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> MessagesJob:
        body = parse_body(MessageRequest, raw, texts=TEXTS)
        check_message_count(len(body.messages), settings, "messages")
        rules = output_rules(settings, bool(body.stream), body.max_tokens, "max_tokens", body.stop_sequences)
        tools, forced = client_tools(body.tools, body.tool_choice, self.cat.supports_client_tools)
        conversation = build_conversation(
            body,
            allow_images=self.cat.supports_images,
            allow_tools=self.cat.supports_client_tools,
            max_parts=settings.max_content_parts,
        )
        return MessagesJob(
            model=body.model,
            body=body,
            rules=rules,
            conversation=conversation,
            tools=tools,
            demands=Demands(_output_format(body), forced, {}, tuple(t.name for t in tools)),
        )

    async def run(self, job: MessagesJob, call: Call) -> Reply:
        body, rules = job.body, job.rules
        turn = call.turn(job.conversation, stream=rules.stream, tools=job.tools, demands=job.demands)
        message_id = f"msg_{uuid.uuid4().hex}"
        metadata_user = body.metadata.user_id if body.metadata is not None else None
        self.debug(
            call,
            f"{message_id} user={turn.identity.user_id} metadata.user_id={metadata_user!r} model={body.model} "
            f"messages={len(body.messages)} stream={rules.stream} limit={rules.limit} tools={len(turn.tools)}",
        )
        if rules.stream:
            encoder = MessageEncoder(message_id, body.model, tokens.count_chat(job.conversation.pairs()))
            return self.streamed(call, encoder, turn, rules, job.demands)
        answer = await self.answered(call, turn, rules, job.demands)
        ms = 1000 * (time.perf_counter() - call.started)
        self.debug(call, f"{message_id} stop={stop_reason(answer)} usage={answer.usage} ms={ms:.0f}")
        return Reply(message_of(message_id, body.model, answer))


@dataclass(frozen=True, kw_only=True)
class CountJob(Job):
    prompt: Conversation
    tools: tuple[ClientTool, ...]


def count_prompt(conversation: Conversation, tools: tuple[ClientTool, ...]) -> int:
    """The client's prompt in cl100k tokens; the Cat's own system prompt and memories are in an answer's usage."""
    calls = [call.arguments for turn in conversation.turns for call in turn.tool_calls]
    return (
        tokens.count_chat(conversation.pairs())
        + sum(tokens.count_text(arguments) for arguments in calls)
        + sum(tokens.count_text(f"{t.name}\n{t.description}\n{json.dumps(t.parameters)}") for t in tools)
    )


class CountTokens(Route[CountJob]):
    """Counting runs no turn, so any conversation the API accepts is counted, on every Cat version."""

    name = "anthropic.count_tokens"
    dialect = ANTHROPIC
    idempotent = False

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> CountJob:
        body = parse_body(MessageTokensRequest, raw, texts=TEXTS)
        check_message_count(len(body.messages), settings, "messages")
        tools, _ = client_tools(body.tools, None, allowed=True)
        conversation = build_conversation(
            body, allow_images=True, allow_tools=True, max_parts=settings.max_content_parts
        )  # the Messages route's bounds, so counting costs no more than asking
        return CountJob(model=body.model, prompt=conversation, tools=tools)

    async def run(self, job: CountJob, call: Call) -> Reply:
        count = await asyncio.to_thread(count_prompt, job.prompt, job.tools)  # up to max_request_bytes of text
        return Reply(MessageTokensCount(input_tokens=count))
