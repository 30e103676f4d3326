"""The one `Bridge`, built for the running Cat on first use."""

from __future__ import annotations

from functools import lru_cache

from .cat_version import running_v2
from .core.route_table import Bridge


@lru_cache(maxsize=1)
def bridge() -> Bridge:
    if running_v2():
        from .adapters.v2 import V2Cat as Cat
    else:
        from .adapters.v1 import V1Cat as Cat
    return Bridge(Cat())
