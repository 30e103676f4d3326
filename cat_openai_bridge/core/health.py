"""`GET /custom/health`: readiness without credentials, for load balancers and the README's first check."""

from __future__ import annotations

from starlette.requests import Request

from .engine import tokens
from .engine.pipeline import Call, Job, Pipeline, Reply, Route
from .engine.wire import WireModel
from .settings import BridgeSettings
from .version import PLUGIN_VERSION


class HealthReport(WireModel):
    status: str = "ok"
    plugin_version: str = PLUGIN_VERSION
    cat_version: str
    adapter: str
    llm_configured: bool
    tokenizer: str | None


class Health(Route[Job]):
    access = None
    reads_body = False
    limited = False
    idempotent = False

    def __init__(self, pipeline: Pipeline) -> None:
        self.cat = pipeline.cat

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> Job:
        return Job()

    async def run(self, job: Job, call: Call) -> Reply:
        return Reply(
            HealthReport(
                cat_version=self.cat.cat_version(),
                adapter=self.cat.name,
                llm_configured=await self.cat.llm_configured(),
                tokenizer=tokens.tokenizer_name(),
            )
        )
