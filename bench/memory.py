"""The Cat process's resident memory, sampled in the background."""

from __future__ import annotations

import threading
from collections.abc import Callable


class PeakRSS:
    def __init__(self, read: Callable[[], int | None], every: float = 0.1) -> None:
        self._read, self._every = read, every
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            value = self._read()
            if value:
                self.samples.append(value)
            self._stop.wait(self._every)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return max(self.samples, default=0) / 2**20
