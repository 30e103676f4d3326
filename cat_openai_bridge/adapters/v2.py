"""Cheshire Cat v2 (the `cheshire-cat-ai` package, 2.x).

Every Cat agent is a model. A turn runs the agent the way the Cat's own
AG-UI stream does: a stream callback on the request context, the agent in a
task of the same context, so its LLM tokens reach us as they are produced.
Imports of `cat` stay inside functions: v1 imports this file too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from functools import lru_cache
from importlib import metadata
from typing import Any

from starlette.requests import Request

from ..core.config.settings import BridgeSettings
from ..core.turn import tokens
from ..core.turn.conversation import ClientTool, ImagePart, TextPart, ToolCall, Turn
from ..core.turn.port import (
    Access,
    CatFailure,
    CatTurn,
    EmbedderInfo,
    Identity,
    ModelCard,
    TextDelta,
    TurnEvent,
    TurnResult,
)

DEFAULT_AGENT = "default"
UNCONFIGURED = "default"  # the Cat's placeholder model provider: "default:default" means nothing is configured


@lru_cache(maxsize=1)
def _system_directive():
    """A Directive class made on first use, so the Cat does not register it as a service."""
    from cat.services.directives.base import Directive

    class ClientSystemPrompt(Directive):
        slug = "openai_bridge_client_system"

        def __init__(self, policy: str, text: str) -> None:
            self.policy = policy
            self.text = text

        async def start(self, agent) -> None:
            if self.policy == "replace":
                agent.system_prompt = self.text
            else:
                agent.system_prompt = f"{agent.system_prompt}\n\n{self.text}" if agent.system_prompt else self.text

    return ClientSystemPrompt


class ClientToolsCalled(Exception):
    """The Cat's model called a client's tool: the agent stops so the client can run it."""

    def __init__(self, message) -> None:
        super().__init__("client tool called")
        self.message = message


@lru_cache(maxsize=1)
def _client_tool_classes():
    """A Tool that hands the call back instead of running, and the directive that offers them; made on first use."""
    from cat.mad_hatter.decorators import Tool
    from cat.services.directives.base import Directive

    class ClientTool(Tool):
        async def execute(self, agent, tool_call):
            raise ClientToolsCalled(agent.result.messages[-1])

    class ClientTools(Directive):
        slug = "openai_bridge_client_tools"

        def __init__(self, tools) -> None:
            self.tools = tools

        async def start(self, agent) -> None:
            agent.tools = [*agent.tools, *self.tools]

    return ClientTool, ClientTools


def _client_tools_directive(tools: tuple[ClientTool, ...]):
    tool_class, directive_class = _client_tool_classes()
    offered = [tool_class(None, t.name, t.description, t.parameters, {}) for t in tools]
    return directive_class(offered)


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


def _calls_text(message) -> str:
    return "".join(json.dumps({"name": c.name, "arguments": c.args}) for c in message.tool_calls)


def _message_text(message) -> str:
    return message.text + _calls_text(message) if message.tool_calls else message.text


def _why(agent) -> dict:
    """What the agent did: its final system prompt (where directives put recalled memories), each step."""
    steps = []
    for message in agent.result.messages:
        step: dict = {"role": message.role, "text": message.text}
        if message.tool_calls:
            step["tool_calls"] = [{"id": c.id, "name": c.name, "args": c.args} for c in message.tool_calls]
        if message.tool_call_id:
            step["tool_call_id"] = message.tool_call_id
        steps.append(step)
    return {
        "agent": agent.slug,
        "model": agent.model,
        "system_prompt": agent.system_prompt,
        "llm_calls": sum(1 for m in agent.result.messages if m.role == "assistant"),
        "tools_available": [t.name for t in agent.tools],
        "steps": steps,
    }


def _prompts(system: list[tuple[str, str]], history: list[tuple[str, str]], calls: list[int]) -> int:
    """Prompt tokens of LLM calls that each read `system` and the first `n` messages of `history`, for n in
    `calls`: each message counted once (a long one is not tokenized again for every call of the turn)."""
    base = tokens.count_chat(system)
    costs = [tokens.TOKENS_PER_MESSAGE + tokens.count_text(role) + tokens.count_text(text) for role, text in history]
    prefix = [0]
    for cost in costs:
        prefix.append(prefix[-1] + cost)
    return sum(base + prefix[n] for n in calls)


def _turn_result(agent) -> TurnResult:
    """The final answer, and usage counted over every LLM call of the turn (in a thread: prompts may be long)."""
    produced = list(agent.result.messages)
    answers = [i for i, m in enumerate(produced) if m.role == "assistant"]
    final = produced[answers[-1]].text if answers else ""
    history = [(m.role, _message_text(m)) for m in [*agent.task.messages, *produced]]
    system = [("system", agent.system_prompt)] if agent.system_prompt else []
    asked = len(agent.task.messages)
    prompt_tokens = _prompts(system, history, [asked + i for i in answers])
    extra = sum(tokens.count_text(history[asked + i][1]) for i in answers[:-1])
    return TurnResult(final, prompt_tokens, extra)


def _stopped_result(agent, text: str) -> TurnResult:
    """A run stopped at the client's cut, in the middle of an LLM call: every call so far read its prompt, the
    one in flight included; what the LLM produced is the text streamed (tool calls of finished steps aside)."""
    produced = list(getattr(getattr(agent, "result", None), "messages", []))
    history = [(m.role, _message_text(m)) for m in [*agent.task.messages, *produced]]
    system = [("system", agent.system_prompt)] if agent.system_prompt else []
    asked = len(agent.task.messages)
    calls = [asked + i for i, m in enumerate(produced) if m.role == "assistant"] + [len(history)]
    extra = sum(tokens.count_text(_calls_text(m)) for m in produced if m.role == "assistant" and m.tool_calls)
    return TurnResult(text, _prompts(system, history, calls), extra)


def _plain_result(system: str, task, text: str) -> TurnResult:
    history = [(m.role, _message_text(m)) for m in task.messages]
    prompt = tokens.count_chat(([("system", system)] if system else []) + history)
    return TurnResult(text, prompt)


class V2Cat:
    name = "v2"
    supports_images = True
    supports_client_tools = True
    stops_turns = True

    def __init__(self) -> None:
        self._embedder_sizes: dict[str, int] = {}  # v2 does not say an embedder's size: learnt from its vectors

    def cat_version(self) -> str:
        return metadata.version("cheshire-cat-ai")

    async def identify(self, request: Request, access: Access) -> Identity | None:
        """The Cat authenticated the request before our route ran; v2 routes need no more than a user.

        A route that takes its key from another header (Anthropic's `x-api-key`) hands over the request with
        that key as its bearer: the Cat's own auth handlers check it, and its user becomes the request's user,
        as the Cat's middleware would have made it."""
        from cat import config
        from cat.ambient.context_vars import ctx

        context = ctx()
        user = context.user
        seen = context.request.headers.get("authorization") if context.request is not None else None
        if user is None and request.headers.get("authorization") not in (None, seen):
            from cat.ambient import auth

            user = context.user = await auth(request)
        if user is None:
            return None
        credential = request.headers.get("authorization", "")
        if credential.lower().startswith("bearer "):
            credential = credential[7:]
        master = config.API_KEY is not None and credential == config.API_KEY
        return Identity(str(user.id), user.name, user.is_admin(), master)

    def act_as(self, caller: Identity, label: str) -> Identity:
        """v2 user ids are UUIDs: a label maps to the same user every time, and never to the admin."""
        return Identity(str(uuid.uuid5(uuid.NAMESPACE_URL, f"cat-openai-bridge:user:{label}")), label, delegated=True)

    async def load_settings(self) -> BridgeSettings:
        from ..settings_service import OpenAIBridgeSettings

        return await OpenAIBridgeSettings.cached_settings()

    async def _core_settings(self):
        from cat.ambient.runtime import ccat

        core = await ccat().get("config", "core")
        return await core.load_settings()

    async def llm_configured(self) -> bool:
        return not str((await self._core_settings()).default_llm).startswith(f"{UNCONFIGURED}:")

    async def embedder(self) -> EmbedderInfo | None:
        slug = str((await self._core_settings()).default_embedder)
        if slug.startswith(f"{UNCONFIGURED}:"):
            return None
        return EmbedderInfo(slug, self._embedder_sizes.get(slug))

    def _agents(self) -> dict:
        from cat.ambient.runtime import ccat

        return ccat().registry.classes.get("agents", {})

    async def list_models(self, settings: BridgeSettings) -> list[ModelCard]:
        agents = self._agents()
        cards = []
        if DEFAULT_AGENT in agents:
            cards.append(ModelCard(settings.model_alias, "cheshire-cat", "The Cat's default agent"))
        for slug, cls in agents.items():
            if slug != settings.model_alias:
                cards.append(ModelCard(slug, cls.plugin_id or "core", cls.description or ""))
        return cards

    async def resolve_model(self, model: str, settings: BridgeSettings) -> str | None:
        agents = self._agents()
        if model == settings.model_alias and DEFAULT_AGENT in agents:
            return DEFAULT_AGENT
        return model if model in agents else None

    async def _work(self, turn: CatTurn) -> tuple[Any, Any, Any]:
        """(agent, task, the coroutine to run): the agent with the client's system prompt and tools, or the bare LLM."""
        from cat.ambient.runtime import ccat
        from cat.types import Task

        agent = await ccat().get("agents", turn.target, raise_error=False)
        if agent is None:
            raise CatFailure(f"agent '{turn.target}' is not available")
        system = turn.conversation.system
        extra = []
        if system and turn.system_policy != "ignore" and not turn.plain:
            extra.append(_system_directive()(turn.system_policy, system))
        if turn.instructions and not turn.plain:
            extra.append(_system_directive()("append", turn.instructions))
        if turn.tools and not turn.plain:
            extra.append(_client_tools_directive(turn.tools))
        if extra:
            agent.directives = [*type(agent).directives, *extra]
        task = Task(messages=[_cat_message(t) for t in turn.conversation.turns], stream=turn.stream)
        if turn.plain:
            from cat.ambient import llm

            # No agent prompt here to append to; `ignore` still means the client's system text goes nowhere.
            client = "" if turn.system_policy == "ignore" else system
            prompt = "\n\n".join(p for p in (client, turn.instructions) if p)
            return agent, task, llm(prompt, messages=task.messages, stream=turn.stream)
        return agent, task, agent(task)

    async def _result(self, turn: CatTurn, agent: Any, task: Any, runner: asyncio.Task) -> TurnResult:
        """The finished run as a TurnResult; a client tool call ends it on purpose, anything else raised fails it."""
        called: tuple[ToolCall, ...] = ()
        try:
            runner.result()
        except ClientToolsCalled as stop:
            offered = {t.name for t in turn.tools}
            called = tuple(
                ToolCall(c.id, c.name, json.dumps(c.args)) for c in stop.message.tool_calls if c.name in offered
            )
        except asyncio.CancelledError:
            raise CatFailure("the Cat's run was cancelled") from None
        except Exception as exc:  # the provider's own words go to admins and the log only (CatFailure.detail)
            failed = "the Cat's LLM failed" if turn.plain else f"the agent '{turn.target}' failed"
            raise CatFailure(failed, f"{type(exc).__name__}: {exc}") from None
        if turn.plain:
            prompt = "" if turn.system_policy == "ignore" else turn.conversation.system
            result = await asyncio.to_thread(_plain_result, prompt, task, runner.result().text)
        else:
            counted = await asyncio.to_thread(_turn_result, agent)
            result = dataclasses.replace(counted, tool_calls=called, why=_why(agent) if turn.why else None)
        if not result.text and not result.tool_calls:
            # e.g. a stream of non-SSE bytes, which the Cat's LLM client reads as an empty answer
            raise CatFailure("the Cat's LLM returned an empty answer")
        return result

    async def run(self, turn: CatTurn) -> AsyncIterator[TurnEvent]:
        from cat.ambient.context_vars import ctx

        agent, task, work = await self._work(turn)
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
                    yield await self._stopped(turn, agent, task, runner, deltas, produced)
                    return
            yield await self._result(turn, agent, task, runner)
        finally:
            context.stream = None
            context.user = caller
            if not runner.done():
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await runner

    async def _stopped(
        self, turn: CatTurn, agent: Any, task: Any, runner: asyncio.Task, deltas: asyncio.Queue, produced: list[str]
    ) -> TurnResult:
        """The client's answer is complete: cancel the run (the Cat hangs up on its LLM) and count what was used."""
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner
        while not deltas.empty():  # produced before the cancel landed: the LLM made them, they count
            if (delta := deltas.get_nowait()) is not None:
                produced.append(delta)
        text = "".join(produced)
        if turn.plain:
            prompt = "" if turn.system_policy == "ignore" else turn.conversation.system
            return await asyncio.to_thread(_plain_result, prompt, task, text)
        return await asyncio.to_thread(_stopped_result, agent, text)

    async def embed(self, texts: list[str]) -> tuple[str, list[list[float]]]:
        """The Cat's configured embedder, the one its memory plugins use."""
        from cat.ambient import embedder

        slug = str((await self._core_settings()).default_embedder)
        gate = asyncio.Semaphore(8)  # v2 embeds one text per call: a few at a time, in order

        async def one(text: str) -> list[float]:
            async with gate:
                return list(await embedder(text))

        try:
            vectors = list(await asyncio.gather(*(one(text) for text in texts)))
        except Exception as exc:
            raise CatFailure("the Cat's embedder failed", f"{type(exc).__name__}: {exc}") from None
        if vectors:
            self._embedder_sizes[slug] = len(vectors[0])
        return slug, vectors

    def log(self, level: str, message: str) -> None:
        from cat import log

        getattr(log, level, log.info)(message)
