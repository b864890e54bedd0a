"""Files: save and load snapshots and bundles, signed, verified and inspected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import lqft


def test_snapshot_files_round_trip_with_their_metadata(tmp_path: Path) -> None:
    m = lqft.Map({b"a": b"1", b"b\x00": b"\xff"})
    s = m.snapshot()
    for name in ("s.json", "s.json.gz"):
        s.save(tmp_path / name)
        other = lqft.Map()
        loaded = other.load_snapshot(tmp_path / name)
        assert loaded == s and loaded.meta == s.meta
        assert other.snapshot_ids() == [s.id]
    # Loading the same id twice into one map is refused and changes nothing.
    with pytest.raises(lqft.DuplicateSnapshotError):
        m.load_snapshot(tmp_path / "s.json")
    assert m.snapshot_ids() == [1]


def test_bundles_round_trip_and_activate(tmp_path: Path) -> None:
    m = lqft.Map()
    for i in range(3):
        m[b"k"] = b"%d" % i
        m.snapshot()
    m.save_bundle(tmp_path / "b.json")
    other = lqft.Map({b"pending": b"x"})
    with pytest.raises(lqft.PendingChangesError):
        other.load_bundle(tmp_path / "b.json", activate=True)
    assert other.snapshot_ids() == []
    assert other.load_bundle(tmp_path / "b.json", activate=True, discard=True) == [1, 2, 3]
    assert dict(other) == {b"k": b"2"}


def test_signed_files_verify_and_tampering_is_a_policy_error(tmp_path: Path) -> None:
    info = lqft.generate_keypair(tmp_path / "k.pem", tmp_path / "k.pub")
    assert info["algorithm"] == "ed25519" and info["key_id"].startswith("sha256:")
    assert os.stat(tmp_path / "k.pem").st_mode & 0o777 == 0o600
    with pytest.raises(lqft.FileError):
        lqft.generate_keypair(tmp_path / "k.pem", tmp_path / "k.pub")
    s = lqft.Map({b"a": b"1"}).snapshot()
    path = tmp_path / "signed.json"
    s.save(path, sign_key_file=tmp_path / "k.pem", valid_for_seconds=3600)
    m = lqft.Map()
    assert m.load_snapshot(path, verify_key_file=tmp_path / "k.pub") == s
    report = lqft.inspect_file(path, verify_key_file=tmp_path / "k.pub")
    assert report["signed"] is True and report["effective_policy"]["status"] == "pass"
    assert report["validity"]["status"] == "valid"
    # Freshness beyond the window fails.
    with pytest.raises(lqft.PolicyError):
        lqft.Map().load_snapshot(
            path, verify_key_file=tmp_path / "k.pub", min_remaining_validity_seconds=7200
        )
    tampered = tmp_path / "tampered.json"
    tampered.write_text(path.read_text().replace('"1"', '"2"', 1))
    with pytest.raises(lqft.PolicyError) as err:
        lqft.Map().load_snapshot(tampered, verify_key_file=tmp_path / "k.pub")
    assert isinstance(err.value, ValueError) and err.value.status == -11
    # A raw payload is rejected whenever verification was requested.
    other = lqft.generate_keypair(tmp_path / "o.pem", tmp_path / "o.pub")
    assert other["key_id"] != info["key_id"]
    with pytest.raises(lqft.PolicyError):
        lqft.Map().load_snapshot(path, verify_key_file=tmp_path / "o.pub")
    # Trust stores: a directory of public keys.
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "k.pem").write_bytes((tmp_path / "k.pub").read_bytes())
    assert lqft.Map().load_snapshot(path, trusted_signers=trust) == s


def test_corrupt_files_are_corrupt_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(lqft.CorruptError):
        lqft.Map().load_snapshot(bad)
