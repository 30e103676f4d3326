"""Which client chat a request belongs to, so each chat can keep its own Cat conversation.

Front ends that know the chat say so (Open WebUI's X-OpenWebUI-Chat-Id, or
`metadata.chat_id`); otherwise the chat is recognised by how it started, since
every request of a chat resends the same first messages.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request

from .conversation import Conversation

METADATA_KEYS = ("chat_id", "conversation_id", "thread_id")


def conversation_key(request: Request, header: str, metadata: dict[str, Any] | None, conversation: Conversation) -> str:
    if header:
        sent = request.headers.get(header, "").strip()
        if sent:
            return f"chat:{sent[:200]}"
    for name in METADATA_KEYS:
        value = (metadata or {}).get(name)
        if isinstance(value, str) and value.strip():
            return f"chat:{value.strip()[:200]}"
    first_user = next((t for t in conversation.turns if t.role == "user"), None)
    seed = f"{conversation.system}\x00{first_user.text if first_user else ''}"
    return "derived:" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]
