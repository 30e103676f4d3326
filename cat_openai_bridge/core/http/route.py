"""What a route is to the pipeline: it parses its request into a `Job`, declares its `Cost`, and runs it with a
`Call` (everything the shared steps found) into a `Reply`."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from starlette.requests import Request

from ..config.settings import BridgeSettings
from ..guards.limits import Lease
from ..guards.metrics import Exchange
from ..turn.answer import Answer, OutputRules, Usage
from ..turn.chat_keys import conversation_key
from ..turn.conversation import ClientTool, Conversation
from ..turn.demands import NO_DEMANDS, Demands, demanded_answer, demanded_stream
from ..turn.errors import Audience, BridgeError, error_of
from ..turn.port import Access, CatTurn, Identity
from ..turn.wire import WireModel
from .dialect import OPENAI, Dialect
from .edge import STREAM_MEDIA_TYPE
from .encoder import Encoder, Event, encode

if TYPE_CHECKING:
    from .pipeline import Pipeline


@dataclass(frozen=True, kw_only=True)
class Cost:
    """What a request may cost the Cat; admitted once, before it runs, against every limit (pipeline `_admit`),
    and settled with what it used however it ends (`Lease`)."""

    turns: int = 0  # Cat turns it runs (a batch of prompts runs one each): each is a request per minute
    llm_calls: int = 0  # LLM calls it may make (a re-ask is one more): each is charged as it happens
    prompt: Conversation | None = None  # the client's prompt text of every turn, reserved against tokens_per_minute
    completion_cap: int = 0  # completion tokens it may produce in all (0: no cap), reserved likewise
    prompt_param: str = "messages"  # what a client shortens when the prompt alone exceeds a limit

    @property
    def prompt_parts(self) -> int:
        return sum(len(turn.parts) for turn in self.prompt.turns) if self.prompt is not None else 0


def turn_cost(
    prompt: Conversation, rules: OutputRules, demands: Demands = NO_DEMANDS, turns: int = 1, param: str = "messages"
) -> Cost:
    """Each turn may be re-asked once for its demands, and each answer once for a call to a tool that does not
    exist (demands.py)."""
    calls = turns * 2 * (2 if demands.any else 1)
    cap = (rules.limit or 0) * turns
    return Cost(turns=turns, llm_calls=calls, prompt=prompt, completion_cap=cap, prompt_param=param)


@dataclass(frozen=True, kw_only=True)
class Job:
    model: str | None = None  # resolved to the adapter's target (None: the route takes no model)
    label: str | None = None  # the body's user label (`user`), for master-key callers
    admin_only: bool = False  # the body asks for what only the Cat's admins may see (`cat_why`)
    rules: OutputRules | None = None  # a turn's: its answer's response carries their headers

    def cost(self) -> Cost:
        return Cost()

    def replay_floor(self) -> int:
        """A lower bound on the answer's bytes, known before it runs (what it will echo of the request)."""
        return 0


@dataclass(frozen=True, kw_only=True)
class TurnJob(Job):
    rules: OutputRules
    conversation: Conversation
    tools: tuple[ClientTool, ...] = ()
    demands: Demands = NO_DEMANDS

    def cost(self) -> Cost:
        return turn_cost(self.conversation, self.rules, self.demands)


J = TypeVar("J", bound=Job)


@dataclass(kw_only=True)
class Call:
    request: Request
    settings: BridgeSettings
    identity: Identity  # who the turn runs as
    headers: dict[str, str]  # response headers so far (request id, rate limits)
    lease: Lease
    target: str  # the adapter's name for the request's model ("" for routes without one)
    audience: Audience  # who reads this request's errors
    exchange: Exchange  # this request in the metrics
    started: float = field(default_factory=time.perf_counter)

    def report(self, usage: Usage, prompt_counted: bool = True, charged: int | None = None) -> None:
        """The limiter settles with what it charges (the LLM's whole output), the metrics with what was sent."""
        self.lease.report(usage.total_tokens if charged is None else charged, prompt_counted)
        self.exchange.prompt_tokens, self.exchange.completion_tokens = usage.prompt_tokens, usage.completion_tokens

    def turn(
        self,
        conversation: Conversation,
        *,
        stream: bool,
        tools: tuple[ClientTool, ...] = (),
        metadata: dict | None = None,
        why: bool = False,
        demands: Demands = NO_DEMANDS,
    ) -> CatTurn:
        """Housekeeping prompts go around the agent only for a front end (the master key, or a user it acts for):
        anyone else could start a message with `### Task:` and talk to the bare model. Forced tool calls need it."""
        settings = self.settings
        front_end = self.identity.master_key or self.identity.delegated
        key = conversation_key(self.request, self.identity, settings.chat_id_header, metadata, conversation)
        return CatTurn(
            conversation=conversation,
            target=self.target,
            stream=stream,
            system_policy=settings.system_message_policy,
            identity=self.identity,
            plain=front_end and demands.call is None and settings.is_task_prompt(conversation.last_user_text),
            tools=tools,
            conversation_key=key,
            why=why,
            instructions=demands.instructions(),
        )


@dataclass(frozen=True)
class Reply:
    body: WireModel | None = None
    events: AsyncIterator[Event] | None = None
    text: str | None = None
    media_type: str = "text/plain; charset=utf-8"
    stream_type: str = STREAM_MEDIA_TYPE  # the media type of `events`


class Route(Generic[J]):
    name: ClassVar[str] = ""  # its label in the metrics (default: the class name in snake case)
    access: ClassVar[Access | None] = Access.CHAT  # None: no credentials needed
    reads_body: ClassVar[bool] = True
    limited: ClassVar[bool] = True
    idempotent: ClassVar[bool] = True
    dialect: ClassVar[Dialect] = OPENAI  # how keys, limit headers and errors look to this route's clients

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.cat = pipeline.cat

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> Job:
        return Job()

    async def prepare(self, job: Job, identity: Identity, settings: BridgeSettings) -> J:
        """The job to run, once the acting user is known (e.g. with the stored conversation it continues)."""
        return job  # type: ignore[return-value]

    async def run(self, job: J, call: Call) -> Reply:
        raise NotImplementedError

    async def answered(self, call: Call, turn: CatTurn, rules: OutputRules, demands: Demands = NO_DEMANDS) -> Answer:
        answer = await demanded_answer(self.cat, turn, rules, demands, self.pipeline.lengths)
        call.report(answer.usage, charged=answer.charged)
        return answer

    def streamed(
        self,
        call: Call,
        encoder: Encoder,
        turn: CatTurn,
        rules: OutputRules,
        demands: Demands = NO_DEMANDS,
        keep: Callable[[Answer], Awaitable[None]] | None = None,
    ) -> Reply:
        """The answer as `encoder`'s stream; `keep` (if any) runs once the answer is whole, before its ending."""

        async def settle(answer: Answer) -> None:
            call.report(answer.usage, answer.prompt_counted, answer.charged)
            if keep is not None:
                await keep(answer)

        def failed(exc: BaseException) -> BridgeError:
            call.lease.failed(exc)  # what the attempts used, though no answer came of them
            return error_of(exc, self.cat.log, call.audience)

        items = demanded_stream(self.cat, turn, rules, demands, self.pipeline.lengths, encoder.waits_for_usage)
        events = encode(encoder, items, settle, failed)
        return Reply(events=events, stream_type=encoder.media_type)

    def debug(self, call: Call, message: str) -> None:
        if call.settings.debug_mode:
            self.cat.log("info", f"openai bridge: {message}")
