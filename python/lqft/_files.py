"""Portable snapshot files (LQFT's ``lqft-persisted-file-v1``) and their bytes in memory:
save, export, load and import with verification, inspect, and Ed25519 key pairs.

Keys are given as bytes (``sign_key=`` / ``verify_key=``: the content of a key file, so a
secret never has to be written to a temporary file) or as a path (``*_key_file=``), not both.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass
from typing import Any, Optional, Union

from ._native import ffi, lib
from ._util import StrPath, as_bytes, as_count, as_path, check, take_json

__all__ = ["Validity", "inspect_file", "generate_keypair"]

_OK = lib.LQFT_OK

#: A point in time: an aware ``datetime``, or seconds since the Unix epoch.
Time = Union[_dt.datetime, int, float]


def _epoch_seconds(value: object, what: str) -> int:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{what} must be an aware datetime (give it a tzinfo)")
        return int(value.timestamp() // 1)
    if type(value) is bool or not isinstance(value, (int, float)):
        raise TypeError(
            f"{what} must be a datetime or seconds since the epoch, not {type(value).__name__}"
        )
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{what} must be finite")
    seconds = int(value // 1)
    if not -(1 << 63) <= seconds < 1 << 63:
        raise ValueError(f"{what} is out of range")
    return seconds


@dataclass(frozen=True)
class Validity:
    """A validity window written into a file (signed with it): ``not_before`` and
    ``expires_at`` (aware ``datetime`` or seconds since the Unix epoch, whole seconds, years 1
    to 9999), and ``warn_before_expiry_seconds`` (readers report ``expiring-soon`` when no more
    than that remains; needs ``expires_at``)."""

    not_before: Optional[Time] = None
    expires_at: Optional[Time] = None
    warn_before_expiry_seconds: Optional[int] = None

    @classmethod
    def for_seconds(cls, seconds: int) -> Validity:
        """A window from now for ``seconds``."""
        now = int(time.time())
        return cls(not_before=now, expires_at=now + as_count(seconds, "seconds"))


class _Keep:
    """Keeps the C strings and buffers of one call alive until it returns."""

    def __init__(self) -> None:
        self._kept: list[Any] = []

    def path(self, value: Optional[object], what: str) -> Any:
        if value is None:
            return ffi.NULL
        s = ffi.new("char[]", as_path(value, what))
        self._kept.append(s)
        return s

    def key(self, material: Optional[object], what: str) -> tuple[Any, int]:
        if material is None:
            return ffi.NULL, 0
        raw = material.encode() if isinstance(material, str) else as_bytes(material, what)
        if not raw:
            raise ValueError(f"{what} must not be empty")
        buf = ffi.from_buffer("uint8_t[]", raw)
        self._kept.append(buf)
        return buf, len(raw)


def _one_key(material: Optional[object], file: Optional[object], what: str) -> None:
    if material is not None and file is not None:
        raise TypeError(f"give {what} or {what}_file, not both")


def write_options(
    keep: _Keep,
    sign_key: Optional[object],
    sign_key_file: Optional[StrPath],
    validity: Optional[Validity],
    valid_for_seconds: int,
) -> Any:
    """An ``lqft_write_options``; ``NULL`` when nothing is asked for."""
    _one_key(sign_key, sign_key_file, "sign_key")
    if valid_for_seconds:
        if validity is not None:
            raise TypeError("give validity or valid_for_seconds, not both")
        validity = Validity.for_seconds(valid_for_seconds)
    if validity is not None and not isinstance(validity, Validity):
        raise TypeError(f"validity must be an lqft.Validity, not {type(validity).__name__}")
    if sign_key is None and sign_key_file is None and validity is None:
        return ffi.NULL
    o = ffi.new("lqft_write_options *")
    o.size = ffi.sizeof("lqft_write_options")
    o.sign_key, o.sign_key_len = keep.key(sign_key, "sign_key")
    o.sign_key_path = keep.path(sign_key_file, "sign_key_file")
    if validity is not None:
        if validity.not_before is not None:
            o.has_not_before = True
            o.not_before = _epoch_seconds(validity.not_before, "not_before")
        if validity.expires_at is not None:
            o.has_expires_at = True
            o.expires_at = _epoch_seconds(validity.expires_at, "expires_at")
        if validity.warn_before_expiry_seconds is not None:
            o.has_warn_before_expiry = True
            o.warn_before_expiry_seconds = as_count(
                validity.warn_before_expiry_seconds, "warn_before_expiry_seconds"
            )
    return o


def verification(
    keep: _Keep,
    verify_key: Optional[object],
    verify_key_file: Optional[StrPath],
    trusted_signers: Optional[StrPath],
    min_remaining_validity_seconds: Optional[int],
) -> Any:
    """An ``lqft_verification``; ``NULL`` when nothing is required."""
    _one_key(verify_key, verify_key_file, "verify_key")
    if (
        verify_key is None
        and verify_key_file is None
        and trusted_signers is None
        and min_remaining_validity_seconds is None
    ):
        return ffi.NULL
    v = ffi.new("lqft_verification *")
    v.size = ffi.sizeof("lqft_verification")
    v.verify_key, v.verify_key_len = keep.key(verify_key, "verify_key")
    v.verify_key_path = keep.path(verify_key_file, "verify_key_file")
    v.trusted_signers_path = keep.path(trusted_signers, "trusted_signers")
    if min_remaining_validity_seconds is not None:
        v.require_freshness = True
        floor = as_count(min_remaining_validity_seconds, "min_remaining_validity_seconds")
        if floor >= 1 << 63:
            raise ValueError("min_remaining_validity_seconds must be < 2**63")
        v.min_remaining_validity_seconds = floor
    return v


def load_options(activate: bool, discard: bool, fresh_ids: bool) -> Any:
    o = ffi.new("lqft_load_options *")
    o.size = ffi.sizeof("lqft_load_options")
    o.activate = bool(activate)
    o.pending = lib.LQFT_ROLLBACK_DISCARD if discard else lib.LQFT_ROLLBACK_FAIL
    o.ids = lib.LQFT_IDS_FRESH if fresh_ids else lib.LQFT_IDS_RECORDED
    return o


def inspect_file(
    path: StrPath,
    *,
    verify_key: Union[bytes, str, None] = None,
    verify_key_file: Optional[StrPath] = None,
    trusted_signers: Optional[StrPath] = None,
    min_remaining_validity_seconds: Optional[int] = None,
) -> dict[str, Any]:
    """LQFT's report on a persisted file (``signature``, ``integrity``, ``validity``,
    ``payload``, ``policy_check``, ``effective_policy``). A file that fails the policy still
    gives a report, whose ``policy_check`` says why; unreadable or malformed files raise."""
    keep = _Keep()
    verify = verification(
        keep, verify_key, verify_key_file, trusted_signers, min_remaining_validity_seconds
    )
    out = ffi.new("lqft_bytes *")
    check(lib.lqft_file_inspect_verified(keep.path(path, "path"), verify, out))
    return take_json(out)


def generate_keypair(
    private_path: StrPath, public_path: StrPath, *, overwrite: bool = False
) -> dict[str, Any]:
    """Writes a new Ed25519 key pair: the private key (PKCS#8 PEM, mode 0600) and the public
    key (SubjectPublicKeyInfo PEM). Returns LQFT's description (``algorithm``, ``key_id``,
    ``public_key_sha256``, ``private_path``, ``public_path``). Existing files are refused
    (:class:`lqft.FileError`) unless ``overwrite``."""
    keep = _Keep()
    out = ffi.new("lqft_bytes *")
    check(
        lib.lqft_keypair_generate(
            keep.path(private_path, "private_path"),
            keep.path(public_path, "public_path"),
            bool(overwrite),
            out,
        )
    )
    return take_json(out)
