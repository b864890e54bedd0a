"""The map: a live state plus a registry of snapshots."""

from __future__ import annotations

import json
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, MutableMapping
from collections.abc import ValuesView
from dataclasses import dataclass
from typing import Any, Optional, Union, overload

from . import _files
from ._errors import ClosedError, UnknownSnapshotError, raise_status
from ._files import Validity
from ._iter import Changes
from ._native import ffi, lib
from ._read import Scans, missing
from ._snapshot import Snapshot
from ._txn import Transaction, View, Writes
from ._util import Exclusive, StrPath, as_bytes, as_count, check, take_bytes, take_ids, take_json

__all__ = ["Map", "Batch", "ReadSession", "CompactReport"]

_OK = lib.LQFT_OK
_NOT_FOUND = lib.LQFT_NOT_FOUND
_put = lib.lqft_map_put


@dataclass(frozen=True)
class CompactReport:
    """What :meth:`Map.compact` did."""

    pruned: list[int]
    """Ids removed from the registry, ascending."""
    retained: list[int]
    """Ids still registered, ascending."""


class Map(Scans, MutableMapping[bytes, bytes]):
    """A versioned, ordered map from bytes to bytes: a ``MutableMapping`` whose live state can
    be snapshotted in O(1), rolled back, diffed and saved to signed files.

    Keys and values are bytes-like (``bytes``, ``bytearray``, ``memoryview``...; ``str`` is a
    ``TypeError``), compared as bytes: iteration is in key byte order. Keys are at most
    ``lqft.MAX_KEY_LEN`` bytes.

    ``shards=N`` (2 to ``lqft.MAX_SHARDS``) splits the map into N shards that accept writes in
    parallel, with the same methods: batches, transactions and snapshots stay atomic across
    shards, and scans merge the shards in key order. A sharded map's snapshots work only with
    maps of the same shard count, and files hold plain maps only (``InvalidArgumentError``).

    Threads: every method may be called from any number of threads at once (the C map is
    internally synchronised; writers of one map, or of one shard, are serialised), and the GIL
    is released during each C call. Iterators and diffs are used by one thread at a time.
    """

    __slots__ = ("__weakref__",)

    _new_reader = lib.lqft_map_reader
    _get_many = lib.lqft_map_get_many
    _get_alloc = lib.lqft_map_get
    _len = lib.lqft_map_len
    _iter = lib.lqft_map_iter
    _range_bounds = lib.lqft_map_range_bounds
    _prefix = lib.lqft_map_prefix
    _closed_message = "the map is closed"

    def __init__(
        self,
        items: Union[Mapping[Any, Any], Iterable[tuple[Any, Any]], None] = None,
        *,
        shards: int = 1,
    ) -> None:
        out = ffi.new("lqft_map **")
        options = ffi.new("lqft_map_options *")
        options.size = ffi.sizeof("lqft_map_options")
        options.shards = min(as_count(shards, "shards"), 0xFFFF_FFFF)
        status = lib.lqft_map_new_with(options, out)
        if status != _OK:
            raise_status(status)
        self._open(ffi.gc(out[0], lib.lqft_map_free))
        if items is not None:
            with self.batch() as batch:
                pairs = items.items() if isinstance(items, Mapping) else items
                for key, value in pairs:
                    batch.put(key, value)

    @property
    def shard_count(self) -> int:
        """The number of shards: 1 for a plain map."""
        out = ffi.new("uint32_t *")
        status = lib.lqft_map_shard_count(self._handle(), out)
        if status != _OK:
            raise_status(status)
        return int(out[0])

    # -- MutableMapping ------------------------------------------------------------------

    def __setitem__(self, key: bytes, value: bytes) -> None:
        h = self._h
        if h is None:
            h = self._handle()
        if type(key) is not bytes:
            key = as_bytes(key, "key")
        if type(value) is not bytes:
            value = as_bytes(value, "value")
        status = _put(h, key, len(key), value, len(value))
        if status:
            raise_status(status)

    def put(self, key: bytes, value: bytes) -> None:
        """``m[key] = value``."""
        self[key] = value

    def __delitem__(self, key: bytes) -> None:
        if not self.delete(key):
            raise missing(key)

    def delete(self, key: bytes) -> bool:
        """Removes ``key``; whether it was present (absent is not an error)."""
        h = self._handle()
        if type(key) is not bytes:
            key = as_bytes(key, "key")
        status = lib.lqft_map_delete(h, key, len(key))
        if status == _OK:
            return True
        if status == _NOT_FOUND:
            return False
        raise_status(status)

    def clear(self) -> None:
        """Removes every entry of the live state (snapshots keep theirs)."""
        status = lib.lqft_map_clear(self._handle(), ffi.NULL)
        if status != _OK:
            raise_status(status)

    # -- versions ------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Takes an immutable snapshot of the live state (O(1)), registers it and makes it
        current."""
        out = ffi.new("lqft_snapshot **")
        status = lib.lqft_map_snapshot(self._handle(), out)
        if status != _OK:
            raise_status(status)
        return Snapshot._adopt(out[0])

    @property
    def pending_mutations(self) -> int:
        """Writes no snapshot holds: what ``rollback(..., discard=True)`` would drop."""
        out = ffi.new("uint64_t *")
        status = lib.lqft_map_pending_mutations(self._handle(), out)
        if status != _OK:
            raise_status(status)
        return int(out[0])

    def rollback(self, snapshot_or_id: Union[Snapshot, int], *, discard: bool = False) -> int:
        """Makes the live state equal to a snapshot (O(1)) and makes it current; no other
        snapshot is touched. Returns how many uncommitted writes were dropped.

        Uncommitted writes are never dropped silently: without ``discard=True`` they raise
        :class:`lqft.PendingChangesError` and nothing changes. An ``int`` names a registered
        snapshot (:class:`lqft.UnknownSnapshotError`, a ``KeyError``, when there is none); a
        :class:`Snapshot` need not be registered.
        """
        h = self._handle()
        policy = lib.LQFT_ROLLBACK_DISCARD if discard else lib.LQFT_ROLLBACK_FAIL
        out = ffi.new("uint64_t *")
        if isinstance(snapshot_or_id, Snapshot):
            status = lib.lqft_map_rollback(h, snapshot_or_id._handle(), policy, out)
        else:
            sid = as_count(snapshot_or_id, "snapshot id")
            status = lib.lqft_map_rollback_to(h, sid, policy, out)
        if status != _OK:
            raise_status(status)
        return int(out[0])

    def diff(
        self, old: Union[Snapshot, int], new: Union[Snapshot, int, None] = None
    ) -> Changes:
        """The changes that turn ``old`` into ``new`` (default: the live state as of this
        call), in key order, costing O(changes). Ids name registered snapshots."""
        h = self._handle()
        old_snapshot = self._resolve(old)
        out = ffi.new("lqft_diff **")
        if new is None:
            status = lib.lqft_map_diff_live(h, old_snapshot._handle(), out)
        else:
            status = lib.lqft_diff_new(old_snapshot._handle(), self._resolve(new)._handle(), out)
        if status != _OK:
            raise_status(status)
        return Changes(out[0])

    def _resolve(self, snapshot_or_id: Union[Snapshot, int]) -> Snapshot:
        if isinstance(snapshot_or_id, Snapshot):
            return snapshot_or_id
        return self.snapshot_by_id(snapshot_or_id)

    def transaction(self) -> Transaction:
        """An optimistic transaction: reads remember what they saw, writes apply at once on
        commit unless a key read has changed meanwhile (:class:`lqft.ConflictError`). As a
        context manager it commits when the block ends without an exception::

            with m.transaction() as t:
                t[b"n"] = str(int(t.get(b"n", b"0")) + 1).encode()
        """
        return Transaction(self._handle())

    def compare_and_swap(
        self, key: bytes, expected: Optional[bytes], new: Optional[bytes]
    ) -> bool:
        """Atomically: if the value under ``key`` is ``expected`` (``None``: the key is
        absent), sets it to ``new`` (``None``: deletes it). Returns whether it swapped;
        ``False`` changed nothing (read again and retry)."""
        h = self._handle()
        k = as_bytes(key, "key")
        flags = 0
        if expected is None:
            flags |= lib.LQFT_CAS_EXPECT_ABSENT
            e = b""
        else:
            e = as_bytes(expected, "expected")
        if new is None:
            flags |= lib.LQFT_CAS_DELETE
            v = b""
        else:
            v = as_bytes(new, "new")
        status = lib.lqft_map_compare_and_swap(h, k, len(k), e, len(e), v, len(v), flags)
        if status == _OK:
            return True
        if status == lib.LQFT_CONFLICT:
            return False
        raise_status(status)

    def view(self) -> View:
        """A read view of the live state as of now: consistent reads of several keys and a
        root hash, O(1), without registering a snapshot."""
        return View(self._handle())

    def batch(self) -> Batch:
        """A batch of writes, applied atomically when its ``with`` block ends without an
        exception (other threads and snapshots see all of it or none) and discarded when it
        ends with one::

            with m.batch() as b:
                b[b"x"] = b"1"
                del b[b"y"]
        """
        return Batch(self)

    # -- the snapshot registry -----------------------------------------------------------

    def snapshot_ids(self) -> list[int]:
        """Ids of the registered snapshots, ascending."""
        ids = ffi.new("lqft_ids *")
        status = lib.lqft_map_snapshot_ids(self._handle(), ids)
        if status != _OK:
            raise_status(status)
        return take_ids(ids)

    def snapshots(self) -> list[Snapshot]:
        """The registered snapshots, oldest first."""
        h = self._handle()
        count = ffi.new("size_t *")
        status = lib.lqft_map_snapshot_count(h, count)
        if status != _OK:
            raise_status(status)
        found = []
        out = ffi.new("lqft_snapshot **")
        for index in range(count[0]):
            status = lib.lqft_map_snapshot_at(h, index, out)
            if status == _NOT_FOUND:  # another thread compacted meanwhile
                break
            if status != _OK:
                raise_status(status)
            found.append(Snapshot._adopt(out[0]))
        return found

    def snapshot_by_id(self, snapshot_id: int) -> Snapshot:
        """The registered snapshot with this id; :class:`lqft.UnknownSnapshotError` (a
        ``KeyError``) when there is none."""
        sid = as_count(snapshot_id, "snapshot id")
        out = ffi.new("lqft_snapshot **")
        status = lib.lqft_map_snapshot_by_id(self._handle(), sid, out)
        if status == _NOT_FOUND:
            raise UnknownSnapshotError(
                f"no registered snapshot has id {sid}", lib.LQFT_ERR_UNKNOWN_SNAPSHOT
            )
        if status != _OK:
            raise_status(status)
        return Snapshot._adopt(out[0])

    @property
    def current_snapshot(self) -> Optional[Snapshot]:
        """The snapshot the live state derives from (the last taken or rolled back to)."""
        out = ffi.new("lqft_snapshot **")
        status = lib.lqft_map_current_snapshot(self._handle(), out)
        if status == _NOT_FOUND:
            return None
        if status != _OK:
            raise_status(status)
        return Snapshot._adopt(out[0])

    def compact(self, retain_last: int) -> CompactReport:
        """Prunes the registry to the newest ``retain_last`` snapshots plus the current one
        and every pinned one. Pruned snapshots stay readable through handles you hold."""
        keep = as_count(retain_last, "retain_last")
        pruned = ffi.new("lqft_ids *")
        retained = ffi.new("lqft_ids *")
        status = lib.lqft_map_compact(self._handle(), keep, pruned, retained)
        if status != _OK:
            raise_status(status)
        return CompactReport(pruned=take_ids(pruned), retained=take_ids(retained))

    def set_retention(self, retain_last: Optional[int]) -> list[int]:
        """Keeps the registry pruned to the newest ``retain_last`` snapshots (plus the current
        and pinned ones), now and after every snapshot; ``None`` stops pruning. Returns the
        ids pruned now."""
        enabled = retain_last is not None
        keep = as_count(retain_last, "retain_last") if retain_last is not None else 0
        pruned = ffi.new("lqft_ids *")
        status = lib.lqft_map_set_retention(self._handle(), enabled, keep, pruned)
        if status != _OK:
            raise_status(status)
        return take_ids(pruned)

    def pin(self, snapshot: Optional[Snapshot] = None) -> ReadSession:
        """A read session on ``snapshot`` (default: the current one): compaction keeps it
        registered until the session is closed. Use it as a context manager."""
        if snapshot is None:
            snapshot = self.current_snapshot
            if snapshot is None:
                raise ValueError("the map has no snapshot to pin; take one first")
        out = ffi.new("lqft_read_session **")
        status = lib.lqft_map_pin(self._handle(), snapshot._handle(), out)
        if status != _OK:
            raise_status(status)
        return ReadSession(out[0])

    def stats(self) -> dict[str, Any]:
        """Counted statistics (docs/STATS.md): items, bytes, nodes, snapshots, counters.
        Costs O(nodes) across the live state and retained snapshots."""
        out = ffi.new("lqft_bytes *")
        check(lib.lqft_map_stats_json(self._handle(), out))
        return take_json(out)

    # -- files ---------------------------------------------------------------------------

    def save_bundle(
        self,
        path: StrPath,
        *,
        sign_key: Union[bytes, str, None] = None,
        sign_key_file: Optional[StrPath] = None,
        validity: Optional[Validity] = None,
        valid_for_seconds: int = 0,
    ) -> None:
        """Writes every registered snapshot (and which is current) to ``path`` as one
        ``lqft-snapshot-bundle-v1`` file, replaced atomically; signing and validity as for
        :meth:`Snapshot.save`."""
        keep = _files._Keep()
        options = _files.write_options(keep, sign_key, sign_key_file, validity, valid_for_seconds)
        check(lib.lqft_map_save_bundle_with(self._handle(), keep.path(path, "path"), options))

    def export_bundle(
        self,
        *,
        sign_key: Union[bytes, str, None] = None,
        sign_key_file: Optional[StrPath] = None,
        validity: Optional[Validity] = None,
        valid_for_seconds: int = 0,
    ) -> bytes:
        """The bytes :meth:`save_bundle` writes to a path not ending in ``.gz``, without
        touching the file system; :meth:`import_bundle` reads them back. A map without
        snapshots has nothing to export (:class:`lqft.CorruptError`)."""
        keep = _files._Keep()
        options = _files.write_options(keep, sign_key, sign_key_file, validity, valid_for_seconds)
        out = ffi.new("lqft_bytes *")
        check(lib.lqft_map_export_bundle(self._handle(), options, out))
        return take_bytes(out)

    def load_snapshot(
        self,
        path: StrPath,
        *,
        verify_key: Union[bytes, str, None] = None,
        verify_key_file: Optional[StrPath] = None,
        trusted_signers: Optional[StrPath] = None,
        min_remaining_validity_seconds: Optional[int] = None,
        activate: bool = False,
        discard: bool = False,
        fresh_ids: bool = False,
    ) -> Snapshot:
        """Reads, verifies and registers the snapshot in an ``lqft-snapshot-v1`` file, with
        its metadata, under the id the file records (``fresh_ids=True``: a fresh id of this
        map, e.g. to load a file whose id this map already uses); with ``activate``, also
        rolls back to it (``discard`` as for :meth:`rollback`).

        Verification: ``verify_key`` (bytes of an Ed25519 public key PEM, or the HMAC secret)
        or ``verify_key_file`` must verify the signature; ``trusted_signers`` (a directory of
        public keys or a trust-store manifest) must name its non-revoked signer;
        ``min_remaining_validity_seconds`` of signed validity must remain. A file that fails
        raises :class:`lqft.PolicyError` (a ``ValueError``) whose ``code`` is LQFT's policy
        code; the map is unchanged on any error.
        """
        loaded: Snapshot = self._read_document(
            lib.lqft_map_load_snapshot_verified, path, True, "lqft_snapshot **", verify_key,
            verify_key_file, trusted_signers, min_remaining_validity_seconds, activate,
            discard, fresh_ids,
        )
        return loaded

    def load_bundle(
        self,
        path: StrPath,
        *,
        verify_key: Union[bytes, str, None] = None,
        verify_key_file: Optional[StrPath] = None,
        trusted_signers: Optional[StrPath] = None,
        min_remaining_validity_seconds: Optional[int] = None,
        activate: bool = False,
        discard: bool = False,
        fresh_ids: bool = False,
    ) -> list[int]:
        """Reads, verifies and registers every snapshot of an ``lqft-snapshot-bundle-v1``
        file, all or none; with ``activate``, rolls back to the bundle's current snapshot.
        Returns the registered ids (in file order). Verification and ids as for
        :meth:`load_snapshot`."""
        ids: list[int] = self._read_document(
            lib.lqft_map_load_bundle_verified, path, True, "lqft_ids *", verify_key,
            verify_key_file, trusted_signers, min_remaining_validity_seconds, activate,
            discard, fresh_ids,
        )
        return ids

    def import_snapshot(
        self,
        data: Union[bytes, bytearray, memoryview],
        *,
        verify_key: Union[bytes, str, None] = None,
        verify_key_file: Optional[StrPath] = None,
        trusted_signers: Optional[StrPath] = None,
        min_remaining_validity_seconds: Optional[int] = None,
        activate: bool = False,
        discard: bool = False,
        fresh_ids: bool = False,
    ) -> Snapshot:
        """:meth:`load_snapshot` from the bytes of such a file (JSON text, or gzip), as
        :meth:`Snapshot.export` makes them: the same checks, without touching the file
        system."""
        imported: Snapshot = self._read_document(
            lib.lqft_map_import_snapshot, data, False, "lqft_snapshot **", verify_key,
            verify_key_file, trusted_signers, min_remaining_validity_seconds, activate,
            discard, fresh_ids,
        )
        return imported

    def import_bundle(
        self,
        data: Union[bytes, bytearray, memoryview],
        *,
        verify_key: Union[bytes, str, None] = None,
        verify_key_file: Optional[StrPath] = None,
        trusted_signers: Optional[StrPath] = None,
        min_remaining_validity_seconds: Optional[int] = None,
        activate: bool = False,
        discard: bool = False,
        fresh_ids: bool = False,
    ) -> list[int]:
        """:meth:`load_bundle` from the bytes of such a file, as :meth:`export_bundle` makes
        them."""
        ids: list[int] = self._read_document(
            lib.lqft_map_import_bundle, data, False, "lqft_ids *", verify_key,
            verify_key_file, trusted_signers, min_remaining_validity_seconds, activate,
            discard, fresh_ids,
        )
        return ids

    def _read_document(
        self,
        fn: Any,
        source: object,
        from_file: bool,
        out_type: str,
        verify_key: Union[bytes, str, None],
        verify_key_file: Optional[StrPath],
        trusted_signers: Optional[StrPath],
        min_remaining_validity_seconds: Optional[int],
        activate: bool,
        discard: bool,
        fresh_ids: bool,
    ) -> Any:
        """The body of every load and import: ``fn(map, source..., verify, options, out)``
        where the source is a path (``from_file``) or the document's bytes, and ``out`` an
        ``lqft_snapshot **`` (gives a :class:`Snapshot`) or an ``lqft_ids *`` (a list)."""
        keep = _files._Keep()
        raw = b"" if from_file else as_bytes(source, "data")
        verify = _files.verification(
            keep, verify_key, verify_key_file, trusted_signers, min_remaining_validity_seconds
        )
        args = (keep.path(source, "path"),) if from_file else (raw, len(raw))
        out = ffi.new(out_type)
        check(fn(self._handle(), *args, verify, _files.load_options(activate, discard, fresh_ids), out))
        if out_type == "lqft_ids *":
            return take_ids(out)
        return Snapshot._adopt(out[0])

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Releases the map; later use raises :class:`lqft.ClosedError`. Snapshots,
        iterators and diffs made from it keep working; calls running on other threads
        finish first."""
        self._release()

    def __enter__(self) -> Map:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._h is None:
            return "<lqft.Map closed>"
        return f"<lqft.Map len={len(self)}>"

    # Maps compare by contents, as dicts do; they are mutable, so unhashable.
    __hash__ = None  # type: ignore[assignment]


