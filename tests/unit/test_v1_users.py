"""The Cat v1 adapter's per-user locks stay bounded, and serialise their user."""

from __future__ import annotations

import threading
import time

from cat_openai_bridge.adapters.v1_threads import UserLocks


def test_user_locks_are_forgotten_once_nobody_holds_or_waits_for_them():
    locks = UserLocks()
    for i in range(1000):
        with locks.holding(f"user-{i}", lambda: False) as held:
            assert held and len(locks) == 1
    assert len(locks) == 0


def test_a_user_lock_serialises_its_user_and_lets_a_waiter_give_up():
    locks = UserLocks()
    order: list[str] = []
    gave_up = threading.Event()

    def second() -> None:
        with locks.holding("ann", gave_up.is_set, poll=0.01) as held:
            order.append(f"second held={held}")

    with locks.holding("ann", lambda: False) as held:
        assert held
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.05)
        assert order == [] and len(locks) == 1  # one entry, two users of it
        with locks.holding("bob", lambda: False) as other:  # other users never wait
            assert other and len(locks) == 2
        gave_up.set()
        waiter.join(2)
    assert order == ["second held=False"]
    assert len(locks) == 0
    with locks.holding("ann", lambda: False) as held:  # the lock was released: the next turn gets it
        assert held
