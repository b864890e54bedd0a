"""The exception hierarchy: one base, one class per liblqft status, each also a built-in."""

from __future__ import annotations

from typing import NoReturn

from ._native import ffi, lib

__all__ = [
    "Error",
    "InvalidArgumentError",
    "KeyTooLongError",
    "ValueTooLongError",
    "PendingChangesError",
    "UnknownSnapshotError",
    "DuplicateSnapshotError",
    "CorruptError",
    "FileError",
    "PolicyError",
    "PanicError",
    "LockedError",
    "PoisonedError",
    "LimitError",
    "KeyNotFoundError",
    "ClosedError",
    "ConcurrentUseError",
    "ConflictError",
]


class Error(Exception):
    """Base of every exception liblqft raises.

    ``status`` is the C status code (``lqft_status``) behind it, or 0 for errors found by the
    Python layer itself (closed handles, concurrent use).
    """

    status: int = 0

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        # KeyError quotes its argument; every subclass here carries a sentence instead.
        return str(self.args[0]) if self.args else ""


class InvalidArgumentError(Error, ValueError):
    """An argument is out of its domain (``LQFT_ERR_INVALID_ARGUMENT``)."""

    status = lib.LQFT_ERR_INVALID_ARGUMENT


class KeyTooLongError(InvalidArgumentError):
    """A key is longer than ``lqft.MAX_KEY_LEN`` bytes (``LQFT_ERR_KEY_TOO_LONG``)."""

    status = lib.LQFT_ERR_KEY_TOO_LONG


class ValueTooLongError(InvalidArgumentError):
    """A value is longer than ``lqft.MAX_VALUE_LEN`` bytes (``LQFT_ERR_VALUE_TOO_LONG``)."""

    status = lib.LQFT_ERR_VALUE_TOO_LONG


class PendingChangesError(Error, RuntimeError):
    """A rollback without ``discard=True`` met writes no snapshot holds; nothing changed."""

    status = lib.LQFT_ERR_PENDING_CHANGES


class UnknownSnapshotError(Error, KeyError):
    """No registered snapshot has the id given (``LQFT_ERR_UNKNOWN_SNAPSHOT``)."""

    status = lib.LQFT_ERR_UNKNOWN_SNAPSHOT


class DuplicateSnapshotError(Error, ValueError):
    """A snapshot with the same id is already registered (``LQFT_ERR_DUPLICATE_SNAPSHOT``)."""

    status = lib.LQFT_ERR_DUPLICATE_SNAPSHOT


class CorruptError(Error, ValueError):
    """Data that does not decode or does not match its hash (``LQFT_ERR_CORRUPT``)."""

    status = lib.LQFT_ERR_CORRUPT


class FileError(Error, OSError):
    """Reading or writing a file failed (``LQFT_ERR_IO``)."""

    status = lib.LQFT_ERR_IO


class PolicyError(Error, ValueError):
    """A file failed verification, trust, freshness or schema policy (``LQFT_ERR_POLICY``).

    A ``ValueError``, as LQFT 1.2.2's ``LQFTPolicyError`` was. ``code`` is LQFT's policy code
    (for example ``"verification_signature_mismatch"``, see docs/FORMAT.md), or ``None``.
    """

    status = lib.LQFT_ERR_POLICY
    code: str | None = None


class PanicError(Error, SystemError):
    """liblqft caught a bug of its own (``LQFT_ERR_PANIC``); the handle is unchanged."""

    status = lib.LQFT_ERR_PANIC


class LockedError(Error, OSError):
    """A store's writer lock is held by another writer (``LQFT_ERR_LOCKED``)."""

    status = lib.LQFT_ERR_LOCKED


class PoisonedError(Error, OSError):
    """A store refuses writes after an earlier write or sync failed; reopen it
    (``LQFT_ERR_POISONED``)."""

    status = lib.LQFT_ERR_POISONED


class LimitError(Error, ValueError):
    """A size cap was exceeded (a file larger than readers accept, or one being written that
    would be); nothing changed (``LQFT_ERR_LIMIT``)."""

    status = lib.LQFT_ERR_LIMIT


class KeyNotFoundError(Error, KeyError):
    """The key is absent (``m[key]`` or ``del m[key]``)."""

    status = lib.LQFT_NOT_FOUND


class ClosedError(Error, ValueError):
    """The object was closed; it can no longer be used."""


class ConcurrentUseError(Error, RuntimeError):
    """An iterator, diff or batch was used from two threads at once; nothing was done."""


class ConflictError(Error, RuntimeError):
    """A transaction's commit found that another writer changed a key it read
    (``LQFT_CONFLICT``); nothing was changed: run the transaction again."""

    status = lib.LQFT_CONFLICT


def _subclasses(cls: type[Error]) -> list[type[Error]]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


# Every class above with a negative (error) status, by status.
_BY_STATUS: dict[int, type[Error]] = {c.status: c for c in _subclasses(Error) if c.status < 0}
# A NULL argument cannot come from this package's own calls; should one happen, it is a bad
# argument as far as Python is concerned.
_BY_STATUS[lib.LQFT_ERR_NULL_ARGUMENT] = InvalidArgumentError


def raise_status(status: int) -> NoReturn:
    """Raises the exception for the negative ``status`` a call on this thread just returned."""
    # Raised without a local naming it: a frame that held its own exception would form a
    # cycle with the traceback, keeping the caller's frames (and the handles in them, such as
    # a store's map, whose release unlocks the store) alive until the garbage collector runs.
    raise _exception(status)


def _exception(status: int) -> Error:
    message = ffi.string(lib.lqft_last_error_message()).decode("utf-8", "replace")
    if not message:
        message = ffi.string(lib.lqft_status_str(status)).decode("ascii", "replace")
    cls = _BY_STATUS.get(status, Error)
    error = cls(message, status)
    if isinstance(error, PolicyError):
        code = lib.lqft_last_policy_code()
        error.code = None if code == ffi.NULL else ffi.string(code).decode("ascii")
    return error
