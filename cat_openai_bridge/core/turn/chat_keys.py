"""Which client chat a request belongs to: the id a front end sends, or else a hash of how the chat started (every
request resends it). Keys are scoped to the user, so a memory plugin keyed by them never mixes two users' chats."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request

from .conversation import Conversation
from .port import Identity

METADATA_KEYS = ("chat_id", "conversation_id", "thread_id")


def conversation_key(
    request: Request, identity: Identity, header: str, metadata: dict[str, Any] | None, conversation: Conversation
) -> str:
    """`chat:<user scope>:<the client's chat id>`, or `derived:<user scope>:<hash of how the chat started>`."""
    # Fixed length, so `<scope>:<chat id>` can never be read two ways.
    scope = hashlib.sha256(identity.user_id.encode("utf-8")).hexdigest()[:16]
    sent = [request.headers.get(header, "") if header else ""] + [(metadata or {}).get(name) for name in METADATA_KEYS]
    chat_id = next((value.strip() for value in sent if isinstance(value, str) and value.strip()), "")
    if chat_id:
        return f"chat:{scope}:{chat_id[:200]}"
    first_user = next((t for t in conversation.turns if t.role == "user"), None)
    seed = f"{conversation.system}\x00{first_user.text if first_user else ''}"
    return f"derived:{scope}:" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]
