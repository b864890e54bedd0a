"""Keys given as bytes, explicit validity windows, and snapshot / bundle documents in memory
(export and import), with LQFT's policy codes on failures."""

from __future__ import annotations

import datetime as dt
import gzip
import time
from pathlib import Path
from typing import Any

import pytest

import lqft


@pytest.fixture
def keys(tmp_path: Path) -> tuple[bytes, bytes]:
    """An Ed25519 key pair as PEM bytes."""
    lqft.generate_keypair(tmp_path / "k.pem", tmp_path / "k.pub")
    return (tmp_path / "k.pem").read_bytes(), (tmp_path / "k.pub").read_bytes()


def test_exported_bytes_are_the_saved_file_and_import_back(
    tmp_path: Path, keys: tuple[bytes, bytes]
) -> None:
    private, public = keys
    m = lqft.Map({b"a": b"1", b"\x00bin": b"\xff\x00"})
    s = m.snapshot()
    now = int(time.time())
    window = lqft.Validity(not_before=now - 5, expires_at=now + 3600, warn_before_expiry_seconds=60)
    data = s.export(sign_key=private, validity=window)
    s.save(tmp_path / "s.json", sign_key=private, validity=window)
    assert (tmp_path / "s.json").read_bytes() == data
    other = lqft.Map()
    got = other.import_snapshot(data, verify_key=public, min_remaining_validity_seconds=60)
    assert got == s and got.meta == s.meta and dict(got) == dict(s)
    # gzip bytes import too; a fresh id avoids the one now used.
    again = other.import_snapshot(gzip.compress(data), verify_key=public, fresh_ids=True)
    assert again == s and again.id != s.id
    # A bytearray or memoryview is accepted as data.
    assert lqft.Map().import_snapshot(bytearray(data)) == s


