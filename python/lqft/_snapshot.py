"""Snapshots: immutable versions of a map, readable as a ``Mapping``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union

from ._errors import raise_status
from ._files import Validity, _Keep, write_options
from ._native import ffi, lib
from ._read import Scans
from ._util import StrPath, as_bytes, check, take_bytes

__all__ = ["Snapshot", "SnapshotMeta"]

_OK = lib.LQFT_OK
_NOT_FOUND = lib.LQFT_NOT_FOUND


@dataclass(frozen=True)
class SnapshotMeta:
    """What was recorded about a snapshot when it was taken."""

    id: int
    """Unique within its map and increasing."""
    generation: int
    """Snapshots on the path from the first one to this one (the first is 1)."""
    parent_id: Optional[int]
    """The snapshot the live state derived from when this one was taken, if any."""
    created_at_ns: int
    """Wall-clock time of the snapshot, nanoseconds since the Unix epoch."""
    mutation_count: int
    """Mutations applied between the parent and this snapshot."""
    delta_size: int
    """Keys added, removed or changed between the parent and this snapshot."""
    size: int
    """Entries in the snapshot."""


class Snapshot(Scans, Mapping[bytes, bytes]):
    """An immutable version of a :class:`lqft.Map`: a ``Mapping`` of bytes to bytes in key
    order, with its metadata.

    Taking one is O(1). It stays readable for as long as you hold it, even after the map's
    registry pruned it or the map was closed. Equality is by Merkle root: two snapshots with
    equal contents are equal (and hash alike), whatever map or history produced them.
    Snapshots may be read from any number of threads at once.
    """

    __slots__ = ("_meta",)
    _h: Any
    _meta: Optional[SnapshotMeta]

    _new_reader = lib.lqft_snapshot_reader
    _get_many = lib.lqft_snapshot_get_many
    _get_alloc = lib.lqft_snapshot_get
    _len = lib.lqft_snapshot_len
    _iter = lib.lqft_snapshot_iter
    _range_bounds = lib.lqft_snapshot_range_bounds
    _prefix = lib.lqft_snapshot_prefix
    _closed_message = "the snapshot is closed"

    def __init__(self) -> None:
        raise TypeError("snapshots come from Map.snapshot() and the map's registry")

    @classmethod
    def _adopt(cls, handle: Any) -> Snapshot:
        """Wraps a snapshot handle the caller owns."""
        self = object.__new__(cls)
        self._open(ffi.gc(handle, lib.lqft_snapshot_free))
        self._meta = None
        return self

    # -- Mapping -------------------------------------------------------------------------

    def get_view(self, key: bytes) -> Optional[memoryview]:
        """The value under ``key`` as a read-only ``memoryview`` of the snapshot's own bytes,
        without copying, or ``None``. The view keeps the snapshot's data alive on its own."""
        h = self._handle()
        k = as_bytes(key, "key")
        out_value = ffi.new("const uint8_t **")
        out_len = ffi.new("size_t *")
        status = lib.lqft_snapshot_get_view(h, k, len(k), out_value, out_len)
        if status == _NOT_FOUND:
            return None
        if status != _OK:
            raise_status(status)
        # The view is valid while the handle lives: the pointer object below keeps `h` alive
        # through its (no-op) destructor, and the buffer keeps the pointer object alive.
        pointer = ffi.gc(out_value[0], lambda _p, _keep=h: None)
        return memoryview(ffi.buffer(pointer, out_len[0])).toreadonly()

    # -- identity and metadata -----------------------------------------------------------

    @property
    def root_hash(self) -> bytes:
        """The blake3 Merkle root (32 bytes): equal contents give equal roots."""
        out = ffi.new("uint8_t[]", lib.LQFT_HASH_LEN)
        status = lib.lqft_snapshot_root_hash(self._handle(), out, lib.LQFT_HASH_LEN)
        if status != _OK:
            raise_status(status)
        root: bytes = ffi.buffer(out)[:]
        return root

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Snapshot):
            return self.root_hash == other.root_hash
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash(self.root_hash)

    @property
    def meta(self) -> SnapshotMeta:
        """The snapshot's metadata."""
        if self._meta is None:
            out = ffi.new("lqft_snapshot_meta *")
            status = lib.lqft_snapshot_metadata(self._handle(), out)
            if status != _OK:
                raise_status(status)
            self._meta = SnapshotMeta(
                id=out.id,
                generation=out.generation,
                parent_id=out.parent_id if out.has_parent else None,
                created_at_ns=out.created_at_ns,
                mutation_count=out.mutation_count,
                delta_size=out.delta_size,
                size=out.size,
            )
        return self._meta

    @property
    def id(self) -> int:
        """The snapshot's id (``meta.id``)."""
        return self.meta.id

    def __repr__(self) -> str:
        if self._h is None:
            return "<lqft.Snapshot closed>"
        meta = self.meta
        return f"<lqft.Snapshot id={meta.id} size={meta.size} root={self.root_hash.hex()[:16]}>"

    def clone(self) -> Snapshot:
        """A second handle on the same snapshot, closed on its own."""
        out = ffi.new("lqft_snapshot **")
        status = lib.lqft_snapshot_clone(self._handle(), out)
        if status != _OK:
            raise_status(status)
        return Snapshot._adopt(out[0])

    # -- files ---------------------------------------------------------------------------

    def save(
        self,
        path: StrPath,
        *,
        sign_key: Union[bytes, str, None] = None,
        sign_key_file: Optional[StrPath] = None,
        validity: Optional[Validity] = None,
        valid_for_seconds: int = 0,
    ) -> None:
        """Writes the snapshot to ``path`` as an ``lqft-snapshot-v1`` file (gzip when the name
        ends in ``.gz``), replaced atomically and durably.

        Signing: ``sign_key`` (bytes of an Ed25519 private key PEM, or an HMAC secret) or
        ``sign_key_file`` (a file holding one). Validity: ``validity`` (an
        :class:`lqft.Validity`), or ``valid_for_seconds`` > 0 for a window starting now; the
        window is signed."""
        keep = _Keep()
        options = write_options(keep, sign_key, sign_key_file, validity, valid_for_seconds)
        check(lib.lqft_snapshot_save_with(self._handle(), keep.path(path, "path"), options))

    def export(
        self,
        *,
        sign_key: Union[bytes, str, None] = None,
        sign_key_file: Optional[StrPath] = None,
        validity: Optional[Validity] = None,
        valid_for_seconds: int = 0,
    ) -> bytes:
        """The bytes :meth:`save` writes to a path not ending in ``.gz`` (an
        ``lqft-snapshot-v1`` document in its signed envelope), without touching the file
        system; :meth:`lqft.Map.import_snapshot` reads them back."""
        keep = _Keep()
        options = write_options(keep, sign_key, sign_key_file, validity, valid_for_seconds)
        out = ffi.new("lqft_bytes *")
        check(lib.lqft_snapshot_export(self._handle(), options, out))
        return take_bytes(out)

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Releases this handle; later use raises :class:`lqft.ClosedError`. Views, iterators
        and diffs made from it keep working. Calls running on other threads finish first."""
        self._release()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
