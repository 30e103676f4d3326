"""The Prometheus text format (0.0.4): counters, gauges and histograms with labels.

Our own: neither Cat ships `prometheus_client`, and v2's installer reads only one line of `requirements.txt`. Every
family is capped at `MAX_SERIES` label sets, so no label value a client influences can grow it without bound.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import Any

MAX_SERIES = 500
OTHER = "other"  # the label value of everything past the cap
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Family:
    kind = ""

    def __init__(self, name: str, help: str, labels: Labels = ()) -> None:
        self.name, self.help, self.labels = name, help, labels
        self.series: dict[Labels, Any] = {}

    def _key(self, values: Labels) -> Labels:
        if len(values) != len(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}")
        if values in self.series or len(self.series) < MAX_SERIES:
            return values
        return tuple(OTHER for _ in values)

    def _selector(self, values: Labels, extra: str = "") -> str:
        parts = [f'{name}="{_escape(value)}"' for name, value in zip(self.labels, values)] + ([extra] if extra else [])
        return "{" + ",".join(parts) + "}" if parts else ""

    def lines(self) -> list[str]:
        raise NotImplementedError


class Gauge(Family):
    kind = "gauge"

    def inc(self, *values: str, by: float = 1.0) -> None:
        key = self._key(values)
        self.series[key] = self.series.get(key, 0.0) + by

    def lines(self) -> list[str]:
        return [f"{self.name}{self._selector(k)} {_number(v)}" for k, v in sorted(self.series.items())]


class Counter(Gauge):
    """Only goes up; Prometheus takes a restart's drop to zero as a reset."""

    kind = "counter"

    def __init__(self, name: str, help: str, labels: Labels = ()) -> None:
        if not name.endswith("_total"):
            raise ValueError("a counter's name ends in _total")
        super().__init__(name, help, labels)

    def inc(self, *values: str, by: float = 1.0) -> None:
        if by < 0:
            raise ValueError("a counter only goes up")
        super().inc(*values, by=by)


class Histogram(Family):
    kind = "histogram"

    def __init__(self, name: str, help: str, buckets: Iterable[float], labels: Labels = ()) -> None:
        super().__init__(name, help, labels)
        self.bounds = sorted(buckets)  # a series: its per bucket counts, and [its sum]

    def observe(self, seconds: float, *values: str) -> None:
        key = self._key(values)
        counts, total = self.series.setdefault(key, ([0] * (len(self.bounds) + 1), [0.0]))
        counts[bisect_left(self.bounds, seconds)] += 1  # the first bucket whose upper bound (le) holds it
        total[0] += seconds

    def lines(self) -> list[str]:
        out = []
        for key, (counts, total) in sorted(self.series.items()):
            running = 0
            for bound, count in zip([*self.bounds, math.inf], counts):
                running += count
                le = 'le="' + _number(bound) + '"'
                out.append(f"{self.name}_bucket{self._selector(key, le)} {running}")
            out.append(f"{self.name}_sum{self._selector(key)} {_number(total[0])}")
            out.append(f"{self.name}_count{self._selector(key)} {running}")
        return out


class Sampled(Family):
    """A value read when scraped (a gauge or counter kept elsewhere, e.g. the limiter's backend failures)."""

    def __init__(self, name: str, help: str, kind: str, read: Callable[[], float]) -> None:
        super().__init__(name, help)
        self.kind, self.read = kind, read

    def lines(self) -> list[str]:
        return [f"{self.name} {_number(self.read())}"]


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        lines += [f"# HELP {family.name} {family.help}", f"# TYPE {family.name} {family.kind}", *family.lines()]
    return "\n".join(lines) + "\n"
