"""Regular expressions from outside (a client's schema `pattern`, an admin's task-prompt patterns), compiled and
matched in bounded time on the event loop.

`re` holds the GIL until a match ends and cannot be stopped: `(x|x)*z` on 30 characters takes minutes, and no scan
of a pattern's shape finds every such case (a "nested repeat" scan missed `(x|xx)+z`, `x*x*x*x*x*x*z`; a probe run
at save time missed `^Task:\\s*(title|tag|[a-z]|\\w)*:`). So patterns are matched with the `regex` package, which
both Cats already have (tiktoken's dependency; a v2 plugin's requirements.txt can name only one package), with its
`timeout`: measured on a 1,000-character text, the three patterns above end at the 50 ms asked (`re`: minutes), and
an ordinary match costs ~7 µs (`re`: ~0.7 µs). google-re2 (linear time, no timeout needed) was measured too: 0.1 ms
on the same texts, but it is in neither Cat, and it refuses look-arounds and back-references that clients' patterns
use. A check's matches share a small deadline; the answer checks run in a thread (turn/demands.py).

`regex` writes out a fixed repeat's copies when it compiles: `(?:(x|y){1000}){1000}` took 2.2 s to compile (`re`:
0.2 ms). So a pattern's `cost` (its characters plus the items fixed repeats write out) is bounded before `regex`
sees it: ~10 µs of compiling per unit at worst. What `re` cannot compile stays refused, as before.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache

import regex

try:
    from re import _parser as _sre  # Python 3.11+
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre  # type: ignore[no-redef]

MAX_COST = 4000  # of one pattern: ~30 ms of compiling at worst
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})


class PatternError(ValueError):
    pass


def cost(pattern: str) -> int:
    """Its characters plus the items that its fixed repeats write out (`a{3}` is `aaa` to `regex`); PatternError
    if `re` does not compile it."""
    try:
        re.compile(pattern)
        return len(pattern) + _written(_sre.parse(pattern))
    except re.error as exc:
        raise PatternError(f"the pattern is not a valid regular expression ({exc})") from None
    except RecursionError:
        raise PatternError("the pattern is nested too deeply") from None


def _written(node) -> int:
    total = 0
    for op, av in node:
        inner = sum(_written(sub) for sub in _subpatterns(av))
        total += max(inner, 1) * (max(av[0], 1) if str(op) in _REPEATS else 1)
    return total


def _subpatterns(value):
    if isinstance(value, _sre.SubPattern):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _subpatterns(item)


@lru_cache(maxsize=512)
def compiled(pattern: str) -> regex.Pattern:
    """PatternError for what `re` does not compile or what costs more than MAX_COST to compile."""
    if cost(pattern) > MAX_COST:
        raise PatternError(
            f"the pattern is too large to compile: {MAX_COST} characters at most, a fixed repeat "
            "counting as its copies (a{3} as aaa)"
        )
    try:
        return regex.compile(pattern)
    except RecursionError:
        raise PatternError("the pattern is nested too deeply") from None
    except (regex.error, ValueError, OverflowError) as exc:
        raise PatternError(f"the pattern is not a valid regular expression ({exc})") from None


def search(pattern: str, text: str, deadline: float, anchored: bool = False) -> bool:
    """Whether `pattern` is found in `text` (at its start if `anchored`). TimeoutError once `time.monotonic()`
    reaches `deadline` (checked before compiling too); PatternError as `compiled`."""
    if time.monotonic() >= deadline:
        raise TimeoutError
    find = compiled(pattern).match if anchored else compiled(pattern).search
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return find(text, timeout=left, concurrent=True) is not None  # the GIL released: a thread's match holds no loop
