"""Reading the Prometheus text format, and a throwaway Prometheus server (Debian's) on loopback.

`samples(text)` parses an exposition into {(name, labels): value}; `start_prometheus` runs the real server with a
configuration of its own in the test's folder (one scrape job, a short interval, storage there too) and `query`
asks its HTTP API what it stored.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from pathlib import Path

import httpx

from .processes import REPO, Server, free_port, start

Sample = tuple[str, frozenset[tuple[str, str]]]
LINE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)",?')


def samples(text: str) -> dict[Sample, float]:
    """Every sample line; fails on a line that is neither a sample nor a comment (the format is strict)."""
    out: dict[Sample, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = LINE.match(line)
        if match is None:
            raise AssertionError(f"not a Prometheus sample line: {line!r}")
        labels = frozenset(
            (m["key"], m["value"].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
            for m in LABEL.finditer(match["labels"] or "")
        )
        out[(match["name"], labels)] = float(match["value"])
    return out


def value(found: dict[Sample, float], name: str, **labels: str) -> float:
    """One sample's value; 0 when absent (a counter never incremented has no line)."""
    return found.get((name, frozenset(labels.items())), 0.0)


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


class Prometheus(Server):
    """A real Prometheus on loopback, and its HTTP API."""

    def query(self, expression: str) -> list[dict]:
        """An instant query's result vector: [{"metric": {...}, "value": [time, "text"]}, ...]."""
        r = httpx.get(self.url + "/api/v1/query", params={"query": expression}, timeout=10)
        r.raise_for_status()
        return r.json()["data"]["result"]

    def rules(self) -> list[dict]:
        r = httpx.get(self.url + "/api/v1/rules", timeout=10)
        r.raise_for_status()
        return [rule for group in r.json()["data"]["groups"] for rule in group["rules"]]

    def targets(self) -> list[dict]:
        r = httpx.get(self.url + "/api/v1/targets", timeout=10)
        r.raise_for_status()
        return r.json()["data"]["activeTargets"]


def documented_rules(page: Path = REPO / "docs" / "deployment.md") -> str:
    """The alert rules docs/deployment.md shows: its ```yaml block that starts with `groups:`."""
    blocks = [b for b in re.findall(r"^```yaml[^\n]*\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M)]
    rules = [b for b in blocks if b.startswith("groups:")]
    if len(rules) != 1:
        raise AssertionError(f"{page} must show one ```yaml block of alert rules (starting `groups:`)")
    return rules[0]


def scrape_config(targets: list[str], token: str, interval: str = "1s", rule_files: tuple[str, ...] = ()) -> str:
    """One job scraping the bridge's /custom/metrics on every target (host:port) with a bearer token."""
    return (
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        f"rule_files: {json.dumps(list(rule_files))}\n"
        "scrape_configs:\n"
        "  - job_name: cat-openai-bridge\n"
        "    metrics_path: /custom/metrics\n"
        "    authorization:\n"
        f"      credentials: {token}\n"
        "    static_configs:\n"
        f"      - targets: {json.dumps(targets)}\n"
    )


def start_prometheus(workdir: Path, config: str, timeout: float = 30.0) -> Prometheus:
    binary = prometheus_binary()
    if binary is None:
        raise FileNotFoundError("prometheus is not installed (scripts/system-deps.sh installs Debian's)")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(config)
    port = free_port()
    args = [
        binary,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1h",
    ]
    return start(  # type: ignore[return-value]
        args,
        port,
        "/-/ready",
        workdir / "prometheus.log",
        cwd=workdir,
        timeout=timeout,
        ready=lambda status: status == 200,
        stop_signal=signal.SIGTERM,
        kind=Prometheus,
    )
