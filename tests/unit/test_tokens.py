"""Token counting stays bounded: what it caches, and what it runs BPE on."""

from __future__ import annotations

from cat_openai_bridge.core.turn import tokens


def test_the_token_count_cache_is_bounded_in_bytes():
    cache = tokens._SmallTexts(max_bytes=64 * 1024)
    for i in range(10_000):
        cache.put(f"text number {i} " * 4, i)
    assert cache.bytes <= 64 * 1024 and 0 < len(cache) < 10_000
    assert cache.get("text number 9999 " * 4) == 9999  # the newest stay
    assert cache.get("text number 0 " * 4) is None  # the oldest went, one at a time
    assert tokens.count_text("x" * (tokens.CACHED_TEXT_CHARS + 1)) == tokens.count_text("x" * 16385)
    assert ("x" * (tokens.CACHED_TEXT_CHARS + 1)) not in tokens.CACHE._counts


def test_texts_past_the_precise_bound_count_as_their_utf8_length():
    huge = "é" * (tokens.PRECISE_CHARS + 1)
    assert tokens.count_text(huge) == 2 * len(huge)  # an upper bound, with no BPE at all
    estimate, exact = tokens.estimate_chat([("user", "hello"), ("user", "a" * (tokens.CACHED_TEXT_CHARS + 1))])
    assert not exact and estimate == 3 + 2 * 3 + 2 * tokens.count_text("user") + 1 + tokens.CACHED_TEXT_CHARS + 1


def test_long_texts_reach_bpe_in_pieces_cut_where_the_tokenizer_splits_anyway():
    prose = "The Cheshire Cat grinned at Alice, and said: we're all mad here.\n" * 2000
    assert tokens._bpe_count(prose) == len(tokens.encode(prose))  # exact for prose
    spaces = " " * 100_000  # one run: approximate, but linear (older tiktoken takes seconds on it whole)
    assert abs(tokens._bpe_count(spaces) - len(tokens.encode(spaces))) <= len(spaces) // tokens.CHUNK_CHARS * 2


def test_count_chat_follows_openais_accounting():
    expected = 3 + (3 + tokens.count_text("user") + tokens.count_text("hello"))
    assert tokens.count_chat([("user", "hello")]) == expected
    assert tokens.head("one two three", 2) == "one two"
