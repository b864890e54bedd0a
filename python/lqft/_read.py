"""Reads that a map's live state, a snapshot and a view answer alike, written once: the
classes here take the C functions of their version (``lqft_map_*``, ``lqft_snapshot_*``,
``lqft_view_*``) from class attributes of the subclass."""

from __future__ import annotations

import operator
import threading
from collections import deque
from collections.abc import ItemsView, Iterable, Iterator, KeysView, ValuesView
from typing import Any, ClassVar, Optional, Union, overload

from ._errors import ClosedError, KeyNotFoundError, raise_status
from ._iter import Entries, _packing
from ._native import ffi, lib
from ._util import ValueBuffer, as_bytes, take_bytes

_OK = lib.LQFT_OK
_NOT_FOUND = lib.LQFT_NOT_FOUND
_ABSENT = lib.LQFT_READER_NOT_FOUND
_TOO_SMALL = lib.LQFT_ERR_BUFFER_TOO_SMALL
_INCLUDED = lib.LQFT_BOUND_INCLUDED
_EXCLUDED = lib.LQFT_BOUND_EXCLUDED
_UNBOUNDED = lib.LQFT_BOUND_UNBOUNDED
_reader_get = lib.lqft_reader_get
_reader_contains = lib.lqft_reader_contains
# A reader's first buffer, and the largest it grows to; larger values get a buffer each.
_READER_CAP = 512
_READER_MAX = 1 << 20


class _Scratch(threading.local):
    """Each thread's output slots for calls that write through a pointer (the GIL is released
    during a call, so threads cannot share one)."""

    def __init__(self) -> None:
        self.count: Any = ffi.new("uint64_t *")
        self.iter: Any = ffi.new("lqft_iter **")


scratch = _Scratch()


def missing(key: object) -> KeyNotFoundError:
    """The ``KeyError`` for an absent ``key``."""
    return KeyNotFoundError(f"key not found: {key!r}", lib.LQFT_NOT_FOUND)


def range_args(start: object, stop: object) -> tuple[bytes, int, bytes, int]:
    """The C arguments of a ``start <= key < stop`` range where ``None`` is an open end."""
    if start is None:
        s, sk = b"", _UNBOUNDED
    else:
        s, sk = as_bytes(start, "start"), _INCLUDED
    if stop is None:
        e, ek = b"", _UNBOUNDED
    else:
        e, ek = as_bytes(stop, "stop"), _EXCLUDED
    return s, sk, e, ek


def open_iter(fn: Any, *args: Any, reverse: bool = False) -> Entries:
    """An :class:`Entries` walk from the iterator ``fn(*args, out)`` makes."""
    out = scratch.iter
    status = fn(*args, out)
    if status != _OK:
        raise_status(status)
    return Entries(out[0], reverse)


class Gets:
    """``v[key]`` and ``v.get(key, default)`` over a subclass's ``_value(key)`` (the value or
    ``None``)."""

    __slots__ = ()

    def _value(self, key: object) -> Optional[bytes]:
        raise NotImplementedError

    @overload
    def get(self, key: bytes) -> Optional[bytes]: ...
    @overload
    def get(self, key: bytes, default: Union[bytes, Any]) -> Union[bytes, Any]: ...

    def get(self, key: bytes, default: Any = None) -> Any:
        """The value under ``key``, or ``default``."""
        value = self._value(key)
        return default if value is None else value

    def __getitem__(self, key: bytes) -> bytes:
        value: Optional[bytes] = self.get(key)
        if value is None:
            raise missing(key)
        return value


