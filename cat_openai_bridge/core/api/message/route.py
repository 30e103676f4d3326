"""`POST /custom/message`: one user message through the same pipeline, auth and limits, as plain JSON."""

from __future__ import annotations

from datetime import datetime, timezone

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...http.parsing import parse_body
from ...http.route import Call, Reply, Route, TurnJob
from ...turn.answer import output_rules
from ...turn.conversation import Conversation, TextPart, Turn
from ...turn.port import CatTurn
from .protocol import SimpleMessageReply, SimpleMessageRequest


class Message(Route[TurnJob]):
    name = "message"

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> TurnJob:
        body = parse_body(SimpleMessageRequest, raw)
        return TurnJob(
            model=settings.model_alias,
            label=body.user_id,
            conversation=Conversation("", [Turn("user", [TextPart(body.text)])]),
            rules=output_rules(settings, False, None, "max_tokens"),
        )

    async def run(self, job: TurnJob, call: Call) -> Reply:
        turn = CatTurn(job.conversation, call.target, False, call.settings.system_message_policy, call.identity)
        answer = await self.answered(call, turn, job.rules)
        self.debug(call, f"message user={call.identity.user_id} label={job.label!r} chars={len(answer.content)}")
        # The user the turn ran as, never a body `user_id` that was ignored: a master-key caller's users are
        # known by the name it gave them (header or trusted `user_id`), everyone else by their Cat user id.
        ran_as = call.identity.name if call.identity.delegated else call.identity.user_id
        return Reply(
            SimpleMessageReply(text=answer.content, timestamp=datetime.now(timezone.utc).isoformat(), user_id=ran_as)
        )
