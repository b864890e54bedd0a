"""Ordered walks over a version (live state or snapshot) and diffs between versions.

Both copy many entries per C call (``lqft_iter_next_packed``, ``lqft_diff_next_packed``) into
one buffer per thread, then split it: a C call costs far more from Python than copying does.
A chunk of entries that all have one key length and one value length (fixed-size records)
is split by ``struct.iter_unpack`` in one C-level pass; any other by slicing each entry.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any, Literal, NamedTuple, Optional

from ._errors import raise_status
from ._native import ffi, lib
from ._util import Exclusive

__all__ = ["Entries", "Change", "ChangeKind", "Changes"]

_OK = lib.LQFT_OK
_DONE = lib.LQFT_DONE
_TOO_SMALL = lib.LQFT_ERR_BUFFER_TOO_SMALL
# Most entries taken per C call: bounds what a walk copies ahead of its reader.
_CHUNK = 512
# Bytes of a thread's packing buffer; an entry larger than this gets a larger buffer once.
_BUFFER = 1 << 16
_SIZE_T = ffi.sizeof("size_t")
# The `ends` of chunks whose entries all have one key length and one value length, by
# (key length, entry length, count); bounded, since varied data may meet many such shapes.
_UNIFORM: dict[tuple[int, int, int], bytes] = {}


def _uniform_ends(key_len: int, record: int, count: int) -> bytes:
    """The bytes of ``ends`` for ``count`` entries of ``key_len``-byte keys in ``record``
    bytes each: comparing a chunk's ``ends`` with them (one ``memcmp``) tells whether
    ``struct.iter_unpack`` can split the chunk."""
    shape = (key_len, record, count)
    ends = _UNIFORM.get(shape)
    if ends is None:
        if len(_UNIFORM) >= 64:
            _UNIFORM.clear()
        offsets = [0] * (2 * count)
        offsets[0::2] = range(key_len, count * record + key_len, record)
        offsets[1::2] = range(record, count * record + record, record)
        ends = _UNIFORM[shape] = ffi.buffer(ffi.new("size_t[]", offsets))[:]
    return ends


class _Packing(threading.local):
    """Each thread's buffers for packed steps (a thread runs one step at a time)."""

    def __init__(self) -> None:
        self.ends: Any = ffi.new("size_t[]", 3 * _CHUNK)
        self.kinds: Any = ffi.new("lqft_diff_kind[]", _CHUNK)
        self.count: Any = ffi.new("size_t *")
        self.used: Any = ffi.new("size_t *")
        self.cap = 0
        self.grow(_BUFFER)

    def grow(self, needed: int) -> None:
        self.cap = max(needed, self.cap)
        self.buf: Any = ffi.new("uint8_t[]", self.cap)
        # Slicing an ffi.buffer copies into one `bytes` with a single call.
        self.view: Any = ffi.buffer(self.buf)

    def step(self, fn: Any, handle: Any, with_kinds: bool) -> tuple[bytes, int]:
        """Runs the packed step ``fn`` on ``handle`` (a diff's takes ``kinds``), growing the
        buffer for an entry larger than it; the packed bytes and the entry count, 0 at the
        end."""
        while True:
            if with_kinds:
                status = fn(
                    handle, self.buf, self.cap, self.ends, self.kinds, _CHUNK, self.count,
                    self.used,
                )
            else:
                status = fn(handle, self.buf, self.cap, self.ends, _CHUNK, self.count, self.used)
            if status == _OK:
                return self.view[: self.used[0]], self.count[0]
            if status == _DONE:
                return b"", 0
            if status != _TOO_SMALL:
                raise_status(status)
            self.grow(self.used[0])


_packing = _Packing()


