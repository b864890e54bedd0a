"""Portable snapshot files (LQFT's ``lqft-persisted-file-v1``): save, load with verification,
inspect, and Ed25519 key pairs."""

from __future__ import annotations

import json
from typing import Any, Optional

from ._errors import raise_status
from ._read import take_ids
from ._native import ffi, lib
from ._util import StrPath, as_count, as_path

__all__ = ["inspect_file", "generate_keypair"]

_OK = lib.LQFT_OK


class _CStrings:
    """Keeps the C strings of one call alive until it returns."""

    def __init__(self) -> None:
        self._kept: list[Any] = []

    def path(self, value: Optional[object], what: str) -> Any:
        if value is None:
            return ffi.NULL
        s = ffi.new("char[]", as_path(value, what))
        self._kept.append(s)
        return s


def _save_options(
    strings: _CStrings, sign_key_file: Optional[StrPath], valid_for_seconds: int
) -> Any:
    options = ffi.new("lqft_save_options *")
    options.sign_key_path = strings.path(sign_key_file, "sign_key_file")
    options.valid_for_seconds = as_count(valid_for_seconds, "valid_for_seconds")
    return options


def _verify_options(
    strings: _CStrings,
    verify_key_file: Optional[StrPath],
    trusted_signers: Optional[StrPath],
    min_remaining_validity_seconds: Optional[int],
) -> Any:
    options = ffi.new("lqft_verify_options *")
    options.verify_key_path = strings.path(verify_key_file, "verify_key_file")
    options.trusted_signers_path = strings.path(trusted_signers, "trusted_signers")
    if min_remaining_validity_seconds is not None:
        options.require_freshness = True
        floor = as_count(min_remaining_validity_seconds, "min_remaining_validity_seconds")
        if floor >= 1 << 63:
            raise ValueError("min_remaining_validity_seconds must be < 2**63")
        options.min_remaining_validity_seconds = floor
    return options


def save_snapshot(
    handle: Any, path: StrPath, sign_key_file: Optional[StrPath], valid_for_seconds: int
) -> None:
    strings = _CStrings()
    options = _save_options(strings, sign_key_file, valid_for_seconds)
    status = lib.lqft_snapshot_save(handle, strings.path(path, "path"), options)
    if status != _OK:
        raise_status(status)


def save_bundle(
    handle: Any, path: StrPath, sign_key_file: Optional[StrPath], valid_for_seconds: int
) -> None:
    strings = _CStrings()
    options = _save_options(strings, sign_key_file, valid_for_seconds)
    status = lib.lqft_map_save_bundle(handle, strings.path(path, "path"), options)
    if status != _OK:
        raise_status(status)


def _policy(discard: bool) -> int:
    return int(lib.LQFT_ROLLBACK_DISCARD if discard else lib.LQFT_ROLLBACK_FAIL)


def load_snapshot(
    handle: Any,
    path: StrPath,
    verify_key_file: Optional[StrPath],
    trusted_signers: Optional[StrPath],
    min_remaining_validity_seconds: Optional[int],
    activate: bool,
    discard: bool,
) -> Any:
    """Loads the snapshot file; returns the new snapshot handle (owned by the caller)."""
    strings = _CStrings()
    verify = _verify_options(
        strings, verify_key_file, trusted_signers, min_remaining_validity_seconds
    )
    out = ffi.new("lqft_snapshot **")
    status = lib.lqft_map_load_snapshot(
        handle, strings.path(path, "path"), verify, bool(activate), _policy(discard), out
    )
    if status != _OK:
        raise_status(status)
    return out[0]


def load_bundle(
    handle: Any,
    path: StrPath,
    verify_key_file: Optional[StrPath],
    trusted_signers: Optional[StrPath],
    min_remaining_validity_seconds: Optional[int],
    activate: bool,
    discard: bool,
) -> list[int]:
    strings = _CStrings()
    verify = _verify_options(
        strings, verify_key_file, trusted_signers, min_remaining_validity_seconds
    )
    ids = ffi.new("lqft_ids *")
    status = lib.lqft_map_load_bundle(
        handle, strings.path(path, "path"), verify, bool(activate), _policy(discard), ids
    )
    if status != _OK:
        raise_status(status)
    return take_ids(ids)


def _json(out: Any) -> dict[str, Any]:
    try:
        text = ffi.buffer(out.ptr, out.len)[:]
    finally:
        lib.lqft_bytes_free(out)
    result: dict[str, Any] = json.loads(text)
    return result


def inspect_file(
    path: StrPath,
    *,
    verify_key_file: Optional[StrPath] = None,
    trusted_signers: Optional[StrPath] = None,
    min_remaining_validity_seconds: Optional[int] = None,
) -> dict[str, Any]:
    """LQFT's report on a persisted file (``signature``, ``integrity``, ``validity``,
    ``payload``, ``policy_check``, ``effective_policy``). A file that fails the policy still
    gives a report, whose ``policy_check`` says why; unreadable or malformed files raise."""
    strings = _CStrings()
    verify = _verify_options(
        strings, verify_key_file, trusted_signers, min_remaining_validity_seconds
    )
    out = ffi.new("lqft_bytes *")
    status = lib.lqft_file_inspect(strings.path(path, "path"), verify, out)
    if status != _OK:
        raise_status(status)
    return _json(out)


def generate_keypair(
    private_path: StrPath, public_path: StrPath, *, overwrite: bool = False
) -> dict[str, Any]:
    """Writes a new Ed25519 key pair: the private key (PKCS#8 PEM, mode 0600) and the public
    key (SubjectPublicKeyInfo PEM). Returns LQFT's description (``algorithm``, ``key_id``,
    ``public_key_sha256``, ``private_path``, ``public_path``). Existing files are refused
    (:class:`lqft.FileError`) unless ``overwrite``."""
    strings = _CStrings()
    out = ffi.new("lqft_bytes *")
    status = lib.lqft_keypair_generate(
        strings.path(private_path, "private_path"),
        strings.path(public_path, "public_path"),
        bool(overwrite),
        out,
    )
    if status != _OK:
        raise_status(status)
    return _json(out)
