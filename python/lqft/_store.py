"""Durable stores: a :class:`lqft.Map` kept in a directory (write-ahead log, node packs,
manifests), over ``lqft_store_*``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal, NamedTuple, Optional, Union

from ._errors import ClosedError, raise_status
from ._map import Batch, Map
from ._native import ffi, lib
from ._util import StrPath, as_count, as_path

__all__ = ["Store", "Durability", "BackupReport"]

_OK = lib.LQFT_OK

#: When a store acknowledges a write; the README's "Durable stores" says what each survives.
Durability = Literal["sync", "group", "async", "none"]

_DURABILITY: dict[str, int] = {
    "sync": lib.LQFT_DURABILITY_SYNC,
    "group": lib.LQFT_DURABILITY_GROUP,
    "async": lib.LQFT_DURABILITY_ASYNC,
    "none": lib.LQFT_DURABILITY_NONE,
}


class BackupReport(NamedTuple):
    """What :meth:`Store.backup` did."""

    #: The number of the manifest the backup holds now.
    manifest: int
    #: Packs that manifest names.
    packs: int
    #: Packs this backup copied (the destination held the others already).
    packs_copied: int
    #: Bytes of the packs copied.
    bytes_copied: int


class Store(Map):
    """A durable store: a :class:`lqft.Map` whose every write is logged before it is applied
    and survives closing and reopening. Open one with :meth:`Store.open`; every ``Map`` method
    works on it (gets, puts, batches, transactions, snapshots with their registry, rollback,
    diff, retention, compaction, files), plus :meth:`sync`, :meth:`checkpoint`,
    :meth:`refresh` and :meth:`store_stats`.

    One process writes a directory at a time: a second writer (in this process or another)
    gets :class:`lqft.LockedError` at once. Any number of ``read_only=True`` openers may run
    beside it; they see the last committed state as of their open or :meth:`refresh`, and
    their writes raise :class:`lqft.InvalidArgumentError`. After a failed write or sync, writes
    raise :class:`lqft.PoisonedError` (reads go on); reopening recovers every acknowledged
    write.

    ``close()`` (or the end of a ``with`` block) ends writing and releases the writer lock and
    the files (on CPython at once; calls running on other threads finish first). Snapshots,
    iterators and views made from the store keep their reads. Read sessions (:meth:`pin`) are
    of this process only and not stored.
    """

    __slots__ = ("_store",)

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("open a store with lqft.Store.open(path, ...)")

    @classmethod
    def open(
        cls,
        path: StrPath,
        *,
        durability: Durability = "sync",
        read_only: bool = False,
        cache_bytes: Optional[int] = None,
        checkpoint_bytes: Optional[int] = None,
        segment_bytes: Optional[int] = None,
        async_interval_ms: Optional[int] = None,
    ) -> Store:
        """Opens (a writer creates) the store in the directory ``path``, recovering what the
        last process wrote.

        ``durability``: when a write is acknowledged — ``"sync"`` (its own ``fdatasync``, the
        default), ``"group"`` (an ``fdatasync`` shared with concurrent writers), ``"async"``
        (a background sync every ``async_interval_ms``, default 100) or ``"none"`` (the OS
        decides; :meth:`sync` makes everything durable). ``cache_bytes`` bounds the memory of
        loaded nodes (default 256 MiB), ``checkpoint_bytes`` the WAL size that starts a
        background checkpoint (default 64 MiB), ``segment_bytes`` a WAL segment file (default
        16 MiB); ``None`` keeps the library's default.

        Raises :class:`lqft.LockedError` when another writer holds the store,
        :class:`lqft.FileError` when a file cannot be read or written (a read-only open of a
        missing directory is one), :class:`lqft.CorruptError` when the store is damaged or
        was written by a newer liblqft.
        """
        raw_path = as_path(path)
        options = ffi.new("lqft_store_options *")
        status = lib.lqft_store_options_init(options, ffi.sizeof("lqft_store_options"))
        if status != _OK:
            raise_status(status)
        if not isinstance(durability, str) or durability not in _DURABILITY:
            raise ValueError(
                f"durability must be one of {', '.join(map(repr, _DURABILITY))}, "
                f"not {durability!r}"
            )
        options.durability = _DURABILITY[durability]
        options.read_only = bool(read_only)
        if cache_bytes is not None:
            options.cache_bytes = as_count(cache_bytes, "cache_bytes")
        if checkpoint_bytes is not None:
            options.checkpoint_bytes = as_count(checkpoint_bytes, "checkpoint_bytes")
        if segment_bytes is not None:
            options.segment_bytes = as_count(segment_bytes, "segment_bytes")
        if async_interval_ms is not None:
            interval = as_count(async_interval_ms, "async_interval_ms")
            if interval > 0xFFFF_FFFF:
                raise ValueError(f"async_interval_ms must be < 2**32, got {interval}")
            options.async_interval_ms = interval
        out = ffi.new("lqft_store **")
        status = lib.lqft_store_open(raw_path, options, out)
        if status != _OK:
            raise_status(status)
        # The store is closed when the last reference goes: by close(), or after a call
        # running on another thread (which holds a reference) returns.
        store: Any = ffi.gc(out[0], lib.lqft_store_close)
        map_out = ffi.new("lqft_map **")
        status = lib.lqft_store_map(store, map_out)
        if status != _OK:
            raise_status(status)
        self = object.__new__(cls)
        self._store = store
        self._open(ffi.gc(map_out[0], lib.lqft_map_free))
        return self

    def _handle(self) -> Any:
        h = self._h
        if h is None:
            raise ClosedError("the store is closed")
        return h

    def _store_handle(self) -> Any:
        store = self._store
        if store is None:
            raise ClosedError("the store is closed")
        return store

    def _call(self, fn: Any) -> None:
        status = fn(self._store_handle())
        if status != _OK:
            raise_status(status)

    def sync(self) -> None:
        """Makes every write acknowledged so far durable (one ``fdatasync`` of the WAL when
        something is unsynced); for ``durability="async"`` or ``"none"``. A no-op when
        read-only."""
        self._call(lib.lqft_store_sync)

    def checkpoint(self) -> None:
        """Writes a checkpoint now, in this thread: the nodes no pack holds yet into a new
        pack, a new manifest naming it, then retires the WAL before it (one also runs in the
        background by WAL size). Nothing is written when nothing changed. Writes go on
        meanwhile. A read-only store raises :class:`lqft.InvalidArgumentError`."""
        self._call(lib.lqft_store_checkpoint)

    def load(self, items: Union[Mapping[bytes, bytes], Iterable[tuple[bytes, bytes]]]) -> int:
        """Bulk load: sets every key of ``items`` (a mapping or ``(key, value)`` pairs; a key
        given twice takes its last value) as one atomic change made durable by a checkpoint
        instead of the WAL, whatever the durability: the fastest way to put many entries into
        a store. Readers see the state before the load until it returns; after a crash the
        store holds the state before it or after it. Returns the number of entries that
        changed. A read-only store raises :class:`lqft.InvalidArgumentError`."""
        pairs = items.items() if isinstance(items, Mapping) else items
        batch = Batch(self)
        for key, value in pairs:
            batch.put(key, value)
        changed = ffi.new("uint64_t *")
        status = lib.lqft_store_load(self._store_handle(), batch._handle(), changed)
        if status != _OK:
            raise_status(status)
        return int(changed[0])

    def refresh(self) -> None:
        """For a read-only store: moves to the newest committed state. Snapshots and
        iterators already made keep what they had. A no-op for the writer."""
        self._call(lib.lqft_store_refresh)

    def backup(self, path: StrPath) -> BackupReport:
        """Backs the store up into the directory ``path`` (created if needed), which is then a
        store of its own: open it to read or to go on from the backup, or back it up in turn
        (from ``Store.open(backup, read_only=True)``) to restore it elsewhere. ``path`` must be
        an empty directory or an earlier backup of this store; into an earlier one, only the
        packs written since are copied.

        The writer checkpoints first, so the backup holds every write acknowledged before the
        call; a read-only store backs up the newest checkpoint it has read (:meth:`refresh`
        first). Each pack is checked against its hash as it is copied, and the manifest comes
        last, so after a crash or an error ``path`` holds what it held before (or the new
        state, when the failure came while the manifest was being published). Writes go on
        meanwhile. Raises :class:`lqft.LockedError` when a writer has ``path`` open,
        :class:`lqft.InvalidArgumentError` when ``path`` is a store opened to write (it has a
        WAL) or a backup of another store or of a later state of this one,
        :class:`lqft.CorruptError` for a damaged pack, :class:`lqft.FileError` for a failed
        read or write."""
        raw_path = as_path(path)
        report = ffi.new("lqft_backup_report *")
        report.size = ffi.sizeof("lqft_backup_report")
        status = lib.lqft_store_backup(self._store_handle(), raw_path, report)
        if status != _OK:
            raise_status(status)
        return BackupReport(
            int(report.manifest),
            int(report.packs),
            int(report.packs_copied),
            int(report.bytes_copied),
        )

    def store_stats(self) -> dict[str, Any]:
        """The store's counters (docs/STATS.md, ``lqft-store-stats-v1``): WAL records, bytes
        and syncs, checkpoints, node loads, manifest, packs, cache bounds and use,
        ``read_only``. O(1). :meth:`stats` gives the map's own statistics."""
        out = ffi.new("lqft_bytes *")
        status = lib.lqft_store_stats_json(self._store_handle(), out)
        if status != _OK:
            raise_status(status)
        try:
            text = ffi.buffer(out.ptr, out.len)[:]
        finally:
            lib.lqft_bytes_free(out)
        result: dict[str, Any] = json.loads(text)
        return result

    @property
    def closed(self) -> bool:
        return self._store is None

    def close(self) -> None:
        """Ends writing and releases the store: the writer lock and the files go when nothing
        holds the store's map any more — at once on CPython, unless a call is running on
        another thread (then when it returns) or an exception a call on the store raised is
        still referenced (its traceback holds the call's frame). Writes acknowledged with
        ``durability="async"`` or ``"none"`` and not synced stay with the OS (call
        :meth:`sync` first to make them durable). Idempotent; later use raises
        :class:`lqft.ClosedError`."""
        self._release()
        self._store = None

    def __enter__(self) -> Store:
        return self

    def __repr__(self) -> str:
        if self._store is None:
            return "<lqft.Store closed>"
        return f"<lqft.Store len={len(self)}>"
