"""liblqft for Python: a versioned, ordered, verifiable map of bytes with O(1) snapshots.

>>> import lqft
>>> m = lqft.Map()
>>> m[b"user:1"] = b"alice"
>>> s = m.snapshot()
>>> m[b"user:1"] = b"bob"
>>> s[b"user:1"], m[b"user:1"]
(b'alice', b'bob')
>>> [c.kind for c in m.diff(s)]
['changed']
>>> m.rollback(s, discard=True)
1
>>> m[b"user:1"]
b'alice'

The package is a typed layer over liblqft's C ABI (``include/lqft.h``), loaded with cffi.
"""

from . import _errors
from ._errors import *  # noqa: F403 (the exception classes, listed in _errors.__all__)
from ._files import Validity, generate_keypair, inspect_file
from ._iter import Change, ChangeKind, Changes, Entries
from ._map import Batch, CompactReport, Map, ReadSession
from ._native import ffi as _ffi
from ._native import lib as _lib
from ._snapshot import Snapshot, SnapshotMeta
from ._store import BackupReport, Durability, Store
from ._txn import Transaction, View

#: Longest key accepted, in bytes.
MAX_KEY_LEN: int = _lib.LQFT_MAX_KEY_LEN
#: Longest value accepted, in bytes.
MAX_VALUE_LEN: int = _lib.LQFT_MAX_VALUE_LEN
#: Most shards a map may have (``Map(shards=...)``).
MAX_SHARDS: int = _lib.LQFT_MAX_SHARDS
#: Length of a Merkle root hash, in bytes.
HASH_LEN: int = _lib.LQFT_HASH_LEN
#: The version of the liblqft library loaded (``"MAJOR.MINOR.PATCH"``).
LIBRARY_VERSION: str = _ffi.string(_lib.lqft_version()).decode("ascii")
__version__ = LIBRARY_VERSION

__all__ = [
    "Map",
    "Store",
    "BackupReport",
    "Durability",
    "Snapshot",
    "SnapshotMeta",
    "Batch",
    "Transaction",
    "View",
    "Validity",
    "ReadSession",
    "CompactReport",
    "Entries",
    "Change",
    "ChangeKind",
    "Changes",
    "inspect_file",
    "generate_keypair",
    "MAX_KEY_LEN",
    "MAX_VALUE_LEN",
    "MAX_SHARDS",
    "HASH_LEN",
    "LIBRARY_VERSION",
]
__all__ += _errors.__all__
