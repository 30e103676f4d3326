"""The two bases of every wire shape: requests we read, and bodies, chunks and events we send.

Requests ignore unknown fields (front ends send extras OpenAI also ignores) and check known ones strictly, without
coercion. What we send is declared field by field, like openai-python's types, and leaves as compact UTF-8 JSON. A
field that defaults to None is sent only when it was given (a chunk's `usage`, a delta's `role`); every other field
is always sent. That one rule lets a model say both `"usage": null` and "no usage key" exactly as OpenAI does.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, protected_namespaces=())


@functools.cache
def _always_sent(cls: type[BaseModel]) -> frozenset[str]:
    """The fields a model sends even when not given; computed on first use, once its class (and fields) exist."""
    return frozenset(n for n, f in cls.model_fields.items() if f.default is not None or f.default_factory is not None)


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    def model_post_init(self, __context: Any) -> None:
        self.__pydantic_fields_set__.update(_always_sent(type(self)))

    def wire(self) -> bytes:
        return self.model_dump_json(exclude_unset=True, by_alias=True).encode("utf-8")

    def as_dict(self) -> dict:
        return self.model_dump(exclude_unset=True, by_alias=True)