class Entries(Iterator[tuple[bytes, bytes]]):
    """An iterator of ``(key, value)`` pairs in key order (or reverse order), over a version
    fixed when it was made: later writes to the map do not show.

    It owns its version, so it outlives the map or snapshot it came from. One thread at a time
    may use it; a second thread gets :class:`lqft.ConcurrentUseError` instead of waiting.
    """

    __slots__ = ("_handle", "_reverse", "_buffered", "_guard", "__weakref__")

    def __init__(self, handle: Any, reverse: bool) -> None:
        self._handle: Any = ffi.gc(handle, lib.lqft_iter_free)
        self._reverse = reverse
        self._buffered: Iterator[tuple[bytes, bytes]] = iter(())
        self._guard = Exclusive("iterator")

    def __iter__(self) -> Entries:
        return self

    def __next__(self) -> tuple[bytes, bytes]:
        # Entries already copied out need no guard: only the C step must not run on two
        # threads at once.
        entry = next(self._buffered, None)
        if entry is None:
            entry = self._refill()
        return entry

    def _refill(self) -> tuple[bytes, bytes]:
        """The first entry of the next chunk; ``StopIteration`` at the end."""
        with self._guard:
            chunk = self._chunk()
            if chunk is None:
                raise StopIteration
            buffered = iter(chunk)
            self._buffered = buffered
            return next(buffered)

    def _chunk(self) -> Optional[Iterable[tuple[bytes, bytes]]]:
        """The entries of the next chunk (at least one), or ``None`` at the end, when the
        version is released. The caller holds the guard."""
        if self._handle is None:
            return None
        chunk = self._fill()
        if chunk is None:
            self._release()
        return chunk

    def walk(self) -> Iterator[tuple[bytes, bytes]]:
        """The remaining entries as an iterator that costs less per entry than
        :meth:`__next__` (``for`` loops over ``items()``, ``keys()`` and ``values()`` use it):
        a C-level chain over one chunk after another. Used from two threads at once, it
        raises ``ValueError`` ("generator already executing") instead of crashing."""
        return chain(self._buffered, chain.from_iterable(self._chunks()))

    def _chunks(self) -> Iterator[Iterable[tuple[bytes, bytes]]]:
        guard = self._guard
        while True:
            with guard:
                chunk = self._chunk()
            if chunk is None:
                return
            yield chunk

    def _fill(self) -> Optional[Iterable[tuple[bytes, bytes]]]:
        """The entries of the next C step, ``None`` when none is left."""
        step = lib.lqft_iter_next_back_packed if self._reverse else lib.lqft_iter_next_packed
        p = _packing
        data, count = p.step(step, self._handle, False)
        if not count:
            return None
        ends = p.ends
        record = ends[1]
        if record and len(data) == count * record and ffi.buffer(ends, 2 * count * _SIZE_T)[:] == (
            _uniform_ends(ends[0], record, count)
        ):
            # Every entry has this chunk's key length and value length: one C-level pass.
            return struct.iter_unpack(f"{ends[0]}s{record - ends[0]}s", data)
        # ends: key end, value end of each entry; an entry starts where the last one ended.
        offsets = ffi.unpack(ends, 2 * count)
        bounds = [0]
        bounds += offsets
        return [
            (data[a:b], data[b:c]) for a, b, c in zip(bounds[0::2], bounds[1::2], bounds[2::2])
        ]

    def _release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            ffi.release(handle)

    def close(self) -> None:
        """Releases the walk's version now instead of when the iterator is collected."""
        with self._guard:
            self._buffered = iter(())
            self._release()


ChangeKind = Literal["added", "removed", "changed"]

_KINDS: dict[int, ChangeKind] = {
    lib.LQFT_DIFF_ADDED: "added",
    lib.LQFT_DIFF_REMOVED: "removed",
    lib.LQFT_DIFF_CHANGED: "changed",
}


class Change(NamedTuple):
    """One difference between two versions."""

    kind: ChangeKind
    """``"added"``, ``"removed"`` or ``"changed"``."""
    key: bytes
    old: Optional[bytes]
    """The value in the older version (``None`` when added)."""
    new: Optional[bytes]
    """The value in the newer version (``None`` when removed)."""


class Changes(Iterator[Change]):
    """An iterator of :class:`Change` in key order, costing O(changes): subtrees both versions
    share are skipped. Owns what it needs; one thread at a time."""

    __slots__ = ("_handle", "_buffered", "_guard", "__weakref__")

    def __init__(self, handle: Any) -> None:
        self._handle: Any = ffi.gc(handle, lib.lqft_diff_free)
        self._buffered: Iterator[Change] = iter(())
        self._guard = Exclusive("diff")

    def __iter__(self) -> Changes:
        return self

    def __next__(self) -> Change:
        with self._guard:
            for change in self._buffered:
                return change
            if self._handle is None:
                raise StopIteration
            chunk = self._fill()
            if not chunk:
                handle, self._handle = self._handle, None
                ffi.release(handle)
                raise StopIteration
            self._buffered = iter(chunk)
            return next(self._buffered)

    def _fill(self) -> list[Change]:
        p = _packing
        data, count = p.step(lib.lqft_diff_next_packed, self._handle, True)
        if not count:
            return []
        ends = ffi.unpack(p.ends, 3 * count)
        kinds = ffi.unpack(p.kinds, count)
        chunk = []
        start = 0
        for i in range(count):
            key_end, old_end, new_end = ends[3 * i], ends[3 * i + 1], ends[3 * i + 2]
            kind = _KINDS[kinds[i]]
            old = None if kind == "added" else data[key_end:old_end]
            new = None if kind == "removed" else data[old_end:new_end]
            chunk.append(Change(kind, data[start:key_end], old, new))
            start = new_end
        return chunk
