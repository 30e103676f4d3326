"""`GET /custom/health`: readiness without credentials, for load balancers and the README's first check."""

from __future__ import annotations

from ..config.version import PLUGIN_VERSION
from ..http.route import Call, Job, Reply, Route
from ..turn import tokens
from ..turn.wire import WireModel


class HealthReport(WireModel):
    status: str = "ok"
    plugin_version: str = PLUGIN_VERSION
    cat_version: str
    adapter: str
    llm_configured: bool
    embedder_configured: bool  # without one, /v1/embeddings answers 400 embedder_not_configured
    embedder: str | None
    tokenizer: str | None


class Health(Route[Job]):
    access = None
    reads_body = False
    limited = False
    idempotent = False

    async def run(self, job: Job, call: Call) -> Reply:
        embedder = await self.cat.embedder()
        return Reply(
            HealthReport(
                cat_version=self.cat.cat_version(),
                adapter=self.cat.name,
                llm_configured=await self.cat.llm_configured(),
                embedder_configured=embedder is not None,
                embedder=embedder.name if embedder else None,
                tokenizer=tokens.tokenizer_name(),
            )
        )