class Batch(Writes):
    """Puts and deletes collected in order and applied to a map atomically by
    :meth:`apply` (or at the end of ``with map.batch() as b:``). One thread builds a batch at a
    time; a second gets :class:`lqft.ConcurrentUseError`."""

    __slots__ = ("_map", "_h", "_guard", "applied")

    _put = lib.lqft_batch_put
    _delete = lib.lqft_batch_delete

    def __init__(self, map: Map) -> None:
        out = ffi.new("lqft_batch **")
        status = lib.lqft_batch_new(out)
        if status != _OK:
            raise_status(status)
        self._map = map
        self._h: Any = ffi.gc(out[0], lib.lqft_batch_free)
        self._guard = Exclusive("batch")
        #: Operations that changed the map, once applied (``None`` before).
        self.applied: Optional[int] = None

    def _handle(self) -> Any:
        h = self._h
        if h is None:
            raise ClosedError("the batch was applied or discarded")
        return h

    __delitem__ = Writes.delete

    def __len__(self) -> int:
        out = ffi.new("size_t *")
        with self._guard:
            status = lib.lqft_batch_len(self._handle(), out)
        if status != _OK:
            raise_status(status)
        return int(out[0])

    def clear(self) -> None:
        """Removes every operation collected so far."""
        with self._guard:
            status = lib.lqft_batch_clear(self._handle())
        if status != _OK:
            raise_status(status)

    def apply(self) -> int:
        """Applies every operation, in order and atomically; returns how many changed the
        map. The batch is then finished."""
        out = ffi.new("uint64_t *")
        with self._guard:
            status = lib.lqft_map_write_batch(self._map._handle(), self._handle(), out)
            if status != _OK:
                raise_status(status)
            self.applied = int(out[0])
            self._h = None
        return self.applied

    def discard(self) -> None:
        """Drops every operation; the batch is then finished."""
        with self._guard:
            self._h = None

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.apply()
        else:
            self.discard()


class ReadSession:
    """A pinned snapshot: :meth:`Map.compact` keeps it registered until :meth:`close`."""

    __slots__ = ("_h", "_snapshot")

    def __init__(self, handle: Any) -> None:
        self._h: Any = ffi.gc(handle, lib.lqft_read_session_free)
        out = ffi.new("lqft_snapshot **")
        status = lib.lqft_read_session_snapshot(handle, out)
        if status != _OK:
            raise_status(status)
        self._snapshot = Snapshot._adopt(out[0])

    @property
    def snapshot(self) -> Snapshot:
        """The pinned snapshot (readable after the session closes, but no longer pinned)."""
        return self._snapshot

    @property
    def closed(self) -> bool:
        return self._h is None

    def close(self) -> None:
        """Unpins the snapshot. Idempotent."""
        handle, self._h = self._h, None
        if handle is not None:
            ffi.release(handle)

    def __enter__(self) -> ReadSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
