"""The system under measurement: a scripted LLM and a Cat (v2, or v1 from CAT_V1_CORE) with the bridge, on loopback."""

from __future__ import annotations

import contextlib
import tempfile
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass
from pathlib import Path

from websockets.sync.client import ClientConnection, connect

from testkit import cat_v1
from testkit.cat_v2 import put_bridge_settings, start_cat, use_llm
from testkit.processes import Server, start_scripted_llm

from .bodies import V1, V2, Endpoint

KEY = "bench-key"


@dataclass
class Stack:
    version: str  # "v2" or "v1"
    llm: Server
    cat: Server
    workdir: Path
    endpoints: dict[str, Endpoint]  # "bridge" and "native"

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {KEY}"}

    def ws_url(self, client: int = 0) -> str:
        """The Cat v1's websocket for the native stream, one user per client: v1 keeps one socket per user.
        No token: v1 lets it in without CCAT_API_KEY_WS."""
        return f"ws://127.0.0.1:{self.cat.port}/ws/{self.endpoints['native'].user(client, stream=True)}"

    def socket(self) -> ContextManager[ClientConnection | None]:
        """An open websocket when the native stream is v1's (one per scenario, as its chat keeps one), else None."""
        return connect(self.ws_url()) if self.endpoints["native"].stream == "ws" else contextlib.nullcontext()

    def check_alive(self) -> None:
        """Fail loudly if the LLM or the Cat is gone: numbers measured against a dead server mean nothing."""
        for name, server in (("scripted LLM", self.llm), ("Cat", self.cat)):
            code = server.process.poll()
            if code is not None:
                how = f"killed by signal {-code}" if code < 0 else f"exited with {code}"
                raise RuntimeError(
                    f"the {name} (pid {server.process.pid}) {how} during the benchmark; "
                    f"its log: {server.log_path}\n{server.log_tail(20)}"
                )

    def stop(self) -> None:
        self.cat.stop()
        self.llm.stop()


def start_stack(version: str = "v2") -> Stack:
    workdir = Path(tempfile.mkdtemp(prefix=f"cat-bench-{version}-"))
    llm = start_scripted_llm(workdir)
    cat = None
    try:
        if version == "v1":
            core = cat_v1.v1_core()
            if core is None:
                raise RuntimeError("the Cat v1 needs CAT_V1_CORE (scripts/prepare-cat-v1.sh)")
            cat = cat_v1.start_cat_v1(core, workdir, api_key=KEY)
            cat_v1.activate_bridge_v1(cat.url, KEY)
            cat_v1.use_llm_v1(cat.url, llm.url, KEY)
            # no limits: measure the bridge, not its guards
            cat_v1.put_bridge_settings_v1(cat.url, {"rate_limit_per_minute": 0}, KEY).raise_for_status()
            return Stack(version, llm, cat, workdir, V1)
        cat = start_cat(workdir / "project", api_key=KEY)
        use_llm(cat.url, llm.url, api_key=KEY)
        put_bridge_settings(cat.url, {"rate_limit_per_minute": 0}, api_key=KEY).raise_for_status()
        return Stack(version, llm, cat, workdir, V2)
    except BaseException:
        if cat is not None:
            cat.stop()
        llm.stop()
        raise
