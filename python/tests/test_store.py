"""lqft.Store: a durable Map in a directory, over lqft_store_*."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import lqft
from lqft import _errors
from lqft._native import lib


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "db"


def test_a_store_keeps_its_writes_across_close_and_reopen(path: Path) -> None:
    with lqft.Store.open(path) as store:
        assert isinstance(store, lqft.Map)
        store[b"a"] = b"1"
        store.put(bytearray(b"b"), memoryview(b"2"))
        with store.batch() as batch:
            batch[b"c"] = b"3"
            del batch[b"a"]
        assert store.delete(b"missing") is False
    with lqft.Store.open(str(path)) as store:
        assert dict(store) == {b"b": b"2", b"c": b"3"}
        assert len(store) == 2 and b"b" in store and store.get(b"a") is None


def test_snapshots_their_metadata_and_the_registry_survive_reopen(path: Path) -> None:
    with lqft.Store.open(path, durability="group") as store:
        store[b"k"] = b"v1"
        first = store.snapshot()
        store[b"k"] = b"v2"
        second = store.snapshot()
        store[b"k"] = b"pending"
        metas = (first.meta, second.meta)
        roots = (first.root_hash, second.root_hash)
    with lqft.Store.open(path) as store:
        assert store.snapshot_ids() == [metas[0].id, metas[1].id]
        again = [store.snapshot_by_id(m.id) for m in metas]
        assert (again[0].meta, again[1].meta) == metas
        assert (again[0].root_hash, again[1].root_hash) == roots
        assert again[0][b"k"] == b"v1" and store[b"k"] == b"pending"
        current = store.current_snapshot
        assert current is not None and current.id == metas[1].id
        assert [c.kind for c in store.diff(metas[0].id)] == ["changed"]
        with pytest.raises(lqft.PendingChangesError):
            store.rollback(metas[0].id)
        assert store.rollback(metas[0].id, discard=True) == 1
    with lqft.Store.open(path) as store:  # the rollback is durable too
        assert store[b"k"] == b"v1"


def test_a_second_writer_gets_locked_error_until_the_first_closes(path: Path) -> None:
    store = lqft.Store.open(path)
    with pytest.raises(lqft.LockedError) as caught:
        lqft.Store.open(path)
    assert isinstance(caught.value, OSError) and caught.value.status == -13
    # Another process is refused as well.
    other = subprocess.run(
        [sys.executable, "-c", f"import lqft; lqft.Store.open({str(path)!r})"],
        capture_output=True,
        text=True,
    )
    assert other.returncode != 0 and "LockedError" in other.stderr
    store.close()
    lqft.Store.open(path).close()


def test_a_bulk_load_sets_every_key_atomically_and_survives_reopen(path: Path) -> None:
    items = {b"k%05d" % i: b"v%d" % i for i in range(2000)}
    with lqft.Store.open(path) as store:
        store[b"k00000"] = b"v0"  # already holds its value: not a change
        store[b"other"] = b"kept"
        assert store.load(items) == 1999
        assert store.load([(b"dup", b"1"), (bytearray(b"dup"), memoryview(b"2"))]) == 1
        assert store[b"dup"] == b"2" and store[b"k01999"] == b"v1999"
        with pytest.raises(TypeError):
            store.load([(b"a", "text")])  # type: ignore[list-item]
        assert b"a" not in store
    with lqft.Store.open(path) as store:
        assert dict(store) == {**items, b"other": b"kept", b"dup": b"2"}
        with lqft.Store.open(path, read_only=True) as reader:
            with pytest.raises(lqft.InvalidArgumentError):
                reader.load({b"x": b"1"})


def test_a_read_only_store_refuses_writes_and_moves_forward_on_refresh(path: Path) -> None:
    with lqft.Store.open(path) as writer:
        writer[b"a"] = b"1"
        with lqft.Store.open(path, read_only=True) as reader:
            assert dict(reader) == {b"a": b"1"}
            with pytest.raises(lqft.InvalidArgumentError):
                reader[b"b"] = b"2"
            with pytest.raises(lqft.InvalidArgumentError):
                reader.snapshot()
            with pytest.raises(lqft.InvalidArgumentError):
                reader.checkpoint()
            assert dict(reader) == {b"a": b"1"}
            writer[b"b"] = b"2"
            assert b"b" not in reader
            reader.refresh()
            assert dict(reader) == {b"a": b"1", b"b": b"2"}
            assert reader.store_stats()["read_only"] is True
            reader.sync()  # a no-op when read-only


def test_a_backup_is_a_store_incremental_and_restored_by_a_backup_of_it(tmp_path: Path) -> None:
    source, backup, restored = tmp_path / "db", tmp_path / "backup", tmp_path / "restored"
    with lqft.Store.open(source) as store:
        store[b"a"] = b"1"
        first = store.snapshot()
        store[b"a"] = b"2"
        report = store.backup(backup)
        assert isinstance(report, lqft.BackupReport)
        assert report.packs >= 1 and report.packs_copied == report.packs
        assert report.bytes_copied > 0
        store[b"b"] = b"3"
        again = store.backup(str(backup))
        assert again.packs_copied == 1 and again.manifest > report.manifest
        assert store.backup(backup).packs_copied == 0
        store[b"c"] = b"after the backup"
    with lqft.Store.open(backup, read_only=True) as copy:
        assert dict(copy) == {b"a": b"2", b"b": b"3"}
        assert dict(copy.snapshot_by_id(first.id)) == {b"a": b"1"}
        copy.backup(restored)
    with lqft.Store.open(restored) as store:
        assert dict(store) == {b"a": b"2", b"b": b"3"}


def test_a_backup_into_an_open_store_or_a_written_one_is_refused(tmp_path: Path) -> None:
    with lqft.Store.open(tmp_path / "db") as store:
        store[b"a"] = b"1"
        with lqft.Store.open(tmp_path / "other") as other:
            with pytest.raises(lqft.LockedError):
                store.backup(tmp_path / "other")
            other[b"own"] = b"write"
        with pytest.raises(lqft.InvalidArgumentError, match="WAL"):
            store.backup(tmp_path / "other")
        with pytest.raises(TypeError):
            store.backup(3)  # type: ignore[arg-type]
    with lqft.Store.open(tmp_path / "other") as other:
        assert dict(other) == {b"own": b"write"}


def test_a_read_only_open_of_a_missing_directory_is_a_file_error(path: Path) -> None:
    with pytest.raises(lqft.FileError):
        lqft.Store.open(path, read_only=True)
    assert not path.exists()


def test_a_closed_store_raises_closed_error_and_what_it_gave_stays_readable(path: Path) -> None:
    store = lqft.Store.open(path)
    store[b"a"] = b"1"
    # Reads leave readers of the store's map in its pool; closing drops them with the map.
    assert store[b"a"] == b"1" and store.get(b"a") == b"1" and b"a" in store
    snapshot = store.snapshot()
    walk = iter(store.items())
    view = store.view()
    store.close()
    store.close()  # idempotent
    assert store.closed and repr(store) == "<lqft.Store closed>"
    for use in (
        lambda: store[b"a"],
        lambda: store.get(b"a"),
        lambda: store.put(b"a", b"2"),
        lambda: len(store),
        lambda: store.snapshot(),
        store.sync,
        store.checkpoint,
        store.refresh,
        store.store_stats,
    ):
        with pytest.raises(lqft.ClosedError, match="the store is closed"):
            use()
    assert snapshot[b"a"] == b"1" and dict(walk) == {b"a": b"1"} and view[b"a"] == b"1"
    # The lock went with the store: the directory opens for writing again.
    lqft.Store.open(path).close()


def test_the_whole_map_api_works_on_a_store(path: Path) -> None:
    with lqft.Store.open(path, durability="none", checkpoint_bytes=1 << 20) as store:
        store.update({b"user:1": b"alice", b"user:2": b"bob", b"zed": b"z"})
        assert list(store.prefix(b"user:")) == [(b"user:1", b"alice"), (b"user:2", b"bob")]
        assert list(store.range(b"user:2", None)) == [(b"user:2", b"bob"), (b"zed", b"z")]
        assert list(reversed(store)) == [b"zed", b"user:2", b"user:1"]
        with store.transaction() as t:
            t[b"n"] = b"%d" % (int(t.get(b"n", b"0")) + 1)
        assert store.compare_and_swap(b"n", b"1", b"2")
        with store.view() as view:
            assert view[b"n"] == b"2"
        for _ in range(3):
            store.snapshot()
        assert store.compact(retain_last=1).retained == [3]
        with store.pin() as session:
            assert session.snapshot.id == 3
        assert store.stats()["items"] == 4
        store.sync()
        store.checkpoint()
        stats = store.store_stats()
        assert stats["format"] == "lqft-store-stats-v1" and stats["checkpoints"] >= 1
        data = store.export_bundle()
    other = lqft.Map()
    assert other.import_bundle(data) == [3]
    with lqft.Store.open(path) as store:
        assert store[b"n"] == b"2" and store.snapshot_ids() == [3]


@pytest.mark.parametrize("durability", ["sync", "group", "async", "none"])
def test_every_durability_mode_keeps_synced_writes(path: Path, durability: str) -> None:
    with lqft.Store.open(path, durability=durability, async_interval_ms=5) as store:  # type: ignore[arg-type]
        store[b"k"] = durability.encode()
        store.sync()
    with lqft.Store.open(path) as store:
        assert store[b"k"] == durability.encode()


def test_bad_options_raise_before_anything_is_created(path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        lqft.Store.open(path, durability="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cache_bytes"):
        lqft.Store.open(path, cache_bytes=-1)
    with pytest.raises(TypeError, match="checkpoint_bytes"):
        lqft.Store.open(path, checkpoint_bytes=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="async_interval_ms"):
        lqft.Store.open(path, async_interval_ms=1 << 32)
    with pytest.raises(TypeError, match="path"):
        lqft.Store.open(3)  # type: ignore[arg-type]
    assert not path.exists()
    with pytest.raises(lqft.InvalidArgumentError):
        lqft.Store.open(path, segment_bytes=0)
    with pytest.raises(TypeError, match="Store.open"):
        lqft.Store()


def test_a_damaged_store_raises_corrupt_error_and_is_left_as_it_was(path: Path) -> None:
    with lqft.Store.open(path) as store:
        store[b"a"] = b"1"
        store.checkpoint()
    (manifest,) = (path / "manifest").iterdir()
    damaged = bytearray(manifest.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    manifest.write_bytes(damaged)
    with pytest.raises(lqft.CorruptError, match="manifest"):
        lqft.Store.open(path)
    assert manifest.read_bytes() == damaged


def test_store_failures_are_the_builtin_a_caller_catches() -> None:
    # LQFT_ERR_LOCKED, _IO and _POISONED are OSErrors, _CORRUPT a ValueError, each with its
    # status code (a poisoned writer needs a failing disk, so its class is checked here).
    for cls, builtin, status in [
        (lqft.LockedError, OSError, lib.LQFT_ERR_LOCKED),
        (lqft.FileError, OSError, lib.LQFT_ERR_IO),
        (lqft.PoisonedError, OSError, lib.LQFT_ERR_POISONED),
        (lqft.CorruptError, ValueError, lib.LQFT_ERR_CORRUPT),
    ]:
        assert issubclass(cls, lqft.Error) and issubclass(cls, builtin)
        assert _errors._BY_STATUS[status] is cls


def test_writes_from_several_threads_with_group_durability_all_survive_reopen(path: Path) -> None:
    import threading

    with lqft.Store.open(path, durability="group") as store:

        def write(thread: int) -> None:
            for i in range(50):
                store[b"t%d:%03d" % (thread, i)] = b"%d" % i

        threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = store.store_stats()
        assert stats["wal_records"] >= 200
    with lqft.Store.open(path) as store:
        assert len(store) == 200
        assert store[b"t3:049"] == b"49"
