"""`GET /v1/models` and `GET /v1/models/{id}`: the Cat's agents (v2) or the Cat itself (v1) as models."""

from __future__ import annotations

from ...http.pipeline import Pipeline
from ...http.route import Call, Job, Reply, Route
from ...turn.errors import model_not_found
from ...turn.port import Access, ModelCard
from .protocol import Model, ModelList


class _ModelRoute(Route[Job]):
    access = Access.MODELS
    reads_body = False
    limited = False
    idempotent = False

    def __init__(self, pipeline: Pipeline, created: int) -> None:
        super().__init__(pipeline)
        self.created = created  # our models exist since the bridge started

    def model(self, card: ModelCard) -> Model:
        return Model(id=card.id, created=self.created, owned_by=card.owned_by)


class ListModels(_ModelRoute):
    name = "models.list"

    async def run(self, job: Job, call: Call) -> Reply:
        cards = await self.cat.list_models(call.settings)
        return Reply(ModelList(data=[self.model(card) for card in cards]))


class GetModel(_ModelRoute):
    name = "models.retrieve"

    async def run(self, job: Job, call: Call) -> Reply:
        model_id = call.request.path_params.get("model_id", "")
        for card in await self.cat.list_models(call.settings):
            if card.id == model_id:
                return Reply(self.model(card))
        raise model_not_found(model_id)
