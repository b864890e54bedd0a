"""Transactions (commit on exit, conflicts), compare-and-swap and read views."""

from __future__ import annotations

import threading

import pytest

import lqft


def test_a_transaction_commits_on_exit_and_sees_its_own_writes() -> None:
    m = lqft.Map({b"a": b"1"})
    with m.transaction() as t:
        assert t[b"a"] == b"1" and t.get(b"zz") is None and b"a" in t
        t[b"b"] = b"2"
        assert t[b"b"] == b"2"
        del t[b"a"]
        assert b"a" not in t and t.get(b"a", b"gone") == b"gone"
        assert dict(m) == {b"a": b"1"}  # nothing applied yet
    assert dict(m) == {b"b": b"2"} and t.applied == 2 and t.finished


def test_an_exception_abandons_the_transaction() -> None:
    m = lqft.Map({b"a": b"1"})
    with pytest.raises(RuntimeError):
        with m.transaction() as t:
            t[b"a"] = b"2"
            raise RuntimeError("boom")
    assert dict(m) == {b"a": b"1"} and t.finished and t.applied is None


def test_a_conflicting_commit_raises_and_changes_nothing() -> None:
    m = lqft.Map({b"n": b"0"})
    t = m.transaction()
    t[b"n"] = b"%d" % (int(t[b"n"]) + 1)
    t[b"other"] = b"x"
    m[b"n"] = b"5"  # another writer changes what t read
    with pytest.raises(lqft.ConflictError) as err:
        t.commit()
    assert isinstance(err.value, RuntimeError) and err.value.status == lqft.ConflictError.status > 0
    assert dict(m) == {b"n": b"5"} and t.finished
    with pytest.raises(lqft.ClosedError):
        t[b"n"] = b"1"
    with pytest.raises(lqft.ClosedError):
        t.commit()


def test_transactions_retried_on_conflict_lose_no_increment() -> None:
    m = lqft.Map({b"n": b"0"})

    def add(times: int) -> None:
        for _ in range(times):
            while True:
                try:
                    with m.transaction() as t:
                        t[b"n"] = b"%d" % (int(t[b"n"]) + 1)
                    break
                except lqft.ConflictError:
                    continue

    threads = [threading.Thread(target=add, args=(200,)) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert m[b"n"] == b"800"


def test_transactions_refuse_bad_input_and_stay_usable() -> None:
    m = lqft.Map()
    t = m.transaction()
    with pytest.raises(TypeError):
        t["str"] = b"v"  # type: ignore[arg-type]
    with pytest.raises(lqft.KeyTooLongError):
        t[b"k" * (lqft.MAX_KEY_LEN + 1)] = b"v"
    with pytest.raises(KeyError):
        t[b"absent"]
    with pytest.raises(KeyError):
        del t[b"absent"]
    t[b"k"] = b"v"
    assert t.commit() == 1 and dict(m) == {b"k": b"v"}
    t.abandon()  # idempotent after commit


def test_a_transaction_used_from_two_threads_raises() -> None:
    m = lqft.Map()
    t = m.transaction()
    t._guard.__enter__()  # another thread is inside a call
    errors: list[BaseException] = []

    def other() -> None:
        try:
            t[b"k"] = b"v"
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    th = threading.Thread(target=other)
    th.start()
    th.join()
    t._guard.__exit__()
    assert len(errors) == 1 and isinstance(errors[0], lqft.ConcurrentUseError)


def test_compare_and_swap() -> None:
    m = lqft.Map()
    assert m.compare_and_swap(b"k", None, b"1")  # expected absent
    assert not m.compare_and_swap(b"k", None, b"2")
    assert not m.compare_and_swap(b"k", b"0", b"2")
    assert m.compare_and_swap(b"k", b"1", b"2") and m[b"k"] == b"2"
    assert m.compare_and_swap(b"k", b"2", None) and b"k" not in m  # delete
    assert not m.compare_and_swap(b"k", b"2", None)
    with pytest.raises(TypeError):
        m.compare_and_swap("k", None, b"1")  # type: ignore[arg-type]
    with pytest.raises(lqft.ValueTooLongError):
        m.compare_and_swap(b"k", None, b"v" * (lqft.MAX_VALUE_LEN + 1))
    assert len(m) == 0


def test_a_view_is_a_consistent_read_unaffected_by_later_writes() -> None:
    m = lqft.Map({b"a": b"1", b"b": b"2"})
    with m.view() as v:
        m[b"a"] = b"changed"
        del m[b"b"]
        assert v[b"a"] == b"1" and v.get(b"b") == b"2" and b"b" in v and len(v) == 2
        assert v.get(b"zz", b"d") == b"d"
        with pytest.raises(KeyError):
            v[b"zz"]
        assert v.root_hash == lqft.Map({b"a": b"1", b"b": b"2"}).snapshot().root_hash
        big = b"x" * (1 << 21)  # beyond the reusable buffer
        m[b"big"] = big
        assert m.view()[b"big"] == big
    with pytest.raises(lqft.ClosedError):
        v[b"a"]
    assert m.snapshot_ids() == []  # views register nothing


def test_transaction_reads_of_any_size_come_back_whole() -> None:
    m = lqft.Map()
    sizes = [0, 1, 255, 256, 257, 4096, 70_000, 3, 1 << 20]
    for i, n in enumerate(sizes):
        m[b"k%d" % i] = bytes([i]) * n
    with m.transaction() as t:
        for i, n in enumerate(sizes):
            assert t[b"k%d" % i] == bytes([i]) * n
        t[b"k0"] = b"own write"
        assert t.get(b"k0") == b"own write"
        assert t.get(b"absent") is None
        assert b"k1" in t
    t2 = m.transaction()
    t2.commit()
    with pytest.raises(lqft.ClosedError):
        t2.get(b"k1")
