import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def pytest_report_header(config):
    if not os.environ.get("CAT_V1_CORE"):
        return "Cat v1 tests skipped: set CAT_V1_CORE (see scripts/prepare-cat-v1.sh)"
    return f"Cat v1 tests on {os.environ['CAT_V1_CORE']}"


def pytest_terminal_summary(terminalreporter, config):
    if config.option.verbose < 0 and not os.environ.get("CAT_V1_CORE"):  # -q hides the header: say it here
        terminalreporter.write_line(pytest_report_header(config))
