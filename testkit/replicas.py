"""Cat v2 replicas with the bridge behind nginx, sharing one redis-server: the deployment docs/deployment.md shows.

Each replica is its own Cat process with its own project folder and its own scripted LLM, so a test can tell from
the LLMs' logs which replica served a request. Everything binds 127.0.0.1. Used by tests/integration/
test_replicas.py and bench/replicas.py.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .cat_v2 import put_bridge_settings, start_cat, use_llm
from .nginx import Nginx, start_nginx
from .processes import Server, free_port, start_scripted_llm
from .redis_server import RedisServer, start_redis

BASE = {"rate_limit_per_minute": 0}  # no limits unless a test sets them: test volume must never trip one


@dataclass
class Replica:
    """One Cat with the bridge, and the scripted LLM only it talks to."""

    name: str
    project: Path
    port: int
    llm: Server
    api_key: str
    cat: Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.cat is not None and self.cat.process.poll() is None

    def start(self, settings: dict) -> None:
        """Start (or restart, on the same port and project folder) and configure it."""
        self.cat = start_cat(self.project, api_key=self.api_key, port=self.port)
        use_llm(self.url, self.llm.url, api_key=self.api_key)
        put_bridge_settings(self.url, settings, api_key=self.api_key).raise_for_status()

    def kill(self) -> None:
        """SIGKILL: the replica dies as a crashed or OOM-killed process does, with no chance to settle anything."""
        assert self.cat is not None
        self.cat.process.kill()
        self.cat.process.wait(10)

    def llm_log(self) -> list[dict]:
        return httpx.get(self.llm.url + "/_requests", timeout=10).json()

    def stop(self) -> None:
        if self.cat is not None:
            self.cat.stop()
        self.llm.stop()


@dataclass
class ReplicaStack:
    workdir: Path
    redis: RedisServer
    replicas: list[Replica]
    nginx: Nginx | None
    api_key: str
    settings: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Where clients go: the proxy (or the only replica when there is no proxy)."""
        return self.nginx.url if self.nginx is not None else self.replicas[0].url

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def configure(self, **values) -> None:
        """The same bridge settings on every replica (each Cat keeps its own), on top of the stack's own."""
        for replica in self.replicas:
            if replica.alive:
                full = {**BASE, **self.settings, **values}
                put_bridge_settings(replica.url, full, api_key=self.api_key).raise_for_status()

    def revive(self) -> None:
        """Restart any replica a test killed, so the next test finds the whole stack."""
        for replica in self.replicas:
            if not replica.alive:
                replica.start({**BASE, **self.settings})

    def clear_llm_logs(self) -> None:
        for replica in self.replicas:
            httpx.delete(replica.llm.url + "/_requests", timeout=10).raise_for_status()

    def served_by(self, tag: str) -> list[str]:
        """The replicas whose LLM saw a request containing `tag`."""
        return [r.name for r in self.replicas if any(tag in str(e["body"].get("messages")) for e in r.llm_log())]

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        with ThreadPoolExecutor(len(self.replicas)) as pool:
            list(pool.map(Replica.stop, self.replicas))
        self.redis.stop()


def start_stack(
    workdir: Path, replicas: int = 2, api_key: str = "meow", proxy: bool = True, **settings
) -> ReplicaStack:
    """Redis, then the replicas in parallel (a Cat starts in seconds), then nginx in front of them."""
    redis = start_redis(workdir)
    settings = {"redis_url": redis.url, **settings}
    members: list[Replica] = []
    stack = ReplicaStack(workdir, redis, members, None, api_key, settings)
    try:
        for i in range(replicas):
            name = "ab"[i] if replicas <= 2 else str(i)
            llm = start_scripted_llm(workdir)
            members.append(Replica(name, workdir / f"replica-{name}" / "project", free_port(), llm, api_key))
        with ThreadPoolExecutor(replicas) as pool:
            list(pool.map(lambda r: r.start({**BASE, **settings}), members))
        if proxy:
            stack.nginx = start_nginx(workdir / "nginx", [r.port for r in members])
        return stack
    except BaseException:
        stack.stop()
        raise
