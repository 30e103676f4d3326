"""Build dist/cat_openai_bridge.zip, the archive the Cat's admin "upload plugin" accepts.

The Cat names an uploaded plugin after the archive's file name, so the name
stays `cat_openai_bridge.zip` (the version is inside, in plugin.json). Only the
files git tracks go in: editor swap files, `.DS_Store`, caches and a v1 Cat's
saved settings.json never do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "cat_openai_bridge"


def tracked_files() -> list[Path]:
    """The plugin's files as git knows them (committed or staged), as they are in the working tree."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", PLUGIN.name], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"build-plugin-zip needs git and a git checkout of the project: {exc}") from None
    files = [ROOT / name for name in listed.decode().split("\0") if name]
    return sorted(path for path in files if path.is_file())  # a tracked file deleted from the tree stays out


def build(out_dir: Path = ROOT / "dist") -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{PLUGIN.name}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in tracked_files():
            info = zipfile.ZipInfo(str(path.relative_to(ROOT)), date_time=(2020, 1, 1, 0, 0, 0))  # reproducible
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return target


if __name__ == "__main__":
    built = build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist")
    version = json.loads((PLUGIN / "plugin.json").read_text())["version"]
    print(f"{built} (plugin version {version})")
