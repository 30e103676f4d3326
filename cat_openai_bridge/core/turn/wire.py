"""The bases of what we read (unknown fields ignored, like OpenAI) and send: a field that defaults to None is sent
only when given, every other always, so a model can say both `"usage": null` and "no usage key", as OpenAI does."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, protected_namespaces=())


@functools.cache
def _always_sent(cls: type[BaseModel]) -> frozenset[str]:
    """Computed on first use, once the class (and its fields) exist."""
    return frozenset(n for n, f in cls.model_fields.items() if f.default is not None or f.default_factory is not None)


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    def model_post_init(self, __context: Any) -> None:
        self.__pydantic_fields_set__.update(_always_sent(type(self)))

    def wire(self) -> bytes:
        return self.model_dump_json(exclude_unset=True, by_alias=True).encode("utf-8")

    def as_dict(self) -> dict:
        return self.model_dump(exclude_unset=True, by_alias=True)
