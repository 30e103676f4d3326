#!/usr/bin/env bash
# A long soak: start a Cat with the bridge and a scripted LLM, run mixed traffic, print what happened.
# Usage: scripts/soak.sh [seconds, default 300] [workers, default 16]
source "$(dirname "$0")/venv.sh"
install_requirements test.txt
cd "$ROOT"
exec "$VENV/bin/python" - "${1:-300}" "${2:-16}" <<'PY'
import sys, tempfile
from pathlib import Path
from testkit.cat_v2 import put_bridge_settings, start_cat, use_llm
from testkit.processes import start_scripted_llm
from testkit.soak import soak

seconds, workers = float(sys.argv[1]), int(sys.argv[2])
work = Path(tempfile.mkdtemp(prefix="soak-"))
llm = start_scripted_llm(work)
cat = start_cat(work / "project", api_key="soak")
try:
    use_llm(cat.url, llm.url, api_key="soak")
    put_bridge_settings(cat.url, {"rate_limit_per_minute": 0}, api_key="soak").raise_for_status()
    report = soak(cat.url, "soak", seconds, workers, rss=cat.rss_bytes)
    print(report.summary())
    print("RSS samples (MiB):", " ".join(f"{r / 2**20:.0f}" for r in report.rss))
    sys.exit(1 if report.unexpected else 0)
finally:
    cat.stop()
    llm.stop()
PY
