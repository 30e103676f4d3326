"""The system under measurement: a scripted LLM and a Cat v2 with the bridge, on loopback."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from testkit.cat_v2 import put_bridge_settings, start_cat, use_llm
from testkit.processes import Server, start_scripted_llm

KEY = "bench-key"


@dataclass
class Stack:
    llm: Server
    cat: Server
    workdir: Path

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {KEY}"}

    def check_alive(self) -> None:
        """Fail loudly if the LLM or the Cat is gone: numbers measured against a dead server mean nothing."""
        for name, server in (("scripted LLM", self.llm), ("Cat", self.cat)):
            code = server.process.poll()
            if code is not None:
                how = f"killed by signal {-code}" if code < 0 else f"exited with {code}"
                raise RuntimeError(f"the {name} (pid {server.process.pid}) {how} during the benchmark; "
                                   f"its log: {server.log_path}\n{server.log_tail(20)}")

    def stop(self) -> None:
        self.cat.stop()
        self.llm.stop()


def start_stack() -> Stack:
    workdir = Path(tempfile.mkdtemp(prefix="cat-bench-"))
    llm = start_scripted_llm(workdir)
    cat = start_cat(workdir / "project", api_key=KEY)
    use_llm(cat.url, llm.url, api_key=KEY)
    # no limits and no debug logging: measure the bridge, not its guards
    put_bridge_settings(cat.url, {"rate_limit_per_minute": 0}, api_key=KEY).raise_for_status()
    return Stack(llm, cat, workdir)
