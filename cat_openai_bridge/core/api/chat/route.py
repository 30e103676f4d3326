"""`POST /v1/chat/completions`: the request's rules and demands, the Cat's turn, the answer as JSON or chunks."""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...http.parsing import parse_body
from ...http.route import Call, Reply, Route, TurnJob
from ...http.text_runs import TextLists
from ...turn.answer import OutputRules, check_message_count, output_rules
from ...turn.conversation import ClientTool
from ...turn.demands import Demands, JsonOutput, json_output, strict_parameters
from ...turn.errors import invalid_request
from .convert import build_conversation, client_tools, function_specs
from .encoder import ChunkEncoder, CompletionIds, completion
from .protocol import ChatCompletionRequest, CreateParamsBase, JSONSchema, JSONSchemaFormat, PlainFormat

TEXTS = TextLists("messages", "text")


def openai_rules(settings: BridgeSettings, body: CreateParamsBase, asked: int | None, param: str) -> OutputRules:
    """What Chat Completions and legacy completions check alike: stop sequences, `stream_options`, the cap."""
    stops = body.stop_sequences()
    if len(stops) > 4:
        raise invalid_request("Invalid 'stop': at most 4 stop sequences are allowed.", "stop", "invalid_value")
    if body.stream_options is not None and not body.stream:
        raise invalid_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
            "invalid_value",
        )
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return output_rules(settings, bool(body.stream), asked, param, stops, include_usage)


def rules_of(body: ChatCompletionRequest, settings: BridgeSettings) -> OutputRules:
    if body.n is not None and body.n > 1:
        raise invalid_request("Only n=1 is supported: the Cat gives one answer per turn.", "n", "unsupported_value")
    if body.logprobs:
        raise invalid_request("logprobs are not available from the Cat.", "logprobs", "unsupported_parameter")
    check_message_count(len(body.messages), settings, "messages")
    param = "max_completion_tokens" if body.max_completion_tokens is not None else "max_tokens"
    return openai_rules(settings, body, body.completion_limit(), param)


def json_format(fmt: PlainFormat | JSONSchema | None, param: str, schema_param: str = "") -> JsonOutput | None:
    """`response_format` (Responses: `text.format`), checked as OpenAI checks it."""
    if isinstance(fmt, JSONSchema):
        return json_output("json_schema", schema_param or param, fmt.name, fmt.schema_, fmt.description, fmt.strict)
    return None if fmt is None else json_output(fmt.type, param)


def demands_of(body: ChatCompletionRequest, tools: tuple[ClientTool, ...], call: str | None) -> Demands:
    """`response_format`, a forced `tool_choice` and `strict` functions."""
    fmt = body.response_format
    output = json_format(fmt.json_schema if isinstance(fmt, JSONSchemaFormat) else fmt, "response_format")
    strict = strict_parameters(function_specs(body.tools), "tools.[{i}].function.parameters")
    return Demands(output, call, strict, tuple(t.name for t in tools))


@dataclass(frozen=True, kw_only=True)
class ChatJob(TurnJob):
    body: ChatCompletionRequest


class ChatCompletions(Route[ChatJob]):
    name = "chat.completions"

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> ChatJob:
        body = parse_body(ChatCompletionRequest, raw, {"client_tools": self.cat.supports_client_tools}, TEXTS)
        rules = rules_of(body, settings)
        tools, call = client_tools(body.tools, body.tool_choice)
        demands = demands_of(body, tools, call)
        conversation = build_conversation(
            body.messages,
            allow_images=self.cat.supports_images,
            allow_tools=self.cat.supports_client_tools,
            max_parts=settings.max_content_parts,
        )
        return ChatJob(
            model=body.model,
            label=body.user,
            admin_only=bool(body.cat_why),
            body=body,
            rules=rules,
            conversation=conversation,
            tools=tools,
            demands=demands,
        )

    async def run(self, job: ChatJob, call: Call) -> Reply:
        body, rules, why = job.body, job.rules, bool(job.body.cat_why)
        turn = call.turn(
            job.conversation, stream=rules.stream, tools=job.tools, metadata=body.metadata, why=why, demands=job.demands
        )
        ids = CompletionIds(body.model)
        self.debug(
            call,
            f"{ids.id} user={turn.identity.user_id} label={body.user!r} model={body.model} "
            f"messages={len(body.messages)} stream={rules.stream} limit={rules.limit} "
            f"task_prompt={turn.plain} tools={len(turn.tools)}",
        )
        if rules.stream:
            return self.streamed(call, ChunkEncoder(ids, rules.include_usage, turn.why), turn, rules, job.demands)
        answer = await self.answered(call, turn, rules, job.demands)
        ms = 1000 * (time.perf_counter() - call.started)
        self.debug(call, f"{ids.id} finish={answer.finish_reason} usage={answer.usage} ms={ms:.0f}")
        return Reply(completion(ids, answer))
