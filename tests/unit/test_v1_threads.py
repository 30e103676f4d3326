"""The v1 adapter's thread pool, without a Cat: a turn never waits for a thread, idle threads are reused, then end."""

from __future__ import annotations

import threading
import time

import pytest

from cat_openai_bridge.adapters.v1_threads import TurnThreads


def _wait(check, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_job_gets_a_thread_while_every_other_thread_hangs():
    pool = TurnThreads(idle_seconds=5)
    release = threading.Event()
    hung = [pool.submit(release.wait) for _ in range(8)]
    assert pool.submit(lambda: "quick").result(timeout=5) == "quick"
    release.set()
    assert [f.result(timeout=5) for f in hung] == [True] * 8


def test_idle_threads_are_reused_rather_than_started():
    pool = TurnThreads(idle_seconds=5)
    first = pool.submit(threading.get_ident).result(timeout=5)
    assert _wait(lambda: pool._idle == 1)  # the thread is back, waiting for work
    assert {pool.submit(threading.get_ident).result(timeout=5) for _ in range(20)} == {first}


def test_idle_threads_end_after_idle_seconds():
    before = threading.active_count()
    pool = TurnThreads(idle_seconds=0.2)
    release = threading.Event()
    jobs = [pool.submit(release.wait) for _ in range(6)]
    assert threading.active_count() >= before + 6
    release.set()
    for job in jobs:
        job.result(timeout=5)
    assert _wait(lambda: threading.active_count() <= before)
    assert pool._idle == 0
    assert pool.submit(lambda: 7).result(timeout=5) == 7  # and a new one starts for the next job


def test_a_failing_job_hands_its_exception_to_the_caller_and_the_thread_goes_on():
    pool = TurnThreads(idle_seconds=5)

    def fail():
        raise ValueError("the Cat's turn failed")

    with pytest.raises(ValueError, match="turn failed"):
        pool.submit(fail).result(timeout=5)
    assert pool.submit(lambda: "next").result(timeout=5) == "next"


def test_many_jobs_from_many_threads_all_run_once():
    pool = TurnThreads(idle_seconds=0.05)  # threads come and go while jobs arrive
    results: list = []
    lock = threading.Lock()

    def submitter(offset: int) -> None:
        futures = [pool.submit(lambda i=i: i) for i in range(offset, offset + 200)]
        values = [f.result(timeout=10) for f in futures]
        with lock:
            results.extend(values)

    submitters = [threading.Thread(target=submitter, args=(k * 1000,)) for k in range(4)]
    for t in submitters:
        t.start()
    for t in submitters:
        t.join()
    assert sorted(results) == sorted(k * 1000 + i for k in range(4) for i in range(200))