class Lookups(Gets):
    """Point reads of a version: ``v[key]``, ``get``, ``in``, ``len``. A subclass names its C
    functions, holds its handle in ``_h`` and its pool of readers in ``_readers``: both are
    set by :meth:`_open` and reset by :meth:`_release` (``_h`` ``None`` once closed).

    A hit costs one C call (``lqft_reader_get``: the reader, the key and its length; the
    value's length comes back as the result) and one copy into ``bytes``. A reader copies into
    its own buffer, so a get takes one from the pool for the call (the GIL is released during
    it) and puts it back: the pool holds as many readers as gets ever ran at once. A reader's
    buffer grows to the largest value read, up to 1 MiB; larger values get a buffer each
    (``*_get``)."""

    __slots__ = ("_h", "_readers")

    _h: Any
    _readers: deque[list[Any]]
    _new_reader: ClassVar[Any]
    _get_many: ClassVar[Any]
    _get_alloc: ClassVar[Any]
    _len: ClassVar[Any]
    _closed_message: ClassVar[str]

    def _open(self, h: Any) -> None:
        self._h = h
        # A deque: a list that a get empties frees its array and the next append allocates a
        # new one (measured: about 20 ns of a get); a deque keeps its block.
        self._readers = deque()

    def _release(self) -> None:
        """Closes this object. Readers taken by calls running on other threads go with the old
        pool once those calls return (a reader of a store's map keeps the store open)."""
        self._h = None
        self._readers = deque()

    def _handle(self) -> Any:
        h = self._h
        if h is None:
            raise ClosedError(self._closed_message)
        return h

    def _reader(self) -> list[Any]:
        """A new reader of this version: ``[reader, its buffer's view, its buffer]`` (the view
        is also the buffer's: a get reads it with one index)."""
        h = self._handle()
        buf = ValueBuffer(_READER_CAP)
        out = ffi.new("lqft_reader **")
        status = self._new_reader(h, buf.c, out)
        if status != _OK:
            raise_status(status)
        return [ffi.gc(out[0], lib.lqft_reader_free), buf.view, buf]

    @overload
    def get(self, key: bytes) -> Optional[bytes]: ...
    @overload
    def get(self, key: bytes, default: Union[bytes, Any]) -> Union[bytes, Any]: ...

    def get(self, key: bytes, default: Any = None) -> Any:
        """The value under ``key``, or ``default``."""
        # The hot path of every read, in one frame: each C argument and each Python operation
        # here is a measurable part of a get (docs/BENCHMARKS.md, Python binding).
        if type(key) is not bytes:
            key = as_bytes(key, "key")
        readers = self._readers
        try:
            reader = readers.pop()
        except IndexError:
            reader = self._reader()
        n = _reader_get(reader[0], key, len(key))
        if n >= 0:
            value = reader[1][:n]
            readers.append(reader)
            return value
        if n == _ABSENT:
            readers.append(reader)
            return default
        value = self._value_slow(n, reader, key)
        readers.append(reader)
        return default if value is None else value

    def __getitem__(self, key: bytes) -> bytes:
        # The body of get again rather than a call of it: a frame more is a measurable part of
        # a read.
        if type(key) is not bytes:
            key = as_bytes(key, "key")
        readers = self._readers
        try:
            reader = readers.pop()
        except IndexError:
            reader = self._reader()
        n = _reader_get(reader[0], key, len(key))
        if n >= 0:
            value = reader[1][:n]
            readers.append(reader)
            return value  # type: ignore[no-any-return]
        if n == _ABSENT:
            readers.append(reader)
            raise missing(key)
        found = self._value_slow(n, reader, key)
        readers.append(reader)
        if found is None:
            raise missing(key)
        return found

    def _value_slow(self, status: int, reader: list[Any], key: bytes) -> Optional[bytes]:
        """The rest of :meth:`get` after a result other than a length or absent: grows the
        reader's buffer (``reader`` is this call's alone) or reads into a buffer of its own."""
        while True:
            if status != _TOO_SMALL:
                raise_status(status)
            buf = reader[2]
            need = buf.c.len
            if need > _READER_MAX:
                break
            buf.grow(min(max(need, 2 * buf.c.cap), _READER_MAX))
            reader[1] = buf.view
            n = _reader_get(reader[0], key, len(key))
            if n >= 0:
                return reader[1][:n]  # type: ignore[no-any-return]
            if n == _ABSENT:
                return None
            status = n
        out = ffi.new("lqft_bytes *")
        status = self._get_alloc(self._handle(), key, len(key), out)
        if status == _NOT_FOUND:
            return None
        if status != _OK:
            raise_status(status)
        return take_bytes(out)

    def get_many(self, keys: Iterable[bytes]) -> list[Optional[bytes]]:
        """The values under ``keys``, in order, ``None`` for an absent key: what
        ``[v.get(k) for k in keys]`` gives, in one C call per buffer of values (``*_get_many``)
        instead of one per key. A map's live state is read key by key, so a write made by
        another thread meanwhile may show for some keys only; a snapshot or view is one
        version."""
        ks = [k if type(k) is bytes else as_bytes(k, "key") for k in keys]
        n = len(ks)
        if not n:
            return []
        h = self._handle()
        lens = list(map(len, ks))
        packed = ffi.from_buffer("uint8_t[]", b"".join(ks))
        key_lens = ffi.new("size_t[]", lens)
        ends = ffi.new("size_t[]", n)
        found = ffi.new("bool[]", n)
        p = _packing
        out: list[Optional[bytes]] = []
        start = offset = 0
        while start < n:
            status = self._get_many(
                h, packed + offset, key_lens + start, n - start, p.buf, p.cap, ends + start,
                found + start, p.count, p.used,
            )
            if status == _TOO_SMALL:
                p.grow(p.used[0])
                continue
            if status != _OK:
                raise_status(status)
            done = p.count[0]
            data = p.view[: p.used[0]]
            bounds = [0]
            bounds += ffi.unpack(ends + start, done)
            hits = ffi.unpack(found + start, done)
            out += [data[a:b] if hit else None for a, b, hit in zip(bounds, bounds[1:], hits)]
            offset += sum(lens[start : start + done])
            start += done
        return out

    def __contains__(self, key: object) -> bool:
        if type(key) is not bytes:
            key = as_bytes(key, "key")
        # A contains writes no buffer, so it may share a reader with a get on another thread.
        readers = self._readers
        try:
            reader = readers[-1]
        except IndexError:
            reader = self._reader()
            readers.append(reader)
        status = _reader_contains(reader[0], key, len(key))
        if status == _OK:
            return True
        if status == _NOT_FOUND:
            return False
        raise_status(status)

    def __len__(self) -> int:
        """Entries, O(1)."""
        count = scratch.count
        status = self._len(self._handle(), count)
        if status != _OK:
            raise_status(status)
        return int(count[0])


