"""Runs of plain text parts merged before a request model validates them: the conversion merges adjacent texts
anyway (ConversationBuilder), and pydantic validating 150,000 one-letter parts held the event loop for half a
second (json.loads of the same body: a tenth of that).

A plain part is an object of exactly `type` (the protocol's text type) and `text` (a str): valid for any text
part model, so merging one never hides an error. Only a list's trailing run is merged: no index that validation or
a conversion names afterwards moves. A run holding a lone surrogate (a join could pair it up) is left as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MERGE_ABOVE_BYTES = 64 * 1024  # smaller bodies are validated as they came
MERGE_ABOVE_PARTS = 256  # a body naming the text type fewer times than this is validated as it came


@dataclass(frozen=True)
class TextLists:
    """Where a protocol's content lists are: `body[items][*][content]`, its text parts typed `text_type`; items of
    a role in `skip_roles` are left alone (their texts are joined with a separator, not as one run)."""

    items: str
    text_type: str
    content: str = "content"
    skip_roles: frozenset[str] = frozenset()

    def run_start(self, content: list) -> int:
        """Where the list's trailing run of plain parts begins."""
        tt = self.text_type
        plain = [type(p) is dict and p.keys() == _KEYS and p["type"] == tt and type(p["text"]) is str for p in content]
        return len(content) - plain[::-1].index(False) if False in plain else 0

    def merge(self, items: Any) -> bool:
        """Each item's trailing run of plain parts as one part, in place; whether any was merged."""
        changed = False
        for item in items if type(items) is list else ():
            content = item.get(self.content) if type(item) is dict else None
            if type(content) is not list or len(content) < 2 or item.get("role") in self.skip_roles:
                continue
            start = self.run_start(content)
            text = "".join([part["text"] for part in content[start:]])
            if len(content) - start > 1 and not _surrogate(text):
                content[start:] = [{"type": self.text_type, "text": text}]
                changed = True
        return changed

    def merged_body(self, raw: bytes) -> bytes | None:
        """The body with its runs merged, or None when it is to be validated as it came."""
        if len(raw) <= MERGE_ABOVE_BYTES or raw.count(self.text_type.encode()) < MERGE_ABOVE_PARTS:
            return None
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # validation words the error
            return None
        if type(body) is not dict or not self.merge(body.get(self.items)):
            return None
        return json.dumps(body, separators=(",", ":")).encode("utf-8")


_KEYS = {"type", "text"}


def _surrogate(text: str) -> bool:
    """A lone surrogate (JSON lets `\\ud83d` stand alone), that a join could pair with the next part's."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
