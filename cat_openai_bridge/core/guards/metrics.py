"""What this replica served: the figures of `GET /custom/metrics`, recorded by the pipeline for every route.

Each process counts from zero at its start (to Prometheus, a reset): behind a load balancer, scrape every replica.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..config.version import PLUGIN_VERSION
from .prometheus import Counter, Family, Gauge, Histogram, Sampled, render

# Seconds: answers take from tens of milliseconds to request_timeout (300 s by default).
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
FIRST_TOKEN_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

CAT_ERROR, TIMEOUT = "cat_error", "timeout"  # the failures counted apart: the Cat's, and the Cat's time running out


class Exchange:
    """One request as the metrics see it; `finish` records it, once."""

    def __init__(self, metrics: BridgeMetrics, route: str) -> None:
        self._metrics = metrics
        self.route = route
        self.model = ""  # the model the request named, once the Cat knew it (so labels stay a closed set)
        self.prompt_tokens = self.completion_tokens = 0
        self.replayed = False
        self.streaming = False  # its end is the stream's, not the handler's return
        self._started = time.perf_counter()
        self._first: float | None = None
        self._done = False
        metrics.in_flight.inc(route)

    def first_output(self) -> None:
        if self._first is None:
            self._first = time.perf_counter()

    def finish(self, status: int, failure: str = "") -> None:
        if self._done:
            return
        self._done = True
        m, route = self._metrics, self.route
        m.in_flight.inc(route, by=-1.0)
        m.requests.inc(route, str(status), self.model)
        m.duration.observe(time.perf_counter() - self._started, route)
        if self._first is not None:
            m.first_token.observe(self._first - self._started, route)
        if self.prompt_tokens:
            m.prompt_tokens.inc(route, self.model, by=self.prompt_tokens)
        if self.completion_tokens:
            m.completion_tokens.inc(route, self.model, by=self.completion_tokens)
        failed = {CAT_ERROR: m.cat_failures, TIMEOUT: m.cat_timeouts}.get(failure)
        if failed is not None:
            failed.inc(route)
        if self.replayed:
            m.replays.inc(route)


class BridgeMetrics:
    def __init__(
        self,
        info: Callable[[], dict[str, str]] = dict,
        redis_failures: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.requests = Counter(
            "openai_bridge_requests_total",
            "Requests answered, by route, HTTP status and model (a stream counts its status when it ends).",
            ("route", "status", "model"),
        )
        self.duration = Histogram(
            "openai_bridge_request_duration_seconds",
            "From the request to the answer's end (a stream's last event).",
            DURATION_BUCKETS,
            ("route",),
        )
        self.first_token = Histogram(
            "openai_bridge_time_to_first_token_seconds",
            "Streams: from the request to the first event carrying the answer's output.",
            FIRST_TOKEN_BUCKETS,
            ("route",),
        )
        self.prompt_tokens = Counter(
            "openai_bridge_prompt_tokens_total",
            "Prompt tokens, as the answers' usage reports them.",
            ("route", "model"),
        )
        self.completion_tokens = Counter(
            "openai_bridge_completion_tokens_total",
            "Completion tokens, as the answers' usage reports them.",
            ("route", "model"),
        )
        self.in_flight = Gauge("openai_bridge_requests_in_flight", "Requests being answered now.", ("route",))
        self.rate_limited = Counter(
            "openai_bridge_rate_limited_total",
            "429s, by the limit that refused: requests, tokens or concurrency.",
            ("limit",),
        )
        self.cat_failures = Counter(
            "openai_bridge_cat_failures_total",
            "Answers the Cat (or its LLM) failed to give: a 502 or a stream's error event.",
            ("route",),
        )
        self.cat_timeouts = Counter(
            "openai_bridge_cat_timeouts_total",
            "Answers the Cat did not finish within request_timeout: a 504 or a stream's error event.",
            ("route",),
        )
        self.replays = Counter(
            "openai_bridge_idempotent_replays_total",
            "Answers replayed for a repeated Idempotency-Key instead of a new Cat turn.",
            ("route",),
        )
        self.redis_failures = Sampled(
            "openai_bridge_redis_failures_total",
            "Calls to Redis (limits, idempotency) that failed; redis_failure_mode said what the request got.",
            "counter",
            redis_failures,
        )
        self._info = info  # read at the first scrape: the Cat may not say its version while the plugin loads

    def families(self) -> list[Family]:
        info = {"plugin_version": PLUGIN_VERSION, **self._info()}
        about = Gauge("openai_bridge_info", "This bridge: its version, the Cat's and the adapter.", tuple(info))
        about.inc(*info.values())
        return [*(value for value in vars(self).values() if isinstance(value, Family)), about]

    def render(self) -> str:
        return render(self.families())
