"""Conversions shared by every wrapper: Python arguments to C, C results to Python."""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Union

from ._errors import ConcurrentUseError, raise_status
from ._native import ffi, lib

#: A file path.
StrPath = Union[str, "os.PathLike[str]", bytes, "os.PathLike[bytes]"]


class ValueBuffer:
    """An ``lqft_value_buf`` and the memory it points to, regrown in place: the struct stays
    where it is, since a C reader may keep a pointer to it."""

    __slots__ = ("c", "data", "view")

    def __init__(self, cap: int) -> None:
        self.data: Any = ffi.new("uint8_t[]", cap)
        #: The memory as an ``ffi.buffer``; ``view[:n]`` copies a value out as ``bytes``.
        self.view: Any = ffi.buffer(self.data)
        size = ffi.sizeof("lqft_value_buf")
        self.c: Any = ffi.new("lqft_value_buf *", [size, self.data, cap, 0])

    def grow(self, cap: int) -> None:
        """Replaces the memory with ``cap`` bytes (its contents are not kept)."""
        self.data = ffi.new("uint8_t[]", cap)
        self.view = ffi.buffer(self.data)
        self.c.data = self.data
        self.c.cap = cap


def as_bytes(obj: object, what: str) -> bytes:
    """``obj`` as ``bytes``: bytes pass through, other buffers are copied, ``str`` is refused.

    The copy also means a buffer mutated by another thread cannot change under a call that
    runs without the GIL.
    """
    if type(obj) is bytes:
        return obj
    if isinstance(obj, str):
        raise TypeError(f"{what} must be bytes-like, not str (encode it first)")
    try:
        view = memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what} must be bytes-like, not {type(obj).__name__}") from None
    with view:
        return view.tobytes()


def as_path(path: object, what: str = "path") -> bytes:
    """A file system path as the NUL-terminated bytes C wants (``os.fsencode``)."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{what} must be a str, bytes or os.PathLike, not {type(path).__name__}")
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise ValueError(f"{what} contains a NUL byte")
    return raw


def as_count(value: object, what: str) -> int:
    """A non-negative ``int`` (``bool`` refused)."""
    if type(value) is bool or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")
    if value >= 1 << 64:
        raise ValueError(f"{what} must be < 2**64, got {value}")
    return value


class Exclusive:
    """Guards an object that one thread at a time may use: a second thread raises instead of
    waiting (or crashing the C side, which forbids concurrent use)."""

    __slots__ = ("_lock", "_what")

    def __init__(self, what: str) -> None:
        self._lock = threading.Lock()
        self._what = what

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            raise ConcurrentUseError(
                f"this {self._what} is in use by another thread; use one {self._what} "
                "per thread"
            )

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()


def check(status: int) -> None:
    """Raises the exception for ``status`` unless it is ``LQFT_OK``."""
    if status != lib.LQFT_OK:
        raise_status(status)


def take_bytes(out: Any) -> bytes:
    """The content of a filled ``lqft_bytes``, which is then freed."""
    try:
        return ffi.buffer(out.ptr, out.len)[:]  # type: ignore[no-any-return]
    finally:
        lib.lqft_bytes_free(out)


def take_json(out: Any) -> dict[str, Any]:
    """The JSON object in a filled ``lqft_bytes``, which is then freed."""
    result: dict[str, Any] = json.loads(take_bytes(out))
    return result


def take_ids(ids: Any) -> list[int]:
    """The ids of a filled ``lqft_ids``, which is then freed."""
    try:
        return ffi.unpack(ids.ptr, ids.len) if ids.len else []
    finally:
        lib.lqft_ids_free(ids)
