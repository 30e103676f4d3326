"""What a request demands of the answer's form: JSON or a forced tool call. The Cat's LLM clients pass neither on,
so the demand goes into the agent's system prompt, and an answer that falls short is re-asked once, never repaired."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .answer import Answer, AnswerLengths, OutputRules, StreamItem, answer_stream, run_answer
from .conversation import Conversation, TextPart, ToolCall, Turn
from .errors import invalid_request, structured_output_failed
from .port import CatPort, CatTimeout, CatTurn, UnknownTool
from .schema_rules import SchemaError, check_schema
from .schema_validator import validate

ANY_TOOL = "*"  # tool_choice "required": any of the client's functions


@dataclass(frozen=True)
class JsonOutput:
    schema: dict[str, Any] | None = None
    name: str = "response"
    description: str | None = None
    strict: bool = False


def json_output(
    kind: str, param: str, name: str = "response", schema: Any = None, description: str | None = None, strict=False
) -> JsonOutput | None:
    """None for text; a schema OpenAI would refuse is a 400 here too."""
    if kind == "text":
        return None
    if kind == "json_object":
        return JsonOutput()
    schema = {} if schema is None else schema
    _check(schema, bool(strict), f"response_format '{name}'", param, "invalid_value")
    return JsonOutput(schema, name, description, bool(strict))


def _check(schema: Any, strict: bool, what: str, param: str, code: str) -> None:
    try:
        check_schema(schema, strict)
    except SchemaError as exc:
        raise invalid_request(f"Invalid schema for {what}: In context={exc.path}: {exc}.", param, code) from None


def strict_parameters(tools: Sequence[tuple[str, dict | None, bool]], param: str) -> dict[str, dict]:
    """The parameters of every `strict: true` function, checked; `param` is e.g. "tools.[{i}].parameters"."""
    checked = {}
    for i, (name, parameters, strict) in enumerate(tools):
        if not strict:
            continue
        schema = parameters if parameters is not None else {"type": "object", "properties": {}}
        _check(schema, True, f"function '{name}'", param.format(i=i), "invalid_function_parameters")
        checked[name] = schema
    return checked


@dataclass(frozen=True)
class Demands:
    output: JsonOutput | None = None
    call: str | None = None  # a client function the turn must end calling, or ANY_TOOL
    strict_tools: Mapping[str, dict] = field(default_factory=dict)  # name -> parameters to validate calls against
    offered: tuple[str, ...] = ()  # the client functions offered (for the instruction)

    @property
    def any(self) -> bool:
        return self.output is not None or self.call is not None or bool(self.strict_tools)

    def instructions(self) -> str:
        lines = []
        if self.call == ANY_TOOL:
            names = ", ".join(f"`{n}`" for n in self.offered)
            lines.append(f"Answer by calling one of these functions: {names}. Do not answer with text.")
        elif self.call is not None:
            lines.append(f"Answer by calling the function `{self.call}`. Do not answer with text.")
        if self.output is not None:
            lines.append(
                "When you answer with text, answer with one JSON object and nothing else "
                "(no prose before or after it, no Markdown code fences)."
            )
            if self.output.schema is not None:
                about = f" ({self.output.description})" if self.output.description else ""
                lines.append(
                    f'The JSON object must be valid against this JSON Schema, named "{self.output.name}"{about}:\n'
                    + json.dumps(self.output.schema, separators=(",", ":"), ensure_ascii=False)
                )
        return "\n".join(lines)

    def problem(self, answer: Answer) -> str | None:
        """Why the answer falls short, or None. A cut answer is the client's own limit: not checked."""
        if answer.finish_reason == "length":
            return None
        if answer.tool_calls:
            return next(filter(None, map(self._call_problem, answer.tool_calls)), None)
        if self.call == ANY_TOOL:
            return "the Cat's agent answered with text instead of calling one of the client's functions"
        if self.call is not None:
            return f"the Cat's agent answered with text instead of calling the function '{self.call}'"
        return self._output_problem(answer.content)

    def _call_problem(self, call: ToolCall) -> str | None:
        schema = self.strict_tools.get(call.name)
        if schema is None:
            return None
        try:
            value = json.loads(call.arguments or "{}")
        except (ValueError, RecursionError):
            problem = "they are not valid JSON"
        else:
            problem = validate(value, schema)
        return f"the arguments of the call to '{call.name}' are not valid: {problem}" if problem else None

    def _output_problem(self, content: str) -> str | None:
        if self.output is None:
            return None
        try:
            value = json.loads(content)
        except ValueError as exc:
            return f"the answer is not valid JSON ({exc})"
        except RecursionError:
            return "the answer is JSON nested too deeply to read"
        if not isinstance(value, dict):
            return "the answer is JSON but not a JSON object"
        problem = None if self.output.schema is None else validate(value, self.output.schema)
        return f"the answer does not match the schema '{self.output.name}': {problem}" if problem else None


NO_DEMANDS = Demands()


# Attempts that end with no usage said: the Cat ran out of time, the client left, or the model called a tool that
# does not exist (the Cat raises). Each read its prompt at least, and is charged so.
UNREPORTED = (CatTimeout, UnknownTool, asyncio.CancelledError)


def spent(exc: BaseException) -> tuple[int, int]:
    """What a failed request's attempts used, for the token limit: the tokens of the attempts that answered (their
    `charged`), and how many attempts never said (see UNREPORTED). A Cat failure alone spent nothing."""
    return getattr(exc, "spent", (0, 1 if isinstance(exc, UNREPORTED) else 0))


