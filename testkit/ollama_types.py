"""Every body and line the bridge sends on its Ollama routes, parsed as the `ollama` client parses it (`cls(**obj)`
with its own types), and with no key those types lack: they ignore unknown keys, so a typo would otherwise pass.

`ollama` needs pydantic >= 2.9: on the Python 3.10 / pydantic 2.4 stack it is absent and `available` is False.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel

try:
    import ollama

    KINDS: dict[str, Any] = {
        "chat": ollama.ChatResponse,
        "generate": ollama.GenerateResponse,
        "tags": ollama.ListResponse,
        "show": ollama.ShowResponse,
        "embed": ollama.EmbedResponse,
        "pull": ollama.ProgressResponse,
    }
    available = True
except ImportError:  # pragma: no cover - the Python 3.10 stack
    available = False

EXTRA = {"name"}  # Ollama's /api/tags sends `name` next to `model` (older clients read it); the types have `model`


def _models_in(annotation: Any) -> list[type]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _known(obj: Any, model: type, where: str) -> None:
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            _known(item, model, f"{where}[{i}]")
        return
    if not isinstance(obj, dict):
        return
    fields = {(f.alias or name): f for name, f in model.model_fields.items()}
    for key, value in obj.items():
        if key not in fields:
            assert key in EXTRA, f"{where}.{key}: not a field of ollama's {model.__name__}"
            continue
        for inner in _models_in(fields[key].annotation):
            _known(value, inner, f"{where}.{key}")


def check(obj: Any, kind: str) -> Any:
    """`obj` as the client reads it; an error line (`{"error": ...}`) is what the client raises on."""
    assert isinstance(obj, dict), obj
    if "error" in obj:
        assert list(obj) == ["error"] and isinstance(obj["error"], str), obj
        return obj
    if kind == "version":
        assert list(obj) == ["version"] and isinstance(obj["version"], str), obj
        return obj
    if not available:  # pragma: no cover - the Python 3.10 stack: the tests' literal shapes still hold
        return obj
    _known(obj, KINDS[kind], kind)
    return KINDS[kind](**obj)


def check_lines(raw: bytes, kind: str) -> list[dict]:
    """An NDJSON stream: one JSON object a line, each checked; the last is `done` (or an error)."""
    text = raw.decode("utf-8")
    assert text.endswith("\n"), "an NDJSON stream ends its last line"
    lines = [json.loads(part) for part in text.splitlines()]
    for obj in lines:
        check(obj, kind)
    assert lines and (lines[-1].get("done") or "error" in lines[-1] or kind == "pull"), lines[-1:]
    assert not any(obj.get("done") for obj in lines[:-1]), "a line after the one that said done"
    return lines
