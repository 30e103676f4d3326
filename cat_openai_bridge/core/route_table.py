"""The bridge: one pipeline, and the routes it serves.

Each route reads top to bottom as parse -> prepare -> run -> encode: the route
parses its body and runs the Cat, the pipeline does every shared step.
`routes.py` (the plugin's HTTP edge) calls one method per path.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from .api.anthropic.route import CountTokens, Messages
from .api.chat.route import ChatCompletions
from .api.completions.route import Completions
from .api.embeddings.route import Embeddings
from .api.health import Health
from .api.message.route import Message
from .api.metrics import Metrics
from .api.models.route import GetModel, ListModels
from .api.responses.route import Responses
from .api.responses.storage import ResponseStores
from .api.responses.stored_routes import DeleteResponse, GetResponse, Keeper, ListInputItems
from .guards.limits import Limiter
from .http.pipeline import Pipeline
from .turn.port import CatPort


class Bridge:
    def __init__(self, cat: CatPort, limiter: Limiter | None = None) -> None:
        self.cat = cat
        self.pipeline = Pipeline(cat, limiter)
        created = int(time.time())
        self._health = Health(self.pipeline)
        self._list_models = ListModels(self.pipeline, created)
        self._get_model = GetModel(self.pipeline, created)
        self._chat = ChatCompletions(self.pipeline)
        keeper = Keeper(ResponseStores(), lambda level, message: cat.log(level, message))
        self._responses = Responses(self.pipeline, keeper)
        self._get_response = GetResponse(self.pipeline, keeper)
        self._delete_response = DeleteResponse(self.pipeline, keeper)
        self._input_items = ListInputItems(self.pipeline, keeper)
        self._embeddings = Embeddings(self.pipeline)
        self._message = Message(self.pipeline)
        self._completions = Completions(self.pipeline)
        self._messages = Messages(self.pipeline)
        self._count_tokens = CountTokens(self.pipeline)
        self._metrics = Metrics(self.pipeline)

    async def health(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._health)

    async def list_models(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._list_models)

    async def get_model(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._get_model)

    async def chat_completions(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._chat)

    async def responses(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._responses)

    async def get_response(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._get_response)

    async def delete_response(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._delete_response)

    async def response_input_items(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._input_items)

    async def embeddings(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._embeddings)

    async def message(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._message)

    async def completions(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._completions)

    async def anthropic_messages(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._messages)

    async def anthropic_count_tokens(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._count_tokens)

    async def metrics(self, request: Request) -> Response:
        return await self.pipeline.serve(request, self._metrics)
