"""Per-user state the v1 adapter keeps between requests, bounded: the users its auth saw, one lock per user.

Both were plain dicts: the lock table grew by one entry for every user that
ever sent a `v1_history: server` turn, and the user cache was emptied whole
when full, so every user's next request lost what the Cat's auth had said about
them at once. Neither imports `cat`: they are tested without a Cat.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

V = TypeVar("V")


class RecentUsers(Generic[V]):
    """The last `size` users seen, the least recently seen dropped first (one at a time)."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._users: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._users)

    def __contains__(self, user_id: str) -> bool:
        return user_id in self._users

    def remember(self, user_id: str, value: V) -> None:
        with self._lock:
            self._users[user_id] = value
            self._users.move_to_end(user_id)
            while len(self._users) > self._size:
                self._users.popitem(last=False)

    def get(self, user_id: str) -> V | None:
        with self._lock:
            value = self._users.get(user_id)
            if value is not None:
                self._users.move_to_end(user_id)
            return value


class UserLocks:
    """One lock per user while someone holds or waits for it; the entry goes with its last user."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}  # user -> (lock, holders and waiters)

    def __len__(self) -> int:
        return len(self._locks)

    @contextmanager
    def holding(self, user_id: str, give_up: Callable[[], bool], poll: float = 0.2) -> Iterator[bool]:
        """Hold the user's lock for the block (True), or False if `give_up()` said so while waiting for it."""
        with self._guard:
            lock, users = self._locks.get(user_id, (threading.Lock(), 0))
            self._locks[user_id] = (lock, users + 1)
        try:
            while not lock.acquire(timeout=poll):
                if give_up():
                    yield False
                    return
            try:
                yield True
            finally:
                lock.release()
        finally:
            with self._guard:
                lock, users = self._locks[user_id]
                if users == 1:
                    del self._locks[user_id]
                else:
                    self._locks[user_id] = (lock, users - 1)
