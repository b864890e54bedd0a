"""LQFT 1.2.2, working: an opt-in backend for LQFT's own, unmodified Python wrapper.

The published ``lqft-python-engine`` 1.2.2 ships a wrapper (``lqft_engine``) whose snapshot
features need a stateful native module that was never published, so ``snapshot()``,
``rollback``, ``diff``, snapshot files, bundles, checkpoints and read sessions all raise
``RuntimeError``. :func:`install` registers a module under the name the wrapper imports
(``lqft_c_engine``) that provides exactly that missing backend, implemented on liblqft::

    import lqft.lqft122
    lqft.lqft122.install()          # before the first `import lqft_engine`
    import lqft_engine              # LQFT's wrapper, unchanged

    m = lqft_engine.LQFTMap()
    m.put("k", "v")
    s = m.snapshot()                # works

What is liblqft's and what is still LQFT's:

- **liblqft's**: the engine of every persistent state (the committed roots of snapshots):
  put, get, delete, export, O(1) cloning with structure shared between versions, and the
  O(changes) diff. Keys are stored in full (no hash aliasing) and values keep embedded NULs.
- **still LQFT's own Python, with the defects listed in the LQFT 1.2.2 reference**: the
  mutable head (a dict plus tombstones), the snapshot registry's policy, ``len``, the
  snapshot and bundle files (JSON envelopes), the write-ahead log (no checksums, quadratic
  growth, poison records), the storage engines and manifests, the signature and trust policy
  (unsigned raw payloads accepted, unauthenticated validity), sharding by SHA-256 without a
  cross-shard cut, the auto-purge "circuit breaker", ``rollback`` silently discarding
  uncommitted writes, and ``str``-only keys and values. The backend changes none of that;
  for those properties use :mod:`lqft` itself (see the migration table in
  ``python/README.md``).

LQFT's process-global native functions (``insert``, ``search``, ``bulk_*``,
``NativeMutableLQFT``...) are not provided: the wrapper does not use them.
"""

from __future__ import annotations

import sys
import types

from . import _lqft122_engine

__all__ = ["install", "uninstall", "MODULE_NAME"]

#: The module name LQFT's wrapper imports its native backend under.
MODULE_NAME = "lqft_c_engine"


def _module() -> types.ModuleType:
    module = types.ModuleType(
        MODULE_NAME, "liblqft's implementation of LQFT 1.2.2's stateful native backend"
    )
    for name in _lqft122_engine.__all__:
        setattr(module, name, getattr(_lqft122_engine, name))
    module.__dict__["__lqft_backend__"] = "liblqft"
    return module


def install() -> types.ModuleType:
    """Registers liblqft's backend as ``lqft_c_engine`` in ``sys.modules`` (idempotent) and
    returns it. Call it before ``import lqft_engine``.

    Raises ``RuntimeError`` when another ``lqft_c_engine`` (LQFT's own C extension) is already
    imported: a wrapper imported before the call has bound that module, so installing now
    would leave it half on each engine.
    """
    current = sys.modules.get(MODULE_NAME)
    if current is not None:
        if getattr(current, "__lqft_backend__", None) == "liblqft":
            return current
        raise RuntimeError(
            f"{MODULE_NAME} is already imported ({getattr(current, '__file__', current)!r}); "
            "call lqft.lqft122.install() before the first `import lqft_engine`"
        )
    if "lqft_engine" in sys.modules:
        raise RuntimeError(
            "lqft_engine is already imported with another backend; call "
            "lqft.lqft122.install() before the first `import lqft_engine`"
        )
    module = _module()
    sys.modules[MODULE_NAME] = module
    return module


def uninstall() -> None:
    """Removes the backend from ``sys.modules`` (a wrapper imported meanwhile keeps it)."""
    current = sys.modules.get(MODULE_NAME)
    if current is not None and getattr(current, "__lqft_backend__", None) == "liblqft":
        del sys.modules[MODULE_NAME]
