"""Running Cat v1 turns side by side: an elastic thread pool, per-user locks, a serialised embedded Qdrant.

A v1 turn cannot be cancelled and may hang as long as its LLM, so a bounded pool would let hung turns starve the
others. Idle threads are reused, as starting one blocks the event loop until it first holds the GIL (180 ms with
30 busy threads on 2 cores). v1's local-mode `QdrantClient` (no `CCAT_QDRANT_HOST`) is not thread-safe:
concurrent turns corrupt it until restart, so its calls are serialised for every caller in the process.
"""

from __future__ import annotations

import functools
import inspect
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

Job = tuple[Future, Callable[..., Any], tuple[Any, ...]]


class TurnThreads:
    def __init__(self, idle_seconds: float = 10.0) -> None:
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._idle = 0  # threads waiting for a job, less the jobs already handed to them
        self._lock = threading.Lock()
        self._idle_seconds = idle_seconds

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        done: Future = Future()
        job: Job = (done, fn, args)
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._jobs.put(job)
                return done
        threading.Thread(target=self._serve, args=(job,), name="openai-bridge-v1-turn", daemon=True).start()
        return done

    def _serve(self, job: Job | None) -> None:
        while job is not None:
            done, fn, args = job
            if done.set_running_or_notify_cancel():
                try:
                    done.set_result(fn(*args))
                except BaseException as exc:  # handed to the awaiting request, which reports it
                    done.set_exception(exc)
            job = self._next()

    def _next(self) -> Job | None:
        with self._lock:
            self._idle += 1
        try:
            return self._jobs.get(timeout=self._idle_seconds)
        except queue.Empty:
            with self._lock:
                try:  # a job handed to "an idle thread" just as this one gave up waiting: take it
                    return self._jobs.get_nowait()
                except queue.Empty:
                    self._idle -= 1
                    return None


class UserLocks:
    """One lock per user while someone holds or waits for it: the entry goes with its last user."""

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


_MARK = "_openai_bridge_serialized"
_install_lock = threading.Lock()


def serialize_embedded_qdrant() -> None:
    """Idempotent. A remote Qdrant (CCAT_QDRANT_HOST) has no embedded client: the server handles concurrency."""
    from cat.memory.vector_memory import VectorMemory

    client = getattr(VectorMemory, "local_vector_db", None)
    if client is None or getattr(client, _MARK, False):
        return
    with _install_lock:
        if not getattr(client, _MARK, False):
            lock = threading.RLock()  # reentrant: some client methods call others
            for name, _ in inspect.getmembers(type(client), inspect.isfunction):
                if not name.startswith("_"):
                    setattr(client, name, _locked(lock, getattr(client, name)))
            setattr(client, _MARK, True)


def _locked(lock: threading.RLock, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return call
