"""Which Cat is running. Imports nothing of the plugin, so every module may ask without an import circle."""

from __future__ import annotations

import importlib.util


def running_v2() -> bool:
    """v2 has the ambient context package; v1 (1.8 - 1.9) does not."""
    try:
        return importlib.util.find_spec("cat.ambient") is not None
    except (ImportError, ValueError):
        return False