def _spending(exc: BaseException, tokens: int = 0, unreported: int = 0) -> BaseException:
    """`exc`, carrying what the attempts before it used too; raised as is, so nothing is ever left uncharged."""
    before, missing = spent(exc)
    exc.spent = (before + tokens, missing + unreported)  # type: ignore[attr-defined]
    return exc


def _said(answer: Answer) -> str:
    return answer.content or " ".join(f"(called {c.name} with {c.arguments})" for c in answer.tool_calls)


def _reasked(turn: CatTurn, said: str, problem: str) -> CatTurn:
    """The correction says only what was wrong: on v1 it enters the Cat's episodic memory, and a schema recalled
    into later prompts would mislead them."""
    correction = f"Your previous answer could not be used: {problem}. Answer again, in the form the instructions ask."
    turns = [*turn.conversation.turns, Turn("assistant", [TextPart(said)]), Turn("user", [TextPart(correction)])]
    # A new run, with a stop signal of its own: the first answer's may be set already (it was cut).
    return replace(turn, conversation=Conversation(turn.conversation.system, turns), stop=threading.Event())


def _stray(cat: CatPort, turn: CatTurn, stray: UnknownTool) -> CatTurn:
    cat.log("info", f"openai bridge: re-asking once: {stray}")
    return _reasked(turn, f"(called {stray.name})", stray.problem)


def _final(stray: UnknownTool) -> Exception:
    return structured_output_failed(f"{stray}, even when told which tools exist.")


async def checked_answer(cat: CatPort, turn: CatTurn, rules: OutputRules, lengths: AnswerLengths) -> Answer:
    """The answer; a call to a tool that does not exist is re-asked once, naming the tools that do. The first
    attempt read about the prompt the second says it read: it is charged that."""
    started = time.monotonic()
    try:
        return await run_answer(cat, turn, rules, lengths)
    except UnknownTool as stray:
        again = _stray(cat, turn, stray)
    remaining = max(rules.timeout - (time.monotonic() - started), 1)
    try:
        answer = await run_answer(cat, again, replace(rules, timeout=remaining), lengths)
    except UnknownTool as stray:
        raise _spending(_final(stray), unreported=2) from None
    except BaseException as exc:
        raise _spending(exc, unreported=1)
    return replace(answer, charged=answer.charged + answer.usage.prompt_tokens)


async def _problem(demands: Demands, answer: Answer) -> str | None:
    """A check matches client patterns for up to its deadline: in a thread, so the loop serves others meanwhile."""
    return await asyncio.to_thread(demands.problem, answer) if demands.any else None


async def demanded_answer(
    cat: CatPort, turn: CatTurn, rules: OutputRules, demands: Demands, lengths: AnswerLengths
) -> Answer:
    started = time.monotonic()
    answer = await checked_answer(cat, turn, rules, lengths)
    problem = await _problem(demands, answer)
    if problem is None:
        return answer
    cat.log("info", f"openai bridge: re-asking once: {problem}")
    remaining = max(rules.timeout - (time.monotonic() - started), 1)
    try:
        again = await checked_answer(
            cat, _reasked(turn, _said(answer), problem), replace(rules, timeout=remaining), lengths
        )
    except BaseException as exc:
        raise _spending(exc, answer.charged)
    problem = await _problem(demands, again)
    if problem is not None:
        raise _spending(structured_output_failed(f"{problem}."), answer.charged + again.charged)
    return replace(again, usage=answer.usage + again.usage, charged=answer.charged + again.charged)


async def demanded_stream(
    cat: CatPort,
    turn: CatTurn,
    rules: OutputRules,
    demands: Demands,
    lengths: AnswerLengths,
    wait_for_result: bool = False,
) -> AsyncIterator[StreamItem]:
    """Text already sent cannot be re-asked, so a shortfall is an error; a forced call has nothing to stream before
    the turn made it, so its whole answer (re-ask included) is awaited."""
    if demands.call is not None:
        answer = await demanded_answer(cat, turn, rules, demands, lengths)
        if answer.content:
            yield answer.content
        yield answer
        return
    async with contextlib.aclosing(_streamed(cat, turn, rules, lengths, wait_for_result)) as items:
        async for item in items:
            if isinstance(item, Answer) and (problem := await _problem(demands, item)):
                failure = structured_output_failed(f"{problem}.")
                raise _spending(failure, item.charged, 0 if item.prompt_counted else 1)
            yield item


async def _streamed(
    cat: CatPort, turn: CatTurn, rules: OutputRules, lengths: AnswerLengths, wait_for_result: bool
) -> AsyncIterator[StreamItem]:
    """`answer_stream`, re-asked once for a call to a tool that does not exist while no text was sent yet."""
    sent = False
    try:
        async with contextlib.aclosing(answer_stream(cat, turn, rules, cat.log, lengths, wait_for_result)) as items:
            async for item in items:
                sent = sent or isinstance(item, str)
                yield item
        return
    except UnknownTool as stray:
        if sent:
            raise
        again = _stray(cat, turn, stray)
    try:
        async with contextlib.aclosing(answer_stream(cat, again, rules, cat.log, lengths, wait_for_result)) as items:
            async for item in items:
                first = item.usage.prompt_tokens if isinstance(item, Answer) else 0  # the first attempt's prompt
                yield replace(item, charged=item.charged + first) if isinstance(item, Answer) else item
    except UnknownTool as stray:
        raise _spending(_final(stray), unreported=2) from None
    except BaseException as exc:
        raise _spending(exc, unreported=1)
