"""Map: the MutableMapping protocol, scans, batches, versions, registry, stats."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import pytest

import lqft


def test_map_is_a_mutable_mapping_of_bytes_in_key_order() -> None:
    m = lqft.Map()
    assert isinstance(m, MutableMapping)
    m[b"b"] = b"2"
    m[bytearray(b"a")] = memoryview(b"1")
    m[b""] = b""
    m[b"a\x00z"] = b"\x00"
    assert len(m) == 4
    assert list(m) == [b"", b"a", b"a\x00z", b"b"]
    assert list(reversed(m)) == [b"b", b"a\x00z", b"a", b""]
    assert m[b"a"] == b"1" and m.get(b"zz") is None and m.get(b"zz", b"d") == b"d"
    assert b"a" in m and b"zz" not in m
    assert dict(m.items()) == {b"": b"", b"a": b"1", b"a\x00z": b"\x00", b"b": b"2"}
    assert list(m.values()) == [b"", b"1", b"\x00", b"2"]
    assert (b"a", b"1") in m.items() and (b"a", b"2") not in m.items()
    del m[b"a"]
    with pytest.raises(KeyError):
        del m[b"a"]
    with pytest.raises(KeyError):
        m[b"a"]
    assert m.delete(b"b") is True and m.delete(b"b") is False
    assert m.pop(b"") == b"" and m.setdefault(b"x", b"y") == b"y"
    m.update({b"k": b"v"})
    assert m == {b"a\x00z": b"\x00", b"x": b"y", b"k": b"v"}
    m.clear()
    assert len(m) == 0 and list(m) == []


def test_values_between_the_thread_buffer_and_its_limit_read_back_whole() -> None:
    # 4 KiB < size <= 1 MiB: the thread's value buffer grows (a second C call), then serves
    # the next gets of that size in one call; a value of every size in between reads back.
    m = lqft.Map()
    sizes = [0, 1, 4095, 4096, 4097, 10_000, 70_000, 1 << 20]
    for n in sizes:
        m[b"v%d" % n] = bytes(i % 251 for i in range(n))
    s = m.snapshot()
    for n in sizes:
        want = bytes(i % 251 for i in range(n))
        assert m[b"v%d" % n] == want
        assert s[b"v%d" % n] == want
        assert m.get(b"v%d" % n) == want


def test_get_many_matches_get_for_every_key_across_buffer_refills() -> None:
    m = lqft.Map()
    sizes = [0, 5, 30_000, 40_000, 70_000, 200_000, 7]  # several C calls, and a larger buffer
    for i, n in enumerate(sizes):
        m[b"k%d" % i] = bytes([i]) * n
    keys = [b"k%d" % i for i in range(len(sizes))] + [b"absent", b""]
    s = m.snapshot()
    m[b"k1"] = b"changed"
    for version in (m, s, m.view()):
        want = [version.get(k) for k in keys]
        assert version.get_many(keys) == want
        assert version.get_many(reversed(keys)) == want[::-1]
    assert s.get_many([b"k1"]) == [b"\x01" * 5]
    assert m.get_many([bytearray(b"k1"), memoryview(b"absent")]) == [b"changed", None]
    assert m.get_many([]) == []


def test_get_many_refuses_bad_keys_and_closed_maps() -> None:
    m = lqft.Map({b"a": b"1"})
    with pytest.raises(TypeError):
        m.get_many([b"a", "a"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        m.get_many([b"a", b"x" * 70_000])
    m.close()
    with pytest.raises(lqft.ClosedError):
        m.get_many([b"a"])


def test_map_from_items_and_large_values() -> None:
    big = bytes(range(256)) * 40_000  # larger than every scratch buffer
    m = lqft.Map([(b"big", big), (b"small", b"s")])
    assert m[b"big"] == big
    assert dict(m.items())[b"big"] == big
    s = m.snapshot()
    assert s[b"big"] == big
    view = s.get_view(b"big")
    assert view is not None and view.readonly and bytes(view) == big


def test_values_of_every_size_read_back_from_the_map_a_snapshot_and_a_view() -> None:
    # Around a reader's first buffer (512 bytes), its growth, and its limit (1 MiB), beyond
    # which each value gets a buffer of its own.
    sizes = [0, 1, 511, 512, 513, 5000, 70_000, 1 << 20, (1 << 20) + 1]
    m = lqft.Map({b"%d" % n: bytes([n % 251]) * n for n in sizes})
    versions: list[Any] = [m, m.snapshot(), m.view()]
    for version in versions:
        for n in sizes + sizes[::-1]:
            key = b"%d" % n
            want = bytes([n % 251]) * n
            assert version[key] == want and version.get(key) == want and key in version
            assert version.get(bytearray(key)) == want
        assert version.get(b"absent") is None and version.get(b"absent", b"d") == b"d"
        assert b"absent" not in version
        with pytest.raises(KeyError):
            version[b"absent"]
    m.close()
    assert versions[1][b"1"] == b"\x01" and versions[2][b"0"] == b""


def test_ranges_have_open_ends_and_run_both_ways() -> None:
    m = lqft.Map({bytes([c]): bytes([c]) for c in b"abcdef"})
    keys = lambda it: b"".join(k for k, _ in it)  # noqa: E731
    assert keys(m.range()) == b"abcdef"
    assert keys(m.range(b"c")) == b"cdef"
    assert keys(m.range(stop=b"c")) == b"ab"
    assert keys(m.range(b"b", b"e")) == b"bcd"
    assert keys(m.range(b"b", b"e", reverse=True)) == b"dcb"
    assert keys(m.range(b"e", b"b")) == b""
    assert keys(m.range(None, None, reverse=True)) == b"fedcba"
    m[b"ab"] = b"x"
    m[b"abc"] = b"y"
    assert keys(m.prefix(b"ab")) == b"ababc"
    assert keys(m.prefix(b"ab", reverse=True)) == b"abcab"
    assert keys(m.prefix(b"zz")) == b""


def test_iteration_sees_the_version_of_its_start_and_writes_are_allowed_meanwhile() -> None:
    m = lqft.Map({b"%04d" % i: b"v" for i in range(2000)})
    seen = []
    for key in m:
        seen.append(key)
        m[b"new" + key] = b"x"
        del m[key]
    assert len(seen) == 2000 and len(m) == 2000 and b"0001" not in m


def test_snapshot_rollback_and_pending_writes_are_never_dropped_silently() -> None:
    m = lqft.Map({b"a": b"1"})
    s1 = m.snapshot()
    m[b"a"] = b"2"
    m[b"b"] = b"3"
    assert m.pending_mutations == 2
    with pytest.raises(lqft.PendingChangesError):
        m.rollback(s1)
    assert m[b"a"] == b"2"  # nothing changed
    assert m.rollback(s1, discard=True) == 2
    assert dict(m) == {b"a": b"1"}
    s2 = m.snapshot()
    m[b"c"] = b"4"
    m.snapshot()
    assert m.rollback(s2.id) == 0
    assert dict(m) == {b"a": b"1"}
    with pytest.raises(lqft.UnknownSnapshotError) as info:
        m.rollback(999)
    assert isinstance(info.value, KeyError)


def test_diff_yields_changes_in_key_order_against_snapshots_or_the_live_state() -> None:
    m = lqft.Map({b"a": b"1", b"b": b"2", b"c": b"3"})
    old = m.snapshot()
    m[b"b"] = b"22"
    del m[b"c"]
    m[b"d"] = b""
    assert list(m.diff(old)) == [
        lqft.Change("changed", b"b", b"2", b"22"),
        lqft.Change("removed", b"c", b"3", None),
        lqft.Change("added", b"d", None, b""),
    ]
    new = m.snapshot()
    assert list(m.diff(old.id, new.id)) == list(m.diff(old, new))
    assert list(m.diff(new)) == []
    assert [c.kind for c in m.diff(new, old)] == ["changed", "added", "removed"]


def test_large_diff_crosses_many_packed_chunks() -> None:
    m = lqft.Map({b"%06d" % i: b"x" * (i % 50) for i in range(5000)})
    old = m.snapshot()
    with m.batch() as b:
        for i in range(0, 5000, 2):
            b[b"%06d" % i] = b"changed"
    changes = list(m.diff(old))
    assert len(changes) == 2500
    assert [c.key for c in changes] == sorted(c.key for c in changes)


def test_batch_applies_atomically_on_exit_and_is_discarded_on_exception() -> None:
    m = lqft.Map({b"gone": b"1"})
    with m.batch() as b:
        b.put(b"a", b"1")
        b[b"b"] = b"2"
        del b[b"gone"]
        b.delete(b"never-there")
        assert len(b) == 4
    assert b.applied == 3
    assert dict(m) == {b"a": b"1", b"b": b"2"}
    with pytest.raises(RuntimeError):
        with m.batch() as b:
            b[b"c"] = b"3"
            raise RuntimeError("abort")
    assert b"c" not in m
    with pytest.raises(lqft.ClosedError):
        b.put(b"x", b"y")
    b2 = m.batch()
    b2[b"z"] = b"1"
    b2.clear()
    assert len(b2) == 0 and b2.apply() == 0


def test_registry_compaction_retention_and_pins() -> None:
    m = lqft.Map()
    snaps = []
    for i in range(5):
        m[b"k"] = b"%d" % i
        snaps.append(m.snapshot())
    assert m.snapshot_ids() == [1, 2, 3, 4, 5]
    assert [s.id for s in m.snapshots()] == [1, 2, 3, 4, 5]
    assert m.current_snapshot == snaps[-1] and m.current_snapshot.id == 5  # type: ignore[union-attr]
    assert m.snapshot_by_id(3)[b"k"] == b"2"
    with pytest.raises(lqft.UnknownSnapshotError):
        m.snapshot_by_id(42)
    with m.pin(snaps[0]) as session:
        assert session.snapshot.id == 1 and not session.closed
        report = m.compact(1)
        assert report == lqft.CompactReport(pruned=[2, 3, 4], retained=[1, 5])
    assert session.closed
    assert m.compact(0).pruned == [1]
    # Pruned snapshots stay readable through the handles held.
    assert snaps[1][b"k"] == b"1"
    assert m.set_retention(2) == []
    for _ in range(3):
        m.snapshot()
    assert m.snapshot_ids() == [7, 8]  # the current one is among the two newest
    assert m.set_retention(None) == []
    with pytest.raises(ValueError):
        lqft.Map().pin()


def test_stats_are_a_dict_of_counted_numbers() -> None:
    m = lqft.Map({b"a": b"1", b"b": b"22"})
    m.snapshot()
    stats = m.stats()
    assert stats["items"] == 2 and stats["key_bytes"] == 2 and stats["value_bytes"] == 3
    assert stats["snapshots"]["registered"] == 1


def test_snapshot_is_an_immutable_mapping_equal_by_merkle_root() -> None:
    a = lqft.Map({b"x": b"1", b"y": b"2"})
    b = lqft.Map()
    b[b"y"] = b"2"
    b[b"z"] = b"0"
    b[b"x"] = b"1"
    del b[b"z"]
    sa, sb = a.snapshot(), b.snapshot()
    assert isinstance(sa, Mapping) and not isinstance(sa, MutableMapping)
    assert sa == sb and hash(sa) == hash(sb) and len(sa.root_hash) == lqft.HASH_LEN
    assert sa == {b"x": b"1", b"y": b"2"}
    assert sa.meta.size == 2 and sa.meta.parent_id is None and sa.meta.generation == 1
    assert list(sa.range(b"y")) == [(b"y", b"2")]
    assert list(sa.prefix(b"x")) == [(b"x", b"1")]
    assert list(reversed(sa.keys())) == [b"y", b"x"]
    with pytest.raises(TypeError):
        sa[b"x"] = b"2"  # type: ignore[index]
    with pytest.raises(TypeError):
        lqft.Snapshot()
    a[b"x"] = b"changed"
    assert sa[b"x"] == b"1"
    c = sa.clone()
    sa.close()
    assert c[b"x"] == b"1"


def test_get_view_outlives_the_snapshot_handle_and_the_map() -> None:
    m = lqft.Map({b"k": b"value"})
    s = m.snapshot()
    view = s.get_view(b"k")
    assert s.get_view(b"missing") is None
    s.close()
    m.close()
    del s, m
    import gc

    gc.collect()
    assert view is not None and bytes(view) == b"value"
    with pytest.raises(TypeError):
        view[0] = 1  # type: ignore[index]


def test_closed_objects_raise_a_clear_error_and_their_children_keep_working() -> None:
    m = lqft.Map({b"a": b"1"})
    s = m.snapshot()
    it = m.range()
    m.close()
    for call in (lambda: m[b"a"], lambda: len(m), m.snapshot, lambda: m.put(b"a", b"2")):
        with pytest.raises(lqft.ClosedError) as info:
            call()
        assert isinstance(info.value, ValueError) and "closed" in str(info.value)
    assert repr(m) == "<lqft.Map closed>"
    assert s[b"a"] == b"1" and list(it) == [(b"a", b"1")]
    s.close()
    with pytest.raises(lqft.ClosedError):
        len(s)
    with lqft.Map() as m2:
        m2[b"x"] = b"y"
    with pytest.raises(lqft.ClosedError):
        m2[b"x"]


def test_an_iterator_can_be_closed_early() -> None:
    m = lqft.Map({b"%d" % i: b"" for i in range(1000)})
    it = m.range()
    assert next(it)[0] == b"0"
    it.close()
    assert list(it) == []


def test_library_version_is_exposed() -> None:
    assert lqft.LIBRARY_VERSION.count(".") == 2
    assert lqft.MAX_KEY_LEN == 65535


def test_the_module_docstring_example_runs() -> None:
    import doctest

    result = doctest.testmod(lqft)
    assert result.attempted > 0 and result.failed == 0


def test_a_sharded_map_has_the_same_methods_and_keeps_key_order() -> None:
    m = lqft.Map({b"%03d" % i: b"v" for i in range(200)}, shards=8)
    assert m.shard_count == 8 and lqft.Map().shard_count == 1
    assert list(m) == [b"%03d" % i for i in range(200)]
    assert [k for k, _ in m.range(b"010", b"013", reverse=True)] == [b"012", b"011", b"010"]
    s1 = m.snapshot()
    m[b"000"] = b"changed"
    del m[b"001"]
    with pytest.raises(lqft.PendingChangesError):
        m.rollback(s1)
    assert [c.key for c in m.diff(s1)] == [b"000", b"001"]
    assert m.rollback(s1, discard=True) == 2
    assert dict(m) == dict(s1) and len(m) == 200
    assert m.stats()["shard_count"] == 8
    plain = lqft.Map(dict(m))
    with pytest.raises(lqft.InvalidArgumentError):
        plain.rollback(s1)
    with pytest.raises(ValueError):
        lqft.Map(shards=-1)
    with pytest.raises(lqft.InvalidArgumentError):
        lqft.Map(shards=lqft.MAX_SHARDS + 1)
