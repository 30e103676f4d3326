"""Which Cat is running, and the one `Bridge` built for it."""

from __future__ import annotations

import importlib.util
from functools import lru_cache

from .core.bridge import Bridge


def running_v2() -> bool:
    """v2 has the ambient context package; v1 (1.8 - 1.9) does not."""
    try:
        return importlib.util.find_spec("cat.ambient") is not None
    except (ImportError, ValueError):
        return False


@lru_cache(maxsize=1)
def bridge() -> Bridge:
    if running_v2():
        from .adapters.v2 import V2Cat

        return Bridge(V2Cat())
    from .adapters.v1 import V1Cat

    return Bridge(V1Cat())
