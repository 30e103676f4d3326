"""`POST /v1/responses`: the same Cat turn as a chat completion, as a `response` object or its typed events."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...http.parsing import parse_body
from ...http.route import Call, Cost, Job, Reply, Route, turn_cost
from ...turn import tokens
from ...turn.answer import Answer, OutputRules, check_message_count, output_rules
from ...turn.conversation import ClientTool, Conversation
from ...turn.demands import Demands
from ...turn.errors import invalid_request
from ...turn.port import Identity
from ..chat.route import json_format
from .convert import Offered, conversation_of, function_tools
from .encoder import ResponseEncoder, ResponseIds
from .protocol import ResponsesRequest
from .stored_routes import INPUT_TEXTS, Keeper, own_items, wants_store


async def check_context(conversation: Conversation, limit: int) -> None:
    """A continued conversation is bounded as a model's context window is (OpenAI's words): counted as admission
    counts a prompt (texts and call arguments), a cheap upper bound first and BPE in a thread only past the limit."""
    texts = [*conversation.pairs(), *(("", c.arguments) for t in conversation.turns for c in t.tool_calls)]
    count, exact = tokens.estimate_chat(texts)
    if count > limit and not exact:
        count = await tokens.count_chat_off_loop(texts)
    if count > limit:
        raise invalid_request(
            "Your input exceeds the context window of this model. Please adjust your input and try again. "
            f"(The conversation continued from 'previous_response_id' with this input is {count} tokens; this bridge "
            f"continues at most {limit}.)",
            "input",
            "context_length_exceeded",
        )


def demands_of(body: ResponsesRequest, offered: Offered) -> Demands:
    output = json_format(body.text.format if body.text is not None else None, "text.format", "text.format.schema")
    return Demands(output, offered.call, offered.strict, tuple(t.name for t in offered.tools))


@dataclass(frozen=True, kw_only=True)
class ResponsesRequestJob(Job):
    """A parsed request, before any stored conversation it continues is loaded."""

    body: ResponsesRequest
    rules: OutputRules
    tools: tuple[ClientTool, ...]
    skipped: tuple[str, ...]  # the hosted tool types left out
    demands: Demands
    own: list  # this request's input, as stored items (empty when it is not stored)
    store: bool

    def with_conversation(self, conversation: Conversation, history: list) -> ResponsesJob:
        return ResponsesJob(**vars(self), conversation=conversation, history=history)


@dataclass(frozen=True, kw_only=True)
class ResponsesJob(ResponsesRequestJob):
    conversation: Conversation
    history: list = field(default_factory=list)  # the stored conversation it continues

    def cost(self) -> Cost:
        return turn_cost(self.conversation, self.rules, self.demands, param="input")

    def replay_floor(self) -> int:
        """A response repeats the request's `metadata` and `instructions`; a stream does so in three events."""
        echoed = sum(len(k) + len(v) for k, v in (self.body.metadata or {}).items()) + len(self.body.instructions or "")
        return echoed * (3 if self.body.stream else 1)


class Responses(Route[ResponsesJob]):
    name = "responses"

    def __init__(self, pipeline, keeper: Keeper) -> None:
        super().__init__(pipeline)
        self.keeper = keeper

    def _conversation(self, body: ResponsesRequest, settings: BridgeSettings, history: list) -> Conversation:
        """`max_messages` counts the stored items a continued response carries on from and the new input."""
        check_message_count(len(history) + (len(body.input) if isinstance(body.input, list) else 1), settings, "input")
        return conversation_of(
            body,
            history,
            allow_images=self.cat.supports_images,
            allow_tools=self.cat.supports_client_tools,
            max_parts=settings.max_content_parts,
        )

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> ResponsesRequestJob:
        body = parse_body(ResponsesRequest, raw, texts=INPUT_TEXTS)
        rules = output_rules(settings, bool(body.stream), body.max_output_tokens, "max_output_tokens")
        offered = function_tools(body, allowed=self.cat.supports_client_tools)
        store = wants_store(body, settings)
        job = ResponsesRequestJob(
            model=body.model,
            label=body.user,
            body=body,
            rules=rules,
            tools=offered.tools,
            skipped=offered.skipped,
            demands=demands_of(body, offered),
            own=own_items(body) if store else [],
            store=store,
        )
        if body.previous_response_id:  # continued once the stored conversation is loaded, for its own user
            return job
        return job.with_conversation(self._conversation(body, settings, []), [])

    async def prepare(self, job: Job, identity: Identity, settings: BridgeSettings) -> ResponsesJob:
        if isinstance(job, ResponsesJob):
            return job
        assert isinstance(job, ResponsesRequestJob)
        stored = await self.keeper.load(identity, settings, job.body.previous_response_id or "", "previous_response_id")
        conversation = self._conversation(job.body, settings, stored.history)
        await check_context(conversation, settings.responses_context_tokens)
        return job.with_conversation(conversation, stored.history)

    async def run(self, job: ResponsesJob, call: Call) -> Reply:
        body, rules, demands = job.body, job.rules, job.demands
        turn = call.turn(
            job.conversation, stream=rules.stream, tools=job.tools, metadata=body.metadata, demands=demands
        )
        ids = ResponseIds(body.model)
        if job.skipped:  # a model may always choose not to call a tool: the answer says which it could not
            call.headers["x-openai-bridge-tools-skipped"] = ", ".join(job.skipped)
            self.cat.log("info", f"openai bridge: hosted tools left out of the turn: {', '.join(job.skipped)}")

        async def keep(answer: Answer) -> None:
            """Before the response is sent (its stream's last event): it says whether it was kept."""
            if job.store and not await self.keeper.keep(
                call.identity, call.settings, encoder.final(answer), job.own, job.history
            ):
                encoder.store = False

        encoder = ResponseEncoder(ids, body, job.tools, job.store)
        if rules.stream:
            return self.streamed(call, encoder, turn, rules, demands, keep)
        answer = await self.answered(call, turn, rules, demands)
        await keep(answer)
        return Reply(encoder.final(answer))
