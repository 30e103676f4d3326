"""`POST /v1/completions`: a prompt as one user turn through the Cat's agent, answered as a `text_completion`.

Legacy clients (`completions.create`, LangChain's `OpenAI` LLM, evaluation
harnesses) still call it. The prompt is what the user says; the Cat answers it
like any chat message (memory, hooks, agent), so there is no raw continuation
of the text: `suffix` and `logprobs` are refused, `echo` puts the prompt in
front of the answer. A batch of prompts (LangChain sends its `batch()` as one)
runs as one turn per prompt, one after another, each its own choice. A
stream (one prompt) is one chunk per Cat token, a finish chunk, usage when
asked, `[DONE]`; a failure ends it with an error event instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...http import sse
from ...http.parsing import parse_body
from ...http.pipeline import Call, Job, Reply, Route
from ...turn import tokens
from ...turn.answer import HEARTBEAT, Answer, OutputRules, Usage, answer_stream, output_rules, run_answer
from ...turn.conversation import Conversation, TextPart, Turn
from ...turn.errors import error_of, invalid_request
from ...turn.port import CatTimeout, CatTurn
from ..chat.route import completion_usage
from .protocol import Completion, CompletionChoice, CompletionRequest, Prompt

MAX_PROMPTS = 20  # a batch's prompts run one after another, each a turn of its own: bounded in count and time


def prompts_of(prompt: Prompt, stream: bool) -> list[str]:
    """A string, a token array, or a batch of them: each prompt is what a user says in a turn of its own."""
    if isinstance(prompt, str) or (prompt and isinstance(prompt[0], int)):
        batch: list = [prompt]
    else:
        batch = list(prompt)
    if not batch or len(batch) > MAX_PROMPTS or (stream and len(batch) > 1):
        most = 1 if stream else MAX_PROMPTS
        raise invalid_request(
            f"'prompt' holds {len(batch)} prompts: {'a stream takes' if stream else 'send'} at most {most} per "
            "request (each prompt is a turn of the Cat of its own).",
            "prompt",
            "unsupported_value",
        )
    texts = [one if isinstance(one, str) else tokens.decode(one, "prompt") for one in batch]
    if not all(text.strip() for text in texts):
        raise invalid_request("'prompt' must not be empty: it is what the Cat answers.", "prompt", "invalid_value")
    return texts


def _refuse_unsupported(body: CompletionRequest) -> None:
    if body.suffix:
        raise invalid_request(
            "suffix is not supported: the Cat answers the prompt as a message, it does not fill in text.",
            "suffix",
            "unsupported_parameter",
        )
    if body.logprobs is not None:
        raise invalid_request("logprobs are not available from the Cat.", "logprobs", "unsupported_parameter")
    if body.n is not None and body.n > 1:
        raise invalid_request("Only n=1 is supported: the Cat gives one answer per turn.", "n", "unsupported_value")
    if body.best_of is not None and body.best_of > 1:
        raise invalid_request(
            "Only best_of=1 is supported: the Cat gives one answer per turn.", "best_of", "unsupported_value"
        )


def rules_of(body: CompletionRequest, settings: BridgeSettings) -> OutputRules:
    _refuse_unsupported(body)
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
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return output_rules(settings, stream, body.max_tokens, "max_tokens", stops, include_usage)


@dataclass
class CompletionJob(Job):
    body: CompletionRequest | None = None
    rules: OutputRules | None = None
    prompts: list[str] = field(default_factory=list)

    def completion_cap(self) -> int:
        """Each prompt of the batch is a turn of its own, with its own cap."""
        return (self.rules.limit or 0) * len(self.prompts) if self.rules is not None else 0


def user_turn(text: str) -> Conversation:
    return Conversation("", [Turn("user", [TextPart(text)])])


@dataclass(frozen=True)
class CompletionIds:
    """One per request: every chunk shares `id`, `created` and `model`, as OpenAI's do."""

    model: str
    id: str = field(default_factory=lambda: f"cmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))

    def chunk(
        self, text: str | None, finish_reason: str | None = None, with_usage: bool = False, **extra: object
    ) -> Completion:
        choices = [] if text is None else [CompletionChoice(text=text, logprobs=None, finish_reason=finish_reason)]
        if with_usage:
            extra.setdefault("usage", None)
        return Completion(
            id=self.id, created=self.created, model=self.model, choices=choices, system_fingerprint=None, **extra
        )


class Completions(Route[CompletionJob]):
    name = "completions"

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> CompletionJob:
        body = parse_body(CompletionRequest, raw)
        rules = rules_of(body, settings)
        prompts = prompts_of(body.prompt, rules.stream)
        # What admission counts: every prompt of the batch (each runs as its own turn).
        counted = Conversation("", [Turn("user", [TextPart(text)]) for text in prompts])
        return CompletionJob(body.model, body.user, counted, False, body, rules, prompts)

    async def run(self, job: CompletionJob, call: Call) -> Reply:
        body, rules = job.body, job.rules
        assert body is not None and rules is not None
        ids = CompletionIds(body.model)
        self.pipeline.debug(
            call,
            f"{ids.id} user={call.identity.user_id} label={body.user!r} model={body.model} prompts={len(job.prompts)} "
            f"stream={rules.stream} limit={rules.limit} echo={bool(body.echo)}",
        )
        if rules.stream:
            turn = call.turn(user_turn(job.prompts[0]), True)
            echo = job.prompts[0] if body.echo else ""
            # an echoed prompt is a text chunk too: such a stream's first token is not timed
            output = () if echo else (b'"text":"',)
            return Reply(events=self.stream(turn, rules, ids, call, echo), ends=(sse.DONE,), output=output)
        return Reply(await self.batch(job.prompts, bool(body.echo), rules, ids, call))

    async def batch(
        self, prompts: list[str], echo: bool, rules: OutputRules, ids: CompletionIds, call: Call
    ) -> Completion:
        """One turn per prompt, one after another, all within the request's time."""
        deadline = time.monotonic() + rules.timeout
        choices, used, charged = [], Usage(0, 0), 0
        for index, prompt in enumerate(prompts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CatTimeout(rules.timeout)
            turn_rules = dataclasses.replace(rules, timeout=remaining)
            try:
                answer = await run_answer(self.cat, call.turn(user_turn(prompt), False), turn_rules)
            except CatTimeout:
                raise CatTimeout(rules.timeout) from None  # the request's time, not what was left of it
            used = Usage(
                used.prompt_tokens + answer.usage.prompt_tokens, used.completion_tokens + answer.usage.completion_tokens
            )
            charged += answer.charged
            call.report(used, charged=charged)  # what ran counts, even if a later prompt fails
            text = (prompt if echo else "") + answer.content
            choices.append(CompletionChoice(text=text, index=index, logprobs=None, finish_reason=answer.finish_reason))
        return Completion(
            id=ids.id,
            created=ids.created,
            model=ids.model,
            choices=choices,
            system_fingerprint=None,
            usage=completion_usage(used),
        )

    async def stream(
        self, turn: CatTurn, rules: OutputRules, ids: CompletionIds, call: Call, echo: str
    ) -> AsyncIterator[bytes]:
        with_usage = rules.include_usage
        try:
            if echo:
                yield sse.event(ids.chunk(echo, with_usage=with_usage))
            async with contextlib.aclosing(answer_stream(self.cat, turn, rules, self.cat.log, with_usage)) as items:
                async for item in items:
                    if item is HEARTBEAT:
                        yield sse.PING
                    elif isinstance(item, str):
                        yield sse.event(ids.chunk(item, with_usage=with_usage))
                    elif isinstance(item, Answer):
                        ending = item
            yield sse.event(ids.chunk("", ending.finish_reason, with_usage=with_usage))
            call.report(ending.usage, ending.prompt_counted, ending.charged)
            if with_usage:
                yield sse.event(ids.chunk(None, usage=completion_usage(ending.usage)))
            yield sse.DONE
        except Exception as exc:  # after the headers, a failure is an error event, never a trace
            yield sse.event(error_of(exc, self.cat.log, call.audience).wire())
