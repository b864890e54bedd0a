"""Reads that a map's live state and a snapshot answer alike: one body per read, called with
the C functions of the version (``lqft_map_*`` or ``lqft_snapshot_*``)."""

from __future__ import annotations

import operator
import threading
from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import Any, Callable, Optional, Protocol

from ._errors import KeyNotFoundError, raise_status
from ._iter import Entries
from ._native import ffi, lib
from ._util import as_bytes

_OK = lib.LQFT_OK
_NOT_FOUND = lib.LQFT_NOT_FOUND
_TOO_SMALL = lib.LQFT_ERR_BUFFER_TOO_SMALL
# Largest value copied through a thread's reusable buffer; larger ones get a buffer each.
_SCRATCH_MAX = 1 << 20


class _Buffers:
    """One thread's buffers for values copied out of C (grown on demand)."""

    __slots__ = ("cap", "buf", "text", "size", "flag", "count", "iter")

    def __init__(self) -> None:
        self.cap = 4096
        self.buf: Any = ffi.new("uint8_t[]", self.cap)
        # The same bytes as `char *`, which `ffi.unpack` copies into `bytes`.
        self.text: Any = ffi.cast("char *", self.buf)
        self.size: Any = ffi.new("size_t *")
        self.flag: Any = ffi.new("bool *")
        self.count: Any = ffi.new("uint64_t *")
        self.iter: Any = ffi.new("lqft_iter **")

    def grow(self, need: int) -> None:
        self.cap = max(need, 2 * self.cap)
        self.buf = ffi.new("uint8_t[]", self.cap)
        self.text = ffi.cast("char *", self.buf)


class _Scratch(threading.local):
    """Each thread's :class:`_Buffers` (one thread-local lookup per call, then slots)."""

    def __init__(self) -> None:
        self.b = _Buffers()


scratch = _Scratch()


def getter(
    into: Callable[..., int], alloc: Callable[..., int]
) -> Callable[[Any, object], Optional[bytes]]:
    """A function ``(handle, key) -> value or None`` over a C pair: ``into`` (a
    ``*_get_into``) copies through this thread's scratch buffer; ``alloc`` (a ``*_get``) gives
    a value larger than the scratch buffer may grow a buffer of its own. The hot path is one
    C call and one copy into ``bytes``."""
    local = scratch
    unpack = ffi.unpack

    def get(handle: Any, key: object) -> Optional[bytes]:
        if type(key) is not bytes:
            key = as_bytes(key, "key")
        b = local.b
        status = into(handle, key, len(key), b.buf, b.cap, b.size)
        if status == _OK:
            return unpack(b.text, b.size[0])  # type: ignore[no-any-return]
        if status == _NOT_FOUND:
            return None
        return _get_slow(status, into, alloc, handle, key)

    return get


def _get_slow(
    status: int, into: Callable[..., int], alloc: Callable[..., int], handle: Any, key: bytes
) -> Optional[bytes]:
    """The rest of :func:`getter`'s ``get`` after a status other than found or not found."""
    b = scratch.b
    while True:
        if status != _TOO_SMALL:
            raise_status(status)
        need = b.size[0]
        if need > _SCRATCH_MAX:
            break
        b.grow(need)
        status = into(handle, key, len(key), b.buf, b.cap, b.size)
        if status == _OK:
            return ffi.unpack(b.text, b.size[0])  # type: ignore[no-any-return]
        if status == _NOT_FOUND:
            return None
    out = ffi.new("lqft_bytes *")
    status = alloc(handle, key, len(key), out)
    if status == _NOT_FOUND:
        return None
    if status != _OK:
        raise_status(status)
    try:
        return ffi.buffer(out.ptr, out.len)[:]  # type: ignore[no-any-return]
    finally:
        lib.lqft_bytes_free(out)


def contains(fn: Callable[..., int], handle: Any, key: object) -> bool:
    if type(key) is not bytes:
        key = as_bytes(key, "key")
    flag = scratch.b.flag
    status = fn(handle, key, len(key), flag)
    if status != _OK:
        raise_status(status)
    return bool(flag[0])


def length(fn: Callable[..., int], handle: Any) -> int:
    count = scratch.b.count
    status = fn(handle, count)
    if status != _OK:
        raise_status(status)
    return int(count[0])


def open_iter(fn: Callable[..., int], *args: Any, reverse: bool = False) -> Entries:
    """An :class:`Entries` walk from the iterator ``fn(*args, out)`` makes."""
    out = scratch.b.iter
    status = fn(*args, out)
    if status != _OK:
        raise_status(status)
    return Entries(out[0], reverse)


def missing(key: object) -> KeyNotFoundError:
    """The ``KeyError`` for an absent ``key``."""
    return KeyNotFoundError(f"key not found: {key!r}", lib.LQFT_NOT_FOUND)


first = operator.itemgetter(0)
_second = operator.itemgetter(1)


class _Walkable(Protocol):
    def _entries(self, reverse: bool = False) -> Entries: ...
    def get(self, key: bytes) -> Optional[bytes]: ...
    def __len__(self) -> int: ...


class Items(ItemsView[bytes, bytes]):
    """``items()`` of a map or snapshot: walks it in key order, many entries per C call."""

    _mapping: _Walkable

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return self._mapping._entries().walk()

    def __reversed__(self) -> Iterator[tuple[bytes, bytes]]:
        return self._mapping._entries(reverse=True).walk()

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        key, value = item
        found = self._mapping.get(key)
        return found is not None and found == value


class Keys(KeysView[bytes]):
    """``keys()`` of a map or snapshot, in key order."""

    _mapping: _Walkable

    def __iter__(self) -> Iterator[bytes]:
        return map(first, self._mapping._entries().walk())

    def __reversed__(self) -> Iterator[bytes]:
        return map(first, self._mapping._entries(reverse=True).walk())


class Values(ValuesView[bytes]):
    """``values()`` of a map or snapshot, in key order."""

    _mapping: _Walkable

    def __iter__(self) -> Iterator[bytes]:
        return map(_second, self._mapping._entries().walk())

    def __reversed__(self) -> Iterator[bytes]:
        return map(_second, self._mapping._entries(reverse=True).walk())


def take_ids(ids: Any) -> list[int]:
    """The ids of a filled ``lqft_ids``, which is then freed."""
    try:
        return ffi.unpack(ids.ptr, ids.len) if ids.len else []
    finally:
        lib.lqft_ids_free(ids)
