"""The LQFT 1.2.2 backend (``lqft.lqft122``): the ``lqft_c_engine`` surface LQFT's wrapper
uses. LQFT's own tests run against it in the CI's lqft-1.2.2 stage (scripts/test.sh)."""

from __future__ import annotations

import sys

import pytest

import lqft.lqft122
from lqft import _lqft122_engine as e


def test_states_are_independent_after_an_o1_clone() -> None:
    a = e.persistent_new()
    e.persistent_bulk_insert_key_values(a, ["k1", "k2"], ["v1", "v2"])
    b = e.persistent_clone_state(a)
    e.persistent_insert_key_value(b, "k1", "changed")
    e.persistent_delete_key(a, "k2")
    assert e.persistent_search_key(a, "k1") == "v1" and not e.persistent_contains_key(a, "k2")
    assert e.persistent_search_key(b, "k1") == "changed" and e.persistent_contains_key(b, "k2")
    assert e.persistent_search_key(a, "absent") is None
    # The clone shares the unchanged subtrees with its source.
    assert b.map.stats()["retained"]["shared_nodes"] >= 0


def test_diff_and_export_come_in_lqfts_key_order() -> None:
    a = e.persistent_new()
    e.persistent_bulk_insert_keys(a, ["b", "a", "é", "\ud800"], "x")
    b = e.persistent_clone_state(a)
    e.persistent_insert_key_value(b, "c", "new")
    e.persistent_insert_key_value(b, "a", "y")
    e.persistent_delete_key(b, "b")
    assert e.persistent_diff_states(a, b) == {
        "added": {"c": "new"},
        "removed": {"b": "x"},
        "changed": {"a": {"from": "x", "to": "y"}},
    }
    keys, values = e.persistent_export_items(a)
    assert keys == sorted(keys) == ["a", "b", "é", "\ud800"] and values == ["x"] * 4


def test_embedded_nul_and_long_values_round_trip() -> None:
    s = e.persistent_new()
    e.persistent_insert_key_value(s, "k\x00one", "v\x00" * 1000)
    e.persistent_insert_key_value(s, "k\x00two", "w")
    assert e.persistent_search_key(s, "k\x00one") == "v\x00" * 1000
    assert e.persistent_get_metrics(s)["logical_inserts"] == 2


def test_metrics_clear_and_sealing() -> None:
    s = e.persistent_new()
    e.persistent_bulk_insert_keys(s, [f"k{i}" for i in range(100)], "v")
    metrics = e.persistent_get_metrics(s)
    assert metrics["logical_inserts"] == 100 and metrics["physical_nodes"] > 100
    e.persistent_set_reads_sealed(s, True)
    assert e.persistent_search_key(s, "k5") == "v"
    e.persistent_clear(s)
    assert e.persistent_export_items(s) == ([], [])


def test_bad_input_is_refused() -> None:
    s = e.persistent_new()
    with pytest.raises(TypeError):
        e.persistent_insert_key_value(s, b"bytes", "v")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        e.persistent_search_key("not a state", "k")
    with pytest.raises(ValueError):
        e.persistent_bulk_insert_key_values(s, ["a", "b"], ["1"])
    with pytest.raises(lqft.KeyTooLongError):
        e.persistent_insert_key_value(s, "k" * (lqft.MAX_KEY_LEN + 1), "v")
    assert e.persistent_export_items(s) == ([], [])


def test_registry_and_metadata() -> None:
    registry = e.NativeSnapshotRegistry()
    for i in (1, 2, 3):
        registry.append(e.create_snapshot_metadata(i, i, i - 1 or None, 0, 1, 1, i), f"root{i}")
    assert len(registry) == 3 and registry.get_root(2) == "root2"
    assert registry.get(1).parent_snapshot_id is None
    registry.prune([1, 3])
    assert [m.snapshot_id for m in registry.values()] == [1, 3]
    assert registry.get_metadata(2) is None and registry.get_root(2) is None


def test_install_registers_the_backend_once_and_refuses_a_foreign_one() -> None:
    saved = sys.modules.pop("lqft_c_engine", None)
    try:
        module = lqft.lqft122.install()
        assert sys.modules["lqft_c_engine"] is module and lqft.lqft122.install() is module
        assert callable(module.persistent_new) and not hasattr(module, "mutable_new")
        lqft.lqft122.uninstall()
        assert "lqft_c_engine" not in sys.modules
        sys.modules["lqft_c_engine"] = type(sys)("lqft_c_engine")  # LQFT's own extension
        with pytest.raises(RuntimeError, match="before the first"):
            lqft.lqft122.install()
    finally:
        sys.modules.pop("lqft_c_engine", None)
        if saved is not None:
            sys.modules["lqft_c_engine"] = saved
