"""Every function of include/lqft.h is in the cffi binding and used by the typed layer."""

from __future__ import annotations

import re
from pathlib import Path

import lqft

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(lqft.__file__).resolve().parent

# Functions the typed layer deliberately leaves to the ones that supersede them for bindings
# (each C call costs more from Python than the copying it saves).
SUPERSEDED = {
    "lqft_map_range": "lqft_map_range_bounds (open and excluded ends)",
    "lqft_snapshot_range": "lqft_snapshot_range_bounds",
    "lqft_iter_next": "lqft_iter_next_packed (many entries per call)",
    "lqft_iter_next_back": "lqft_iter_next_back_packed",
    "lqft_diff_next": "lqft_diff_next_packed",
    # A reader (lqft_*_reader) takes three arguments per get or contains and returns the
    # length or the answer: fewer than the buffer and output arguments of these.
    "lqft_map_get_into": "lqft_reader_get",
    "lqft_snapshot_get_into": "lqft_reader_get",
    "lqft_view_get_into": "lqft_reader_get",
    "lqft_map_get_buf": "lqft_reader_get",
    "lqft_snapshot_get_buf": "lqft_reader_get",
    "lqft_view_get_buf": "lqft_reader_get",
    "lqft_map_contains": "lqft_reader_contains",
    "lqft_snapshot_contains": "lqft_reader_contains",
    "lqft_view_contains": "lqft_reader_contains",
    "lqft_txn_get": "lqft_txn_get_buf (into the transaction's buffer: no allocation per get)",
    # Keys as bytes or paths, explicit validity windows, fresh ids: the sized-option
    # functions do all the older ones do.
    "lqft_snapshot_save": "lqft_snapshot_save_with",
    "lqft_map_save_bundle": "lqft_map_save_bundle_with",
    "lqft_map_load_snapshot": "lqft_map_load_snapshot_verified",
    "lqft_map_load_snapshot_with": "lqft_map_load_snapshot_verified (same lqft_load_options)",
    "lqft_map_load_bundle": "lqft_map_load_bundle_verified",
    "lqft_map_load_bundle_with": "lqft_map_load_bundle_verified (same lqft_load_options)",
    "lqft_file_inspect": "lqft_file_inspect_verified",
    "lqft_map_new": "lqft_map_new_with (shards 0 or 1 make the same plain map)",
}

# Functions the typed layer does not wrap yet, each with the reason. Keep this list short: the
# test below fails for any other function of the header the layer does not use.
NOT_YET_WRAPPED: dict[str, str] = {}


def header_functions() -> set[str]:
    header = (ROOT / "include" / "lqft.h").read_text()
    return set(re.findall(r"^[a-z][\w ]*?\**\s*\b(lqft_\w+)\(", header, re.MULTILINE))


def test_the_header_declares_functions() -> None:
    assert len(header_functions()) > 60


def test_every_header_function_is_in_the_binding() -> None:
    missing = sorted(name for name in header_functions() if not hasattr(lqft._lib, name))
    assert missing == [], f"functions of include/lqft.h missing from the cffi module: {missing}"


def test_every_header_function_is_used_by_the_typed_layer() -> None:
    source = "\n".join(p.read_text() for p in PACKAGE.glob("*.py"))
    used = set(re.findall(r"\b_?lib\.(lqft_\w+)", source))
    unused = sorted(header_functions() - used - set(SUPERSEDED) - set(NOT_YET_WRAPPED))
    assert unused == [], (
        f"functions of include/lqft.h that the Python layer does not wrap: {unused}; wrap "
        "them or list them in SUPERSEDED with the function that replaces them"
    )
    assert set(SUPERSEDED) <= header_functions()
    assert not (set(NOT_YET_WRAPPED) & used), "wrapped now: remove it from NOT_YET_WRAPPED"
