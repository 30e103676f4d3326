"""Build dist/cat_openai_bridge.zip, the archive the Cat's admin "upload plugin" accepts.

The Cat names an uploaded plugin after the archive's file name, so the name
stays `cat_openai_bridge.zip` (the version is inside, in plugin.json).
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "cat_openai_bridge"
SKIP_PARTS = {"__pycache__"}
SKIP_NAMES = {"settings.json"}  # a v1 Cat's saved settings, never shipped


def build(out_dir: Path = ROOT / "dist") -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{PLUGIN.name}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(PLUGIN.rglob("*")):
            if path.is_dir() or SKIP_PARTS & set(path.parts) or path.name in SKIP_NAMES or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(str(path.relative_to(ROOT)), date_time=(2020, 1, 1, 0, 0, 0))  # reproducible
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return target


if __name__ == "__main__":
    built = build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist")
    version = json.loads((PLUGIN / "plugin.json").read_text())["version"]
    print(f"{built} (plugin version {version})")
