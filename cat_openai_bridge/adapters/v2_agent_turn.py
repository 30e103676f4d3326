"""A Cat v2 turn, run as the Cat's own AG-UI stream runs it; the client's system prompt, instructions and tools
reach the agent as a directive, and a client tool the model calls stops the agent so the client runs it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
from collections.abc import AsyncIterator, Callable
from functools import lru_cache
from typing import Any

from ..core.turn.agent_prompt import agent_prompt
from ..core.turn.conversation import ImagePart, TextPart, ToolCall, Turn
from ..core.turn.port import CatFailure, CatTurn, TextDelta, TurnEvent, TurnResult, UnknownTool
from .usage import stopped_result, turn_result, why


class ClientToolsCalled(Exception):
    """The Cat's model called a client's tool: the agent stops so the client can run it (args: the message)."""


@lru_cache(maxsize=1)
def _client_directive():
    """Made on first use, so the Cat does not register it as a service."""
    from cat.mad_hatter.decorators import Tool
    from cat.services.directives.base import Directive

    class HandedBackTool(Tool):
        async def execute(self, agent, tool_call):
            raise ClientToolsCalled(agent.result.messages[-1])

    class ClientTurn(Directive):
        slug = "openai_bridge_client"

        def __init__(self, turn: CatTurn) -> None:
            self.turn = turn

        async def start(self, agent) -> None:
            agent.system_prompt = agent_prompt(agent.system_prompt, self.turn)
            offered = [HandedBackTool(None, t.name, t.description, t.parameters, {}) for t in self.turn.tools]
            agent.tools = [*agent.tools, *offered]

    return ClientTurn


def _cat_message(turn: Turn):
    from cat.protocols.model_context.type_wrappers import ToolCall as CatToolCall
    from cat.types import ImageContent, Message, TextContent

    content: list[Any] = []
    for part in turn.parts:
        if isinstance(part, TextPart):
            content.append(TextContent(type="text", text=part.text))
        elif isinstance(part, ImagePart):
            content.append(ImageContent(type="image", data=part.data, mimeType=part.mime))
    calls = [CatToolCall(id=c.id, name=c.name, args=c.args()) for c in turn.tool_calls]
    return Message(role=turn.role, content=content, tool_calls=calls, tool_call_id=turn.tool_call_id)


async def _work(turn: CatTurn) -> tuple[Any, Any, Callable[[], tuple[str, list[Any], list[Any]]]]:
    """(agent, the coroutine to run, what its LLM calls read so far); the agent, or the bare LLM."""
    from cat.ambient.runtime import ccat
    from cat.types import Task

    agent = await ccat().get("agents", turn.target, raise_error=False)
    if agent is None:
        raise CatFailure(f"agent '{turn.target}' is not available")
    task = Task(messages=[_cat_message(t) for t in turn.conversation.turns], stream=turn.stream)
    if turn.plain:
        from cat.ambient import llm

        prompt = agent_prompt("", turn)  # no agent prompt to add to: the client's system text (unless ignored)
        return agent, llm(prompt, messages=task.messages, stream=turn.stream), lambda: (prompt, task.messages, [])
    agent.directives = [*type(agent).directives, _client_directive()(turn)]
    return agent, agent(task), lambda: (agent.system_prompt, agent.task.messages, list(agent.result.messages))


async def _result(turn: CatTurn, agent: Any, runner: asyncio.Task, read: Callable) -> TurnResult:
    called: tuple[ToolCall, ...] = ()
    try:
        runner.result()
    except ClientToolsCalled as stop:
        offered = {t.name for t in turn.tools}
        called = tuple(ToolCall(c.id, c.name, json.dumps(c.args)) for c in stop.args[0].tool_calls if c.name in offered)
    except asyncio.CancelledError:
        raise CatFailure("the Cat's run was cancelled") from None
    except Exception as exc:  # the provider's own words go to admins and the log only (CatFailure.detail)
        stray = re.fullmatch(r"Tool (.+) not found", str(exc))  # the agent's words for a call to no tool of its
        if stray and not turn.plain:
            offered = tuple(sorted({t.name for t in agent.tools}))
            raise UnknownTool(stray.group(1), offered, f"{type(exc).__name__}: {exc}") from None
        failed = "the Cat's LLM failed" if turn.plain else f"the agent '{turn.target}' failed"
        raise CatFailure(failed, f"{type(exc).__name__}: {exc}") from None
    if turn.plain:
        result = await asyncio.to_thread(stopped_result, *read(), runner.result().text)
    else:
        counted = await asyncio.to_thread(turn_result, *read())
        result = dataclasses.replace(counted, tool_calls=called, why=why(agent) if turn.why else None)
    if not result.text and not result.tool_calls:
        # e.g. a stream of non-SSE bytes, which the Cat's LLM client reads as an empty answer
        raise CatFailure("the Cat's LLM returned an empty answer")
    return result


async def _cancel(runner: asyncio.Task) -> None:
    if not runner.done():
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner


async def run_turn(turn: CatTurn) -> AsyncIterator[TurnEvent]:
    from cat.ambient.context_vars import ctx

    agent, work, read = await _work(turn)
    deltas: asyncio.Queue[str | None] = asyncio.Queue()

    async def on_event(event: dict) -> None:
        if event.get("type") == "TEXT_MESSAGE_CONTENT" and event.get("delta"):
            deltas.put_nowait(event["delta"])

    context = ctx()
    if context.request is not None and turn.conversation_key:
        # v2 has no conversation store yet (AG-UI thread_id is "_"): memory plugins can read the chat here
        context.request.state.openai_bridge_conversation = turn.conversation_key
    context.stream = on_event if turn.stream else None
    caller = context.user
    if turn.identity.delegated:
        from cat.auth.user import User

        context.user = User(id=turn.identity.user_id, name=turn.identity.name, roles=[])
    runner = asyncio.create_task(work)
    runner.add_done_callback(lambda _: deltas.put_nowait(None))
    produced: list[str] = []
    try:
        while (delta := await deltas.get()) is not None:
            produced.append(delta)
            yield TextDelta(delta)
            if turn.stop.is_set() and not runner.done():
                # The client's answer is complete: cancel the run, count what was used.
                await _cancel(runner)
                while not deltas.empty():  # produced before the cancel landed: the LLM made them, they count
                    produced.append(deltas.get_nowait() or "")
                yield await asyncio.to_thread(stopped_result, *read(), "".join(produced))
                return
        yield await _result(turn, agent, runner, read)
    finally:
        context.stream = None
        context.user = caller
        await _cancel(runner)
