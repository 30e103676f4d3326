"""`POST /v1/embeddings` through the Cat's own embedder: the request, its inputs, the response.

RAG tools that embed with the same model as the Cat's memory get vectors that
match it. Token-array inputs (LangChain sends them) are decoded with the same
cl100k vocabulary those clients encode with.
"""

from __future__ import annotations

import base64
import struct
from typing import List, Optional, Sequence, Union

from pydantic import Field

from . import tokens
from .errors import invalid_request
from .requests import _Body

MAX_INPUTS = 2048

EmbeddingInput = Union[str, List[str], List[int], List[List[int]]]


class EmbeddingRequest(_Body):
    model: str = Field(min_length=1)
    input: EmbeddingInput
    encoding_format: Optional[str] = None
    dimensions: Optional[int] = Field(None, ge=1)
    user: Optional[str] = None


def texts_of(body: EmbeddingRequest) -> List[str]:
    """The inputs as texts, validated as OpenAI does (non-empty, at most 2048)."""
    raw = body.input
    if isinstance(raw, str):
        items: List[Union[str, List[int]]] = [raw]
    elif raw and all(isinstance(x, int) for x in raw):
        items = [raw]  # type: ignore[list-item]  # one token array
    else:
        items = list(raw)  # type: ignore[arg-type]
    if not items:
        raise invalid_request("'input' must not be empty.", "input", "empty_array")
    if len(items) > MAX_INPUTS:
        raise invalid_request(f"'input' may hold at most {MAX_INPUTS} items.", "input", "invalid_value")
    texts = []
    for i, item in enumerate(items):
        text = item if isinstance(item, str) else tokens.decode(item)
        if not text:
            param = "input" if len(items) == 1 else f"input.[{i}]"
            raise invalid_request(f"'{param}' must not be empty.", param, "invalid_value")
        texts.append(text)
    if body.encoding_format not in (None, "float", "base64"):
        raise invalid_request("'encoding_format' must be 'float' or 'base64'.", "encoding_format", "invalid_value")
    if body.dimensions is not None:
        raise invalid_request(
            "'dimensions' is not supported: the Cat's embedder has one size, the one its memory uses.",
            "dimensions", "unsupported_parameter",
        )
    return texts


def encode_vector(vector: Sequence[float], fmt: Optional[str]) -> Union[List[float], str]:
    if fmt == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return [float(x) for x in vector]


def embedding_list(model: str, vectors: Sequence[Sequence[float]], fmt: Optional[str], prompt_tokens: int) -> dict:
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": encode_vector(v, fmt)} for i, v in enumerate(vectors)],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
