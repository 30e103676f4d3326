"""`store` and `previous_response_id`, and the routes that read stored responses back.

A stored response keeps the chain's items in the shape Responses takes as `input`; `instructions` are not carried
over, as OpenAI does not carry them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...guards.redis_client import RedisReplyError, RedisUnavailable
from ...http.route import Call, Job, Reply, Route
from ...http.text_runs import TextLists
from ...turn.errors import BridgeError, invalid_request
from ...turn.port import Identity
from ...turn.wire import WireModel
from .protocol import Response, ResponsesRequest
from .storage import OFF_LOOP_BYTES, OFF_LOOP_ITEMS, ResponseStores, StoredResponse, StoreLimits

MAX_LISTED = 100


def not_found(response_id: str, param: str | None) -> BridgeError:
    message = f"No response with id '{response_id}' was found (or it has expired)."
    return BridgeError(404, message, "invalid_request_error", param, "not_found")


def store_unavailable() -> BridgeError:
    message = "The response store (Redis) is unreachable; try again."
    return BridgeError(503, message, "api_error", None, "store_unavailable", {"retry-after": "1"})


def limits_of(settings: BridgeSettings) -> StoreLimits:
    return StoreLimits(
        ttl=settings.responses_store_seconds,
        per_answer=settings.responses_store_response_bytes,
        per_identity=settings.responses_store_identity_bytes,
        total=settings.responses_store_bytes,
    )


def own_items(body: ResponsesRequest) -> list[dict[str, Any]]:
    """The request's `input` as items, each with an id (as `GET .../input_items` lists them)."""
    if isinstance(body.input, str):
        items: list[dict[str, Any]] = [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": body.input}]}
        ]
    else:
        items = [item.model_dump(by_alias=True, exclude_none=True) for item in body.input]
    for item in items:
        item.setdefault("id", f"{'msg' if item.get('type') == 'message' else 'item'}_{uuid.uuid4().hex}")
        if item.get("type") == "message":
            item.setdefault("status", "completed")
    return items


INPUT_TEXTS = TextLists("input", "input_text")  # a request's input, and a stored one


def _decoded(data: bytes) -> StoredResponse:
    stored = StoredResponse.decode(data)
    INPUT_TEXTS.merge(stored.earlier)
    INPUT_TEXTS.merge(stored.input_items)
    return stored


class Keeper:
    """Loads and keeps stored responses for the Responses routes; a store failure never loses an answer."""

    def __init__(self, stores: ResponseStores, log) -> None:
        self.stores = stores
        self.log = log

    async def fetch(self, identity: Identity, settings: BridgeSettings, response_id: str, param: str | None) -> bytes:
        try:
            data = await self.stores.of(settings.redis_url).get(identity.user_id, response_id)
        except (RedisUnavailable, RedisReplyError):
            raise store_unavailable() from None
        if data is None:
            raise not_found(response_id, param)
        return data

    async def load(self, identity: Identity, settings: BridgeSettings, response_id: str, param: str | None):
        """Decoded, each item's trailing run of input texts as one (then validated in a blink on the loop)."""
        data = await self.fetch(identity, settings, response_id, param)
        if len(data) > OFF_LOOP_BYTES:
            return await asyncio.to_thread(_decoded, data)
        return _decoded(data)

    async def keep(
        self, identity: Identity, settings: BridgeSettings, response: Response, own: list, history: list
    ) -> bool:
        """Whether the response was kept: the response says so (`store`)."""
        stored = StoredResponse(response.as_dict(), own, history)
        many = len(own) + len(history) > OFF_LOOP_ITEMS
        data = await asyncio.to_thread(stored.encode) if many else stored.encode()
        try:
            if await self.stores.of(settings.redis_url).put(identity.user_id, response.id, data, limits_of(settings)):
                return True
            self.log("info", f"openai bridge: response {response.id} not stored: larger than the store's limits")
        except (RedisUnavailable, RedisReplyError) as exc:
            self.log("warning", f"openai bridge: response {response.id} not stored: {exc}")
        return False


def wants_store(body: ResponsesRequest, settings: BridgeSettings) -> bool:
    return body.store is not False and settings.responses_store_seconds > 0


@dataclass(frozen=True, kw_only=True)
class StoredId(Job):
    response_id: str


@dataclass(frozen=True, kw_only=True)
class StoredJob(StoredId):
    data: bytes  # the caller's own, as kept (StoredResponse.encode), undecoded


class ResponseDeleted(WireModel):
    id: str
    object: str = "response"
    deleted: bool = True


class InputItemList(WireModel):
    object: str = "list"
    data: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool


class _StoredRoute(Route[StoredJob]):
    """A stored response of the caller's, by the id in the path; another user's id is as good as missing. A read
    is a request like any other (requests per minute, in flight), and decodes only what it sends."""

    reads_body = False
    idempotent = False

    def __init__(self, pipeline, keeper: Keeper) -> None:
        super().__init__(pipeline)
        self.keeper = keeper

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> StoredId:
        return StoredId(response_id=str(request.path_params.get("response_id", "")))

    async def prepare(self, job: Job, identity: Identity, settings: BridgeSettings) -> StoredJob:
        assert isinstance(job, StoredId)
        data = await self.keeper.fetch(identity, settings, job.response_id, None)
        return StoredJob(response_id=job.response_id, data=data)


class GetResponse(_StoredRoute):
    name = "responses.retrieve"

    async def run(self, job: StoredJob, call: Call) -> Reply:
        return Reply(text=StoredResponse.response_line(job.data).decode("utf-8"), media_type="application/json")


class DeleteResponse(_StoredRoute):
    name = "responses.delete"

    async def prepare(self, job: Job, identity: Identity, settings: BridgeSettings) -> StoredJob:
        assert isinstance(job, StoredId)
        return StoredJob(response_id=job.response_id, data=b"")  # deleting needs nothing read

    async def run(self, job: StoredJob, call: Call) -> Reply:
        try:
            store = self.keeper.stores.of(call.settings.redis_url)
            deleted = await store.delete(call.identity.user_id, job.response_id)
        except (RedisUnavailable, RedisReplyError):
            raise store_unavailable() from None
        if not deleted:
            raise not_found(job.response_id, None)
        return Reply(ResponseDeleted(id=job.response_id))


class ListInputItems(_StoredRoute):
    """`order` (desc by default, as OpenAI), `limit` (1-100), `after`."""

    name = "responses.input_items"

    async def run(self, job: StoredJob, call: Call) -> Reply:
        query = call.request.query_params
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise invalid_request("Invalid 'order': expected 'asc' or 'desc'.", "order", "invalid_value")
        limit_text = query.get("limit", "20")
        if not (limit_text.isdigit() and len(limit_text) <= 3) or not 1 <= int(limit_text) <= MAX_LISTED:
            raise invalid_request(f"Invalid 'limit': expected 1 to {MAX_LISTED}.", "limit", "invalid_value")
        lines = StoredResponse.input_lines(job.data)
        if order == "desc":
            lines.reverse()
        after = query.get("after")
        if after:  # only lines that name the id are decoded, to see whether it is theirs
            needle = json.dumps(after).encode("utf-8")
            ours = (i for i, line in enumerate(lines) if needle in line and json.loads(line).get("id") == after)
            at = next(ours, None)
            lines = lines[at + 1 :] if at is not None else []
        page = [json.loads(line) for line in lines[: int(limit_text)]]
        first, last = (page[0]["id"], page[-1]["id"]) if page else (None, None)
        return Reply(InputItemList(data=page, first_id=first, last_id=last, has_more=len(lines) > len(page)))
