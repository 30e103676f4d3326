"""`GET /custom/metrics`: this replica's figures in the Prometheus text format, for its admins or its scraper.

The figures are this process's (guards/metrics.py): scrape every replica.
"""

from __future__ import annotations

import hmac

from ..guards.prometheus import CONTENT_TYPE
from ..http.route import Call, Job, Reply, Route
from ..turn.errors import insufficient_permissions, missing_credentials
from ..turn.port import Access


def _token_matches(authorization: str, token: str) -> bool:
    scheme, _, sent = authorization.partition(" ")
    if not token or scheme.lower() != "bearer" or not sent.strip().isascii():
        return False
    return hmac.compare_digest(sent.strip().encode(), token.encode())


class Metrics(Route[Job]):
    access = None  # checked in `run` (in constant time): a scrape token is not a Cat credential
    reads_body = False
    limited = False
    idempotent = False

    async def run(self, job: Job, call: Call) -> Reply:
        authorization = call.request.headers.get("authorization", "")
        if not _token_matches(authorization, call.settings.metrics_token):
            identity = await self.cat.identify(call.request, Access.METRICS)
            if identity is None:
                raise missing_credentials(bool(authorization))
            if not identity.is_admin:
                raise insufficient_permissions(
                    "Only the Cat's admins, or a scraper with the metrics_token setting's token, may read the metrics."
                )
        return Reply(text=self.pipeline.metrics.render(), media_type=CONTENT_TYPE)
