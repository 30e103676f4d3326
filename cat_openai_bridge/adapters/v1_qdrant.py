"""One caller at a time in Cat v1's embedded Qdrant.

Without `CCAT_QDRANT_HOST`, v1 keeps its vector memory in qdrant-client's
local mode: one `QdrantClient` per process (`VectorMemory.local_vector_db`),
shared by every collection, and not thread-safe. Concurrent turns corrupt it
(a numpy shape mismatch or IndexError in its payload mask) and every turn
fails from then on until restart. The bridge runs turns in threads of their own, so
it serialises the client's own calls: every caller in the process (the
bridge, the Cat's websocket and `/message`, the rabbit hole, other plugins)
then takes turns for the milliseconds a Qdrant call lasts, while embedding
calls, hooks and LLM calls stay concurrent. A Qdrant server needs none of it.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

_MARK = "_openai_bridge_serialized"
_install_lock = threading.Lock()


def serialize_embedded_qdrant() -> bool:
    """Idempotent; True when the embedded client is (now) serialised, False with a Qdrant server."""
    from cat.memory.vector_memory import VectorMemory

    client = getattr(VectorMemory, "local_vector_db", None)
    if client is None:  # a remote Qdrant (CCAT_QDRANT_HOST): the server handles concurrency
        return False
    if getattr(client, _MARK, False):
        return True
    with _install_lock:
        if not getattr(client, _MARK, False):
            lock = threading.RLock()  # reentrant: some client methods call others
            for name, _ in inspect.getmembers(type(client), inspect.isfunction):
                if not name.startswith("_"):
                    setattr(client, name, _locked(lock, getattr(client, name)))
            setattr(client, _MARK, True)
    return True


def _locked(lock: threading.RLock, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return call
