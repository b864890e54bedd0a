"""The ``lqft_c_engine`` surface LQFT 1.2.2's Python wrapper expects from its stateful native
backend (never published), implemented on liblqft through :class:`lqft.Map`.

Only what the wrapper looks up is here: the ``persistent_*`` state functions (each state is a
:class:`lqft.Map`; cloning is an O(1) rollback of a fresh map to a snapshot of the source, so
states share structure), ``persistent_diff_states`` (liblqft's O(changes) diff),
``create_snapshot_metadata`` and ``NativeSnapshotRegistry`` (bookkeeping of the wrapper's own
handles, kept in a dict). The ``mutable_*`` functions are left out on purpose: without them
the wrapper uses its own Python head (a dict and a tombstone set), exactly as in 1.2.2.

Keys and values are LQFT's ``str``, stored as their UTF-8 bytes (``surrogatepass``, so every
``str`` round-trips); UTF-8 byte order is code-point order, so exports come out in the order
LQFT sorts them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

from ._map import Map
from ._snapshot import Snapshot

__all__ = [
    "persistent_new",
    "persistent_clone_state",
    "persistent_insert_key_value",
    "persistent_search_key",
    "persistent_delete_key",
    "persistent_contains_key",
    "persistent_bulk_insert_keys",
    "persistent_bulk_insert_key_values",
    "persistent_get_metrics",
    "persistent_export_items",
    "persistent_clear",
    "persistent_set_reads_sealed",
    "persistent_diff_states",
    "create_snapshot_metadata",
    "NativeSnapshotRegistry",
    "SnapshotMetadata",
    "PersistentState",
]


def _enc(text: str) -> bytes:
    if type(text) is not str:
        raise TypeError(f"LQFT keys and values must be strings. Received: {type(text).__name__}")
    return text.encode("utf-8", "surrogatepass")


def _dec(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


class PersistentState:
    """One persistent LQFT state: a liblqft map. Its registry keeps only the snapshot it was
    last cloned or diffed from (retention 0), so old versions are not held longer than the
    wrapper holds them."""

    __slots__ = ("map", "reads_sealed", "__weakref__")

    def __init__(self, source: Optional[Snapshot] = None) -> None:
        self.map = Map()
        self.map.set_retention(0)
        self.reads_sealed = False
        if source is not None:
            self.map.rollback(source, discard=True)

    def frozen(self) -> Snapshot:
        """An immutable snapshot of the state as it is now (O(1))."""
        return self.map.snapshot()


def _state(state: object) -> PersistentState:
    if not isinstance(state, PersistentState):
        raise TypeError(f"expected a persistent LQFT state, not {type(state).__name__}")
    return state


def persistent_new(related: object = None) -> PersistentState:
    """A new empty state. ``related`` (a state to share a native engine with, in LQFT's
    design) is accepted and ignored: every liblqft state is independent."""
    return PersistentState()


def persistent_clone_state(state: object) -> PersistentState:
    """An independent copy of ``state``, O(1): later writes to either do not show in the
    other."""
    return PersistentState(_state(state).frozen())


def persistent_insert_key_value(state: object, key: str, value: str) -> None:
    _state(state).map[_enc(key)] = _enc(value)


def persistent_search_key(state: object, key: str) -> Optional[str]:
    raw = _state(state).map.get(_enc(key))
    return None if raw is None else _dec(raw)


def persistent_delete_key(state: object, key: str) -> None:
    _state(state).map.delete(_enc(key))


def persistent_contains_key(state: object, key: str) -> bool:
    return _enc(key) in _state(state).map


def persistent_bulk_insert_keys(state: object, keys: Iterable[str], value: str) -> None:
    """Sets every key to ``value``, atomically (one batch)."""
    m = _state(state).map
    v = _enc(value)
    with m.batch() as batch:
        for key in keys:
            batch.put(_enc(key), v)


def persistent_bulk_insert_key_values(
    state: object, keys: Iterable[str], values: Iterable[str]
) -> None:
    """Sets each key to its value, atomically (one batch)."""
    m = _state(state).map
    keys, values = list(keys), list(values)
    if len(keys) != len(values):
        raise ValueError(f"{len(keys)} keys but {len(values)} values")
    with m.batch() as batch:
        for key, value in zip(keys, values):
            batch.put(_enc(key), _enc(value))


def persistent_get_metrics(state: object) -> dict[str, Any]:
    """Counted metrics of the state under the names LQFT's wrapper reads. Unlike LQFT's
    native core, ``logical_inserts`` is the number of live keys (not of insert calls)."""
    stats = _state(state).map.stats()
    live = stats["live"]
    nodes = int(live["leaf_nodes"]) + int(live["branch_nodes"])
    items = int(stats["items"])
    node_bytes = int(live["node_bytes"])
    return {
        "physical_nodes": nodes,
        "logical_inserts": items,
        "live_items": items,
        "nodes_with_values": items,
        "leaf_only_nodes": int(live["leaf_nodes"]),
        "branch_only_nodes": int(live["branch_nodes"]),
        "value_pool_bytes": int(stats["value_bytes"]),
        "active_child_bytes": int(live["structure_bytes"]),
        "estimated_native_bytes": node_bytes,
        "bytes_per_physical_node": node_bytes / nodes if nodes else 0.0,
        "max_depth": int(live["max_depth"]),
        "engine": "liblqft",
    }


def persistent_export_items(state: object) -> tuple[list[str], list[str]]:
    """Every ``(key, value)`` in key order, as two lists."""
    keys: list[str] = []
    values: list[str] = []
    for key, value in _state(state).map.items():
        keys.append(_dec(key))
        values.append(_dec(value))
    return keys, values


def persistent_clear(state: object) -> None:
    _state(state).map.clear()


def persistent_set_reads_sealed(state: object, sealed: bool) -> None:
    """Records the flag. liblqft's reads never race with writes, so sealing changes nothing
    (in LQFT's native core it switched off locking)."""
    _state(state).reads_sealed = bool(sealed)


def persistent_diff_states(old: object, new: object) -> dict[str, dict[str, Any]]:
    """LQFT's diff dict (``added``, ``removed``, ``changed`` with ``from``/``to``) from
    ``old`` to ``new``, in key order, costing O(changes): subtrees the two states share are
    skipped."""
    a, b = _state(old), _state(new)
    added: dict[str, Any] = {}
    removed: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    for change in a.map.diff(a.frozen(), b.frozen()):
        key = _dec(change.key)
        if change.kind == "added":
            assert change.new is not None
            added[key] = _dec(change.new)
        elif change.kind == "removed":
            assert change.old is not None
            removed[key] = _dec(change.old)
        else:
            assert change.old is not None and change.new is not None
            changed[key] = {"from": _dec(change.old), "to": _dec(change.new)}
    return {"added": added, "removed": removed, "changed": changed}


@dataclass(frozen=True)
class SnapshotMetadata:
    """What ``create_snapshot_metadata`` returns: LQFT's snapshot metadata fields."""

    snapshot_id: int
    generation: int
    parent_snapshot_id: Optional[int]
    created_at_ns: int
    mutation_count: int
    delta_size: int
    size: int


def create_snapshot_metadata(
    snapshot_id: int,
    generation: int,
    parent_snapshot_id: Optional[int],
    created_at_ns: int,
    mutation_count: int,
    delta_size: int,
    size: int,
) -> SnapshotMetadata:
    return SnapshotMetadata(
        int(snapshot_id),
        int(generation),
        None if parent_snapshot_id is None else int(parent_snapshot_id),
        int(created_at_ns),
        int(mutation_count),
        int(delta_size),
        int(size),
    )


class NativeSnapshotRegistry:
    """The wrapper's snapshot registry: metadata and root per id, in registration order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[Any, Any]] = {}

    def append(self, metadata: Any, root: Any) -> None:
        with self._lock:
            self._entries[int(metadata.snapshot_id)] = (metadata, root)

    def get_metadata(self, snapshot_id: int) -> Any:
        entry = self._entries.get(snapshot_id)
        return None if entry is None else entry[0]

    get = get_metadata

    def get_root(self, snapshot_id: int) -> Any:
        entry = self._entries.get(snapshot_id)
        return None if entry is None else entry[1]

    def values(self) -> list[Any]:
        with self._lock:
            return [metadata for metadata, _ in self._entries.values()]

    def prune(self, retained_snapshot_ids: Iterable[int]) -> None:
        keep = set(retained_snapshot_ids)
        with self._lock:
            self._entries = {i: e for i, e in self._entries.items() if i in keep}

    def __len__(self) -> int:
        return len(self._entries)