class Scans(Lookups):
    """Point reads plus ordered walks: ``keys()``, ``values()``, ``items()``, iteration,
    ``reversed``, ``range`` and ``prefix``, each over the version as of the call."""

    __slots__ = ()

    _iter: ClassVar[Any]
    _range_bounds: ClassVar[Any]
    _prefix: ClassVar[Any]

    def _entries(self, reverse: bool = False) -> Entries:
        return open_iter(self._iter, self._handle(), reverse=reverse)

    def __iter__(self) -> Iterator[bytes]:
        """Keys in byte order, of the version as it is when iteration starts (later writes
        do not show, and writing while iterating is allowed)."""
        return map(first, self._entries().walk())

    def __reversed__(self) -> Iterator[bytes]:
        return map(first, self._entries(reverse=True).walk())

    def keys(self) -> KeysView[bytes]:
        return Keys(self)

    def values(self) -> ValuesView[bytes]:
        return Values(self)

    def items(self) -> ItemsView[bytes, bytes]:
        return Items(self)

    def range(
        self, start: Optional[bytes] = None, stop: Optional[bytes] = None, *, reverse: bool = False
    ) -> Entries:
        """``(key, value)`` pairs with ``start <= key < stop`` in key order (descending with
        ``reverse``), as of this call; ``None`` leaves that end open."""
        s, sk, e, ek = range_args(start, stop)
        return open_iter(
            self._range_bounds, self._handle(), s, len(s), sk, e, len(e), ek, reverse=reverse
        )

    def prefix(self, prefix: bytes, *, reverse: bool = False) -> Entries:
        """``(key, value)`` pairs whose key starts with ``prefix``, in key order."""
        p = as_bytes(prefix, "prefix")
        return open_iter(self._prefix, self._handle(), p, len(p), reverse=reverse)


first = operator.itemgetter(0)
_second = operator.itemgetter(1)


class Items(ItemsView[bytes, bytes]):
    """``items()`` of a map or snapshot: walks it in key order, many entries per C call."""

    _mapping: Scans

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

    _mapping: Scans

    def __iter__(self) -> Iterator[bytes]:
        return map(first, self._mapping._entries().walk())

    def __reversed__(self) -> Iterator[bytes]:
        return map(first, self._mapping._entries(reverse=True).walk())


class Values(ValuesView[bytes]):
    """``values()`` of a map or snapshot, in key order."""

    _mapping: Scans

    def __iter__(self) -> Iterator[bytes]:
        return map(_second, self._mapping._entries().walk())

    def __reversed__(self) -> Iterator[bytes]:
        return map(_second, self._mapping._entries(reverse=True).walk())
