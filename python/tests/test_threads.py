"""Threads: readers and writers share one map; iterators refuse concurrent use; the GIL is
released during C calls."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import lqft


def test_readers_and_a_writer_share_one_map() -> None:
    m = lqft.Map({b"%05d" % i: b"0" for i in range(1000)})
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                s = m.snapshot()
                # A snapshot is consistent: every value of one version is the same.
                values = set(s.values())
                assert len(values) == 1, values
                assert len(s) == 1000
                assert m.get(b"00010") is not None
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    def writer() -> None:
        try:
            for round_ in range(1, 30):
                with m.batch() as b:
                    for i in range(1000):
                        b[b"%05d" % i] = b"%d" % round_
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    w = threading.Thread(target=writer)
    for t in readers:
        t.start()
    w.start()
    w.join()
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    assert set(m.values()) == {b"29"}


def test_gets_from_many_threads_each_see_their_own_values() -> None:
    # Large values of many sizes (long copies, buffers that grow while other threads read): a
    # buffer shared by two gets at once would hand one thread bytes of the other's value.
    sizes = [1 + (i * 7919) % 300_000 for i in range(200)]
    items = {b"%03d" % i: bytes([i % 256]) * n for i, n in enumerate(sizes)}
    versions: list[Any] = [lqft.Map(items)]
    versions += [versions[0].snapshot(), versions[0].view()]
    errors: list[BaseException] = []

    def reader(seed: int) -> None:
        try:
            for _ in range(10):
                for i in range(seed, seed + 200, 7):
                    key = b"%03d" % (i % 200)
                    for version in versions:
                        assert version[key] == items[key] and key in version
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_an_iterator_used_from_two_threads_at_once_raises() -> None:
    m = lqft.Map({b"%06d" % i: b"x" * 100 for i in range(20000)})
    it = m.range()
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def consume() -> None:
        start.wait()
        try:
            for _ in it:
                pass
            outcomes.append("done")
        except lqft.ConcurrentUseError:
            outcomes.append("refused")

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Whatever the interleaving: no crash, and every thread either finished or was refused.
    assert sorted(set(outcomes)) <= ["done", "refused"] and len(outcomes) == 4


def test_concurrent_use_is_refused_deterministically() -> None:
    m = lqft.Map({b"a": b"1"})
    it = m.range()
    it._guard._lock.acquire()  # another thread is inside next()
    try:
        with pytest.raises(lqft.ConcurrentUseError) as info:
            next(it)
        assert isinstance(info.value, RuntimeError)
    finally:
        it._guard._lock.release()
    assert list(it) == [(b"a", b"1")]


def test_the_gil_is_released_during_a_long_call() -> None:
    m = lqft.Map()
    b = m.batch()
    for i in range(200_000):
        b.put(b"%08d" % i, b"v")
    started = threading.Event()
    durations: list[float] = []

    def long_calls() -> None:
        started.set()
        for _ in range(3):
            fresh = lqft.Map()
            t0 = time.perf_counter()
            lqft._lib.lqft_map_write_batch(fresh._handle(), b._handle(), lqft._ffi.NULL)
            durations.append(time.perf_counter() - t0)

    worker = threading.Thread(target=long_calls)
    worker.start()
    started.wait()
    gaps = []
    last = time.perf_counter()
    while worker.is_alive():
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    worker.join()
    # Were the GIL held during a call, this thread would stall for the whole call.
    assert max(durations) > 0.02, durations
    assert max(gaps) < 0.5 * max(durations), (max(gaps), durations)
