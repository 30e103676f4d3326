"""Models on the wire: `model` objects and their `list`."""

from __future__ import annotations

from typing import Literal

from ...turn.wire import WireModel


class Model(WireModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(WireModel):
    object: Literal["list"] = "list"
    data: list[Model]
