"""Optimistic transactions and read views of a map's live state."""

from __future__ import annotations

from typing import Any, ClassVar, Optional

from ._errors import ClosedError, ConflictError, raise_status
from ._native import ffi, lib
from ._read import Gets, Lookups, missing
from ._util import Exclusive, ValueBuffer, as_bytes, check

__all__ = ["Transaction", "View", "Writes"]

_OK = lib.LQFT_OK
_NOT_FOUND = lib.LQFT_NOT_FOUND
_CONFLICT = lib.LQFT_CONFLICT
_TOO_SMALL = lib.LQFT_ERR_BUFFER_TOO_SMALL
_txn_get_buf = lib.lqft_txn_get_buf
# A transaction's first value buffer; it grows to the largest value the transaction reads.
_TXN_BUFFER = 256


class Writes:
    """``put`` and ``delete`` of a batch or transaction: a subclass names its C functions,
    holds its handle behind ``_handle()`` and the guard that keeps it to one thread at a
    time."""

    __slots__ = ()

    _guard: Exclusive
    _put: ClassVar[Any]
    _delete: ClassVar[Any]

    def _handle(self) -> Any:
        raise NotImplementedError

    def put(self, key: bytes, value: bytes) -> None:
        """Sets ``key`` to ``value`` (in the batch or transaction until it is applied)."""
        k = as_bytes(key, "key")
        v = as_bytes(value, "value")
        with self._guard:
            status = self._put(self._handle(), k, len(k), v, len(v))
        check(status)

    __setitem__ = put

    def delete(self, key: bytes) -> None:
        """Removes ``key`` (in the batch or transaction until it is applied; absent keys are
        no error)."""
        k = as_bytes(key, "key")
        with self._guard:
            status = self._delete(self._handle(), k, len(k))
        check(status)


class Transaction(Gets, Writes):
    """An optimistic transaction on a :class:`lqft.Map` (from :meth:`lqft.Map.transaction`).

    Reads see the transaction's own writes and remember what they saw; writes stay in the
    transaction until :meth:`commit`, which applies all of them at once if no key the
    transaction read has changed since, and otherwise raises :class:`lqft.ConflictError` and
    changes nothing (run the transaction again). It holds no lock, so it never blocks other
    threads. As a context manager it commits when the block ends without an exception and
    abandons itself when it ends with one::

        with m.transaction() as t:
            t[b"balance"] = str(int(t[b"balance"]) - 10).encode()

    One thread uses a transaction at a time (a second gets :class:`lqft.ConcurrentUseError`).
    """

    __slots__ = ("_h", "_guard", "_buf", "applied")

    _put = lib.lqft_txn_put
    _delete = lib.lqft_txn_delete

    def __init__(self, map_handle: Any) -> None:
        out = ffi.new("lqft_txn **")
        status = lib.lqft_txn_begin(map_handle, out)
        if status != _OK:
            raise_status(status)
        self._h: Any = ffi.gc(out[0], lib.lqft_txn_free)
        self._guard = Exclusive("transaction")
        self._buf: Optional[ValueBuffer] = None
        #: Writes that changed the map, once committed (``None`` before).
        self.applied: Optional[int] = None

    def _handle(self) -> Any:
        h = self._h
        if h is None:
            raise ClosedError("the transaction is finished (committed or abandoned)")
        return h

    def _value(self, key: object) -> Optional[bytes]:
        """The value under ``key`` as the transaction sees it (its own writes included),
        remembered as read, or ``None``."""
        k = as_bytes(key, "key")
        with self._guard:
            h = self._handle()
            buf = self._buf
            if buf is None:
                buf = self._buf = ValueBuffer(_TXN_BUFFER)
            status = _txn_get_buf(h, k, len(k), buf.c)
            if status == _TOO_SMALL:
                buf.grow(max(buf.c.len, 2 * buf.c.cap))
                status = _txn_get_buf(h, k, len(k), buf.c)
            if status == _OK:
                # Copied out while the guard is held: the buffer is the next call's.
                return buf.view[: buf.c.len]  # type: ignore[no-any-return]
        if status == _NOT_FOUND:
            return None
        raise_status(status)

    def __contains__(self, key: object) -> bool:
        return self._value(key) is not None

    def __delitem__(self, key: bytes) -> None:
        if self._value(key) is None:
            raise missing(key)
        self.delete(key)

    def commit(self) -> int:
        """Applies every write at once if nothing the transaction read has changed; returns
        how many changed the map. Raises :class:`lqft.ConflictError` (nothing changed) when
        another writer changed a key it read. Either way the transaction is finished."""
        out = ffi.new("uint64_t *")
        with self._guard:
            h = self._handle()
            status = lib.lqft_txn_commit(h, out)
            self._h = None
            ffi.release(h)
        if status == _CONFLICT:
            raise ConflictError(
                "another writer changed a key this transaction read; nothing was changed: "
                "run the transaction again",
                _CONFLICT,
            )
        if status != _OK:
            raise_status(status)
        self.applied = int(out[0])
        return self.applied

    def abandon(self) -> None:
        """Drops every write; the transaction is then finished. Idempotent."""
        with self._guard:
            h, self._h = self._h, None
            if h is not None:
                ffi.release(h)

    @property
    def finished(self) -> bool:
        return self._h is None

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None and self._h is not None:
            self.commit()
        else:
            self.abandon()


class View(Lookups):
    """The live state of a map as of :meth:`lqft.Map.view`: a consistent read of several keys
    and a root hash, without registering a snapshot (no id, nothing for compaction to keep).
    O(1) to take, unaffected by later writes; readable from any number of threads."""

    __slots__ = ()

    _new_reader = lib.lqft_view_reader
    _get_many = lib.lqft_view_get_many
    _get_alloc = lib.lqft_view_get
    _len = lib.lqft_view_len
    _closed_message = "the view is closed"

    def __init__(self, map_handle: Any) -> None:
        out = ffi.new("lqft_view **")
        status = lib.lqft_map_view(map_handle, out)
        if status != _OK:
            raise_status(status)
        self._open(ffi.gc(out[0], lib.lqft_view_free))

    @property
    def root_hash(self) -> bytes:
        """The blake3 Merkle root: the one a snapshot of the same contents has."""
        out = ffi.new("uint8_t[]", lib.LQFT_HASH_LEN)
        status = lib.lqft_view_root_hash(self._handle(), out, lib.LQFT_HASH_LEN)
        if status != _OK:
            raise_status(status)
        return ffi.buffer(out, lib.LQFT_HASH_LEN)[:]  # type: ignore[no-any-return]

    def close(self) -> None:
        """Releases the view; later reads raise :class:`lqft.ClosedError` (reads running on
        other threads finish first)."""
        self._release()

    def __enter__(self) -> View:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<lqft.View closed>" if self._h is None else f"<lqft.View len={len(self)}>"
