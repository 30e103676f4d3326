"""A throwaway nginx on loopback in front of Cat replicas, configured exactly as docs/deployment.md shows.

The page's ```nginx block is the `upstream` and `server` a deployment puts in its `conf.d/`; this module reads
that very block, puts the replicas' and the proxy's ports in place of the page's (1865, 1866, 8080), and wraps it
in a main configuration of its own: pid, logs and every temp directory under the test's folder, one worker, no
daemon. So the tests run the documented proxy settings (buffering on, as nginx ships them) and a change to the
page is a change to what the tests run.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
from pathlib import Path

from .processes import REPO, Server, free_port, start

DEPLOYMENT_PAGE = REPO / "docs" / "deployment.md"
PAGE_REPLICAS = ("127.0.0.1:1865", "127.0.0.1:1866")  # the replicas' addresses as the page writes them
PAGE_LISTEN = "listen 127.0.0.1:8080;"
BLOCK = re.compile(r"^```nginx[^\n]*\n(?P<body>.*?)^```", re.S | re.M)
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")  # root's PATH may lack sbin


def documented_config(page: Path = DEPLOYMENT_PAGE) -> str:
    """The page's one ```nginx block."""
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    if len(blocks) != 1:
        raise AssertionError(f"{page} must show exactly one ```nginx block (the tested one), found {len(blocks)}")
    return blocks[0]


def site_config(replicas: list[int], port: int, page: Path = DEPLOYMENT_PAGE) -> str:
    """The documented block with these loopback ports; fails if the page's addresses moved (so no test runs a
    configuration the page no longer shows)."""
    text = documented_config(page)
    if len(replicas) != len(PAGE_REPLICAS):
        raise ValueError(f"the documented upstream has {len(PAGE_REPLICAS)} replicas")
    for written, replica in zip(PAGE_REPLICAS, replicas):
        if text.count(f"server {written}") != 1:
            raise AssertionError(f"the documented upstream must name `server {written}` once")
        text = text.replace(f"server {written}", f"server 127.0.0.1:{replica}")
    listens = re.findall(r"^\s*listen\s+([^;]+);", text, re.M)
    if listens != [PAGE_LISTEN.split()[1].rstrip(";")]:
        raise AssertionError(f"the documented server must listen on 127.0.0.1:8080 only, found {listens}")
    return text.replace(PAGE_LISTEN, f"listen 127.0.0.1:{port};")


def main_config(workdir: Path, site: Path) -> str:
    """nginx.conf around the site: everything nginx writes stays in `workdir`."""
    temps = "\n".join(f"    {name}_temp_path {workdir / 'temp' / name};" for name in TEMP_DIRS)
    # As root, nginx's workers would switch to `nobody`, who cannot enter a test's private temp folder.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    return (
        f"daemon off;\nworker_processes 1;\npid {workdir / 'nginx.pid'};\nerror_log {workdir / 'error.log'} warn;\n"
        f"{user}events {{ worker_connections 512; }}\n"
        f"http {{\n    access_log {workdir / 'access.log'};\n{temps}\n    include {site};\n}}\n"
    )


class Nginx(Server):
    """nginx on loopback; `log_tail` shows its error log."""


def start_nginx(workdir: Path, replicas: list[int], timeout: float = 15.0) -> Nginx:
    binary = nginx_binary()
    if binary is None:
        raise FileNotFoundError("nginx is not installed (scripts/system-deps.sh installs Debian's)")
    workdir.mkdir(parents=True, exist_ok=True)
    for name in TEMP_DIRS:
        (workdir / "temp" / name).mkdir(parents=True, exist_ok=True)
    port = free_port()
    site = workdir / "bridge.conf"
    site.write_text(site_config(replicas, port))
    conf = workdir / "nginx.conf"
    conf.write_text(main_config(workdir, site))
    # -e: the error log nginx opens before it has read the configuration; -p: the prefix for relative paths.
    args = [binary, "-c", str(conf), "-p", str(workdir), "-e", str(workdir / "error.log")]
    return start(  # type: ignore[return-value]
        args,
        port,
        "/custom/health",
        workdir / "error.log",
        timeout=timeout,
        ready=lambda status: True,  # nginx answers: it listens (whatever the replicas say)
        output=workdir / "nginx.out",
        stop_signal=signal.SIGTERM,  # nginx's fast shutdown
        kind=Nginx,
    )
