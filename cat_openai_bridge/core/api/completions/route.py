"""`POST /v1/completions`: a prompt as one user turn through the Cat's agent, answered as a `text_completion`.

The Cat answers a prompt like any chat message, so there is no raw continuation (`suffix`, `logprobs` refused).
A batch (LangChain sends its `batch()` as one) runs one turn per prompt, one after another; a stream takes one.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...http.parsing import parse_body
from ...http.route import Call, Cost, Job, Reply, Route, turn_cost
from ...turn import tokens
from ...turn.answer import OutputRules, Usage
from ...turn.conversation import Conversation, TextPart, Turn
from ...turn.demands import checked_answer, spent
from ...turn.errors import invalid_request
from ...turn.port import CatTimeout
from ..chat.encoder import CompletionIds, completion_usage
from ..chat.route import openai_rules
from .encoder import TextChunkEncoder
from .protocol import Completion, CompletionChoice, CompletionRequest, Prompt, batch_of

MAX_PROMPTS = 20  # a batch's prompts run one after another, each a turn of its own: bounded in count and time


def prompts_of(prompt: Prompt, stream: bool) -> list[str]:
    batch = batch_of(prompt)
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


def rules_of(body: CompletionRequest, settings: BridgeSettings) -> OutputRules:
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
    return openai_rules(settings, body, body.max_tokens, "max_tokens")


def user_turn(text: str) -> Conversation:
    return Conversation("", [Turn("user", [TextPart(text)])])


@dataclass(frozen=True, kw_only=True)
class CompletionJob(Job):
    body: CompletionRequest
    rules: OutputRules
    prompts: list[str]

    def cost(self) -> Cost:
        counted = Conversation("", [Turn("user", [TextPart(text)]) for text in self.prompts])
        return turn_cost(counted, self.rules, turns=len(self.prompts), param="prompt")  # each a turn, with its cap


class Completions(Route[CompletionJob]):
    name = "completions"

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> CompletionJob:
        body = parse_body(CompletionRequest, raw)
        rules = rules_of(body, settings)
        prompts = prompts_of(body.prompt, rules.stream)
        return CompletionJob(model=body.model, label=body.user, body=body, rules=rules, prompts=prompts)

    async def run(self, job: CompletionJob, call: Call) -> Reply:
        body, rules = job.body, job.rules
        ids = CompletionIds(body.model, "cmpl")
        self.debug(
            call,
            f"{ids.id} user={call.identity.user_id} label={body.user!r} model={body.model} prompts={len(job.prompts)} "
            f"stream={rules.stream} limit={rules.limit} echo={bool(body.echo)}",
        )
        if rules.stream:
            turn = call.turn(user_turn(job.prompts[0]), stream=True)
            encoder = TextChunkEncoder(ids, rules.include_usage, job.prompts[0] if body.echo else "")
            return self.streamed(call, encoder, turn, rules)
        return Reply(await self.batch(job, ids, call))

    async def batch(self, job: CompletionJob, ids: CompletionIds, call: Call) -> Completion:
        rules = job.rules
        deadline = time.monotonic() + rules.timeout
        choices, used, charged = [], Usage(0, 0), 0
        for index, prompt in enumerate(job.prompts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CatTimeout(rules.timeout)
            turn_rules = dataclasses.replace(rules, timeout=remaining)
            try:
                answer = await checked_answer(
                    self.cat, call.turn(user_turn(prompt), stream=False), turn_rules, self.pipeline.lengths
                )
            except CatTimeout as exc:
                timeout = CatTimeout(rules.timeout)  # the request's time, not what was left of it
                timeout.spent = spent(exc)  # type: ignore[attr-defined]
                raise timeout from None
            used += answer.usage
            charged += answer.charged
            call.report(used, charged=charged)  # what ran counts, even if a later prompt fails
            text = (prompt if job.body.echo else "") + answer.content
            choices.append(CompletionChoice(text=text, index=index, logprobs=None, finish_reason=answer.finish_reason))
        return ids.stamp(Completion, choices=choices, usage=completion_usage(used))
