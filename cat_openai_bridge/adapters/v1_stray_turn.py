"""A Cat v1 turn on a private StrayCat per request (tokens never mix with another request's), in a thread of
v1_threads.py's pool: never on the event loop, where the Cat's websocket sends would deadlock."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..cat_version import running_v2
from ..core.config.settings import BridgeSettings
from ..core.turn.agent_prompt import agent_prompt
from ..core.turn.port import CatFailure, CatTurn, Identity, TextDelta, TurnEvent, TurnResult
from .usage import recount_usage
from .v1_threads import TurnThreads, UserLocks, serialize_embedded_qdrant


class _TurnPipe:
    """One request's tokens from the Cat's thread to the event loop, then None; dropped once the client left."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed = False

    def send_ws_message(self, content: Any, msg_type: str = "notification") -> None:
        if msg_type == "chat_token" and isinstance(content, str) and content and not self.closed:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, content)


_THREADS = TurnThreads()
_USER_LOCKS = UserLocks()  # `v1_history: server`: one turn at a time per user


def in_a_thread(fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    return asyncio.wrap_future(_THREADS.submit(fn, *args))


def _quiet(*args: Any, **kwargs: Any) -> None:  # no websocket for an HTTP request
    pass


@dataclass(frozen=True)
class CatUserIdentity(Identity):
    """A caller the Cat's auth made, with its AuthUserInfo for the turn's StrayCat (a delegated user has none)."""

    user: Any = field(default=None, compare=False, repr=False)


def _private_stray(identity: Identity, pipe: _TurnPipe, stream: bool):
    from cat.auth.permissions import AuthUserInfo
    from cat.looking_glass.stray_cat import StrayCat
    from cat.memory.working_memory import WorkingMemory

    user = getattr(identity, "user", None) or AuthUserInfo(id=identity.user_id, name=identity.user_id)
    if "main_loop" in inspect.signature(StrayCat.__init__).parameters:  # 1.8.x
        stray = StrayCat(user_id=user.name, user_data=user, main_loop=pipe.loop)
    else:  # 1.9.x: loads the user's cached working memory; a private one replaces it (server
        stray = StrayCat(user)  # history reloads the user's own under a lock, in _work)
        stray.working_memory = WorkingMemory()
    # A JSON answer's tokens are dropped, not sent to wake the event loop once per token for nobody.
    stray.send_ws_message = pipe.send_ws_message if stream else _quiet
    stray.send_chat_message = stray.send_notification = stray.send_error = _quiet
    serialize_embedded_qdrant()  # turns run concurrently here: the embedded Qdrant must not see it
    return stray


def _fill_history(stray, turn: CatTurn) -> None:
    from cat.convo.messages import CatMessage, UserMessage

    kinds = {"user": UserMessage, "assistant": CatMessage}
    for past in turn.conversation.turns[:-1]:
        if past.role in kinds:
            stray.working_memory.update_history(kinds[past.role](user_id=stray.user_id, text=past.text))


def _work(stray, turn: CatTurn, history: str, abandoned: Callable[[], bool]):
    text = turn.conversation.last_user_text
    if turn.plain:
        return stray.llm(f"{text}\n\n{turn.instructions}" if turn.instructions else text, stream=turn.stream)
    server_side = history == "server"
    with contextlib.ExitStack() as held:
        if server_side:
            # One turn at a time per user; one whose client left while it waited never runs.
            if not held.enter_context(_USER_LOCKS.holding(stray.user_id, abandoned)) or abandoned():
                return None
            stray.working_memory = _stored_memory(stray)  # read under the lock: never a stale copy
        before = list(stray.working_memory.history)
        try:
            answer = stray({"user_id": stray.user_id, "text": text})
        except BaseException:
            # v1 appended the user's message before its agent ran: a failed turn takes it back.
            stray.working_memory.history = before
            raise
        if isinstance(answer, dict):  # v1's error dicts (e.g. memory recall failed): the same
            stray.working_memory.history = before
        if server_side and hasattr(stray, "update_working_memory_cache"):
            stray.update_working_memory_cache()
    return answer


def _stored_memory(stray):
    if hasattr(stray, "load_working_memory_from_cache"):  # 1.9: the Cat's cache, keyed by user
        stray.load_working_memory_from_cache()
        return stray.working_memory
    from cat.looking_glass.stray_cat import StrayCat  # 1.8: the user's persistent StrayCat
    from cat.startup import cheshire_cat_api

    state = cheshire_cat_api.state
    user = stray.user_data
    if user.id not in state.strays:
        state.strays[user.id] = StrayCat(user_id=user.name, user_data=user, main_loop=state.event_loop)
    return state.strays[user.id].working_memory


async def run_turn(turn: CatTurn, load_settings: Callable[[], Awaitable[BridgeSettings]]) -> AsyncIterator[TurnEvent]:
    pipe = _TurnPipe(asyncio.get_running_loop())
    settings = await load_settings()
    stray = _private_stray(turn.identity, pipe, turn.stream)
    stray.openai_bridge_turn = turn  # for the agent_prompt_prefix hook below
    if settings.v1_history == "request" and not turn.plain:
        _fill_history(stray, turn)
    future = in_a_thread(_work, stray, turn, settings.v1_history, lambda: pipe.closed)
    future.add_done_callback(lambda _: pipe.queue.put_nowait(None))
    try:
        while (token := await pipe.queue.get()) is not None:
            yield TextDelta(token)
        try:
            answer = future.result()
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # also a Rust panic in the Cat's tokenizer; the detail goes to admins only
            raise CatFailure("the Cat's turn failed", f"{type(exc).__name__}: {exc}") from None
        # Recounting every prompt the Cat sent can take seconds: off the event loop too.
        yield await in_a_thread(_result, stray, answer)
    finally:
        pipe.closed = True  # a client that left: the thread finishes, its output is dropped


def _result(stray, answer: Any) -> TurnResult:
    if isinstance(answer, dict):  # the Cat reports some failures as dicts instead of raising
        raise CatFailure("the Cat reported an error", str(answer.get("description") or answer.get("error") or answer))
    text = answer if isinstance(answer, str) else getattr(answer, "text", None)
    if not isinstance(text, str) or not text:
        raise CatFailure("the Cat's LLM returned an empty answer")
    prompt, extra = recount_usage(stray.working_memory.model_interactions)
    return TurnResult(text, prompt, extra)


if not running_v2():
    from cat.mad_hatter.decorators import hook

    def _template(text: str) -> str:
        return text.replace("{", "{{").replace("}", "}}")  # the prefix is a langchain template

    @hook(priority=0)  # after other plugins, so `replace` really replaces
    def agent_prompt_prefix(prefix, cat):
        turn = getattr(cat, "openai_bridge_turn", None)
        return agent_prompt(prefix, turn, _template) if turn is not None else prefix