def test_bundles_export_and_import_all_or_none(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    m = lqft.Map()
    for i in range(3):
        m[b"k"] = b"%d" % i
        m.snapshot()
    data = m.export_bundle(sign_key=private, valid_for_seconds=600)
    other = lqft.Map({b"pending": b"x"})
    with pytest.raises(lqft.PendingChangesError):
        other.import_bundle(data, verify_key=public, activate=True)
    assert other.snapshot_ids() == []
    assert other.import_bundle(data, verify_key=public, activate=True, discard=True) == [1, 2, 3]
    assert dict(other) == {b"k": b"2"}
    assert other.import_bundle(data, fresh_ids=True) == [4, 5, 6]
    with pytest.raises(lqft.CorruptError):
        lqft.Map().export_bundle()  # no snapshot to export


def test_hmac_secrets_as_bytes_with_nul_and_as_str() -> None:
    s = lqft.Map({b"k": b"v"}).snapshot()
    data = s.export(sign_key=b"s\x00x")
    assert lqft.Map().import_snapshot(data, verify_key=b"s\x00x") == s
    with pytest.raises(lqft.PolicyError) as err:
        lqft.Map().import_snapshot(data, verify_key=b"s\x00y")
    assert err.value.code == "verification_signature_mismatch"
    # A str key is its UTF-8 bytes, as in LQFT.
    text = s.export(sign_key="secret")
    assert lqft.Map().import_snapshot(text, verify_key=b"secret") == s


def test_policy_failures_carry_lqfts_code_and_change_nothing(
    tmp_path: Path, keys: tuple[bytes, bytes]
) -> None:
    private, public = keys
    lqft.generate_keypair(tmp_path / "o.pem", tmp_path / "o.pub")
    s = lqft.Map({b"k": b"v"}).snapshot()
    data = s.export(sign_key=private, valid_for_seconds=60)
    m = lqft.Map()
    cases: list[tuple[bytes, dict[str, Any], str]] = [
        (data, {"verify_key": (tmp_path / "o.pub").read_bytes()},
         "verification_signer_identity_mismatch"),
        (data, {"verify_key": public, "min_remaining_validity_seconds": 3600},
         "freshness_below_min_remaining_validity"),
        (data.replace(b'"v"', b'"w"', 1), {"verify_key": public}, "integrity_checksum_mismatch"),
        (s.export(), {"verify_key": public}, "verification_unsigned"),
    ]
    for doc, kwargs, code in cases:
        with pytest.raises(lqft.PolicyError) as err:
            m.import_snapshot(doc, **kwargs)
        assert err.value.code == code and isinstance(err.value, ValueError)
        assert code in str(err.value)
    assert m.snapshot_ids() == [] and len(m) == 0


def test_explicit_windows_past_and_future(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    s = lqft.Map({b"k": b"v"}).snapshot()
    utc = dt.timezone.utc
    expired = s.export(
        sign_key=private, validity=lqft.Validity(expires_at=dt.datetime(2020, 1, 1, tzinfo=utc))
    )
    with pytest.raises(lqft.PolicyError) as err:
        lqft.Map().import_snapshot(expired, verify_key=public)
    assert err.value.code == "freshness_not_currently_valid"
    future = s.export(validity=lqft.Validity(not_before=dt.datetime(9000, 1, 1, tzinfo=utc)))
    with pytest.raises(lqft.PolicyError):
        lqft.Map().import_snapshot(future)
    report_path_free = lqft.Map().import_snapshot(s.export(validity=lqft.Validity()))
    assert report_path_free == s


def test_inspect_with_the_key_as_bytes(tmp_path: Path, keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    path = tmp_path / "s.json"
    lqft.Map({b"k": b"v"}).snapshot().save(path, sign_key=private, valid_for_seconds=60)
    report = lqft.inspect_file(path, verify_key=public)
    assert report["policy_check"]["loadable"] is True
    bad = lqft.inspect_file(path, verify_key=b"-----BEGIN PUBLIC KEY-----\nnope\n")
    assert bad["policy_check"]["loadable"] is False


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"sign_key": b""}, ValueError),
        ({"sign_key": 12}, TypeError),
        ({"sign_key": b"x", "sign_key_file": "/nonexistent"}, TypeError),
        ({"validity": lqft.Validity(not_before=10, expires_at=5)}, lqft.InvalidArgumentError),
        ({"validity": lqft.Validity(warn_before_expiry_seconds=5)}, lqft.InvalidArgumentError),
        ({"validity": lqft.Validity(expires_at=1e300)}, ValueError),
        ({"validity": lqft.Validity(expires_at=float("nan"))}, ValueError),
        ({"validity": lqft.Validity(expires_at=dt.datetime(2030, 1, 1))}, ValueError),
        ({"validity": lqft.Validity(expires_at="tomorrow")}, TypeError),  # type: ignore[arg-type]
        ({"validity": {"expires_at": 5}}, TypeError),
        ({"validity": lqft.Validity(expires_at=10**12)}, lqft.InvalidArgumentError),
        ({"valid_for_seconds": 5, "validity": lqft.Validity()}, TypeError),
        ({"sign_key": b"-----BEGIN PRIVATE KEY-----\ngarbage\n"}, lqft.InvalidArgumentError),
        ({"sign_key_file": "/nonexistent/key"}, lqft.FileError),
    ],
)
def test_bad_write_options_are_refused_and_write_nothing(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    s = lqft.Map({b"k": b"v"}).snapshot()
    with pytest.raises(error):
        s.export(**kwargs)
    with pytest.raises(error):
        s.save(tmp_path / "s.json", **kwargs)
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize(
    "data, kwargs, error",
    [
        (b"{ not json", {}, lqft.CorruptError),
        (b"", {}, lqft.CorruptError),
        ("text", {}, TypeError),
        (b"{}", {"verify_key": b"k", "verify_key_file": "/x"}, TypeError),
        (b"{}", {"min_remaining_validity_seconds": -1}, ValueError),
        (b"{}", {"trusted_signers": "/nonexistent/trust"}, lqft.Error),
        (b"\x1f\x8bnot gzip", {}, lqft.CorruptError),
    ],
)
def test_bad_imports_are_refused_and_change_nothing(
    data: Any, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    m = lqft.Map({b"k": b"v"})
    with pytest.raises(error):
        m.import_snapshot(data, **kwargs)
    with pytest.raises(error):
        m.import_bundle(data, **kwargs)
    assert m.snapshot_ids() == [] and dict(m) == {b"k": b"v"}


def test_closed_maps_and_snapshots_refuse_documents() -> None:
    m = lqft.Map({b"k": b"v"})
    s = m.snapshot()
    data = s.export()
    m.close()
    with pytest.raises(lqft.ClosedError):
        m.import_snapshot(data)
    with pytest.raises(lqft.ClosedError):
        m.export_bundle()
    s.close()
    with pytest.raises(lqft.ClosedError):
        s.export()
