"""`store` and `previous_response_id`, and the routes that read stored responses back.

A stored response keeps the chain's items in the shape Responses takes as `input`; `instructions` are not carried
over, as OpenAI does not carry them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...guards.redis_client import RedisReplyError, RedisUnavailable
from ...http.route import Call, Job, Reply, Route
from ...turn.errors import BridgeError, invalid_request
from ...turn.port import Identity
from ...turn.wire import WireModel
from .protocol import Response, ResponsesRequest
from .storage import ResponseStores, StoredResponse, StoreLimits

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


def output_items(response: dict[str, Any]) -> list[dict[str, Any]]:
    """A response's output as input items for the next turn of the chain."""
    items = []
    for out in response.get("output", []):
        if out.get("type") == "message":
            text = "".join(p.get("text", "") for p in out.get("content", []))
            content = [{"type": "output_text", "text": text}]
            items.append({"type": "message", "role": "assistant", "id": out["id"], "content": content})
        elif out.get("type") in ("function_call", "custom_tool_call"):
            keep = ("type", "id", "call_id", "namespace", "name", "arguments", "input")
            items.append({k: out[k] for k in keep if k in out})
    return items


class Keeper:
    """Loads and keeps stored responses for the Responses routes; a store failure never loses an answer."""

    def __init__(self, stores: ResponseStores, log) -> None:
        self.stores = stores
        self.log = log

    async def load(self, identity: Identity, settings: BridgeSettings, response_id: str, param: str | None):
        try:
            data = await self.stores.of(settings.redis_url).get(identity.user_id, response_id)
        except (RedisUnavailable, RedisReplyError):
            raise store_unavailable() from None
        if data is None:
            raise not_found(response_id, param)
        return StoredResponse.decode(data)

    async def keep(self, identity: Identity, settings: BridgeSettings, response: Response, own: list, history: list):
        as_sent = response.as_dict()
        data = StoredResponse(as_sent, own, history + own + output_items(as_sent)).encode()
        store = self.stores.of(settings.redis_url)
        try:
            if not await store.put(identity.user_id, response.id, data, limits_of(settings)):
                self.log("info", f"openai bridge: response {response.id} not stored: larger than the store's limits")
        except (RedisUnavailable, RedisReplyError) as exc:
            self.log("warning", f"openai bridge: response {response.id} not stored: {exc}")


def wants_store(body: ResponsesRequest, settings: BridgeSettings) -> bool:
    return body.store is not False and settings.responses_store_seconds > 0


@dataclass(frozen=True, kw_only=True)
class StoredId(Job):
    response_id: str


@dataclass(frozen=True, kw_only=True)
class StoredJob(StoredId):
    stored: StoredResponse  # the caller's own, loaded


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
    """A stored response of the caller's, by the id in the path; another user's id is as good as missing."""

    reads_body = False
    limited = False
    idempotent = False

    def __init__(self, pipeline, keeper: Keeper) -> None:
        super().__init__(pipeline)
        self.keeper = keeper

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> StoredId:
        return StoredId(response_id=str(request.path_params.get("response_id", "")))

    async def prepare(self, job: Job, identity: Identity, settings: BridgeSettings) -> StoredJob:
        assert isinstance(job, StoredId)
        return StoredJob(
            response_id=job.response_id, stored=await self.keeper.load(identity, settings, job.response_id, None)
        )


class GetResponse(_StoredRoute):
    name = "responses.retrieve"

    async def run(self, job: StoredJob, call: Call) -> Reply:
        return Reply(Response.model_validate(job.stored.response))


class DeleteResponse(_StoredRoute):
    name = "responses.delete"

    async def run(self, job: StoredJob, call: Call) -> Reply:
        try:
            await self.keeper.stores.of(call.settings.redis_url).delete(call.identity.user_id, job.response_id)
        except (RedisUnavailable, RedisReplyError):
            raise store_unavailable() from None
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
        items = list(job.stored.input_items)
        if order == "desc":
            items.reverse()
        after = query.get("after")
        if after:
            ids = [item.get("id") for item in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        page = items[: int(limit_text)]
        first, last = (page[0]["id"], page[-1]["id"]) if page else (None, None)
        return Reply(InputItemList(data=page, first_id=first, last_id=last, has_more=len(items) > len(page)))
