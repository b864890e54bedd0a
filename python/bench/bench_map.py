"""Benchmarks of the Python package against its anchors, measured side by side in one run.

    python python/bench/bench_map.py [--n 100000] [--reps 5]

Workloads (16-byte random keys, 100-byte values): get and put per call against py-lmdb (an
environment on tmpfs, one transaction per call, sync off) and dict; insert keeping a snapshot
after every op against immutables.Map (set, keeping the old map); iteration per entry against
dict and sorted(dict.items()). Repetitions are interleaved (every contender once per round) and
the table shows the median with the spread (min-max) and the ratio ours / anchor of medians.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from typing import Callable

import lqft

try:
    import immutables
    import lmdb
except ImportError:  # pragma: no cover
    sys.exit("pip install lmdb immutables (or: pip install './python[bench]')")


def timed(fn: Callable[[], int]) -> float:
    """Seconds per operation of one run of ``fn``, which returns its operation count."""
    t0 = time.perf_counter()
    ops = fn()
    return (time.perf_counter() - t0) / ops


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    n = args.n
    rng = random.Random(42)
    keys = [rng.randbytes(16) for _ in range(n)]
    values = [rng.randbytes(100) for _ in range(n)]
    probe = keys[:]
    rng.shuffle(probe)

    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    tmp = tempfile.mkdtemp(dir=shm)
    env = lmdb.open(tmp, map_size=1 << 32, sync=False, metasync=False, writemap=True)

    m = lqft.Map()
    d: dict[bytes, bytes] = {}

    def lqft_put() -> int:
        for k, v in zip(keys, values):
            m[k] = v
        return n

    def lmdb_put() -> int:
        for k, v in zip(keys, values):
            with env.begin(write=True) as txn:
                txn.put(k, v)
        return n

    def dict_put() -> int:
        for k, v in zip(keys, values):
            d[k] = v
        return n

    def lqft_get() -> int:
        get = m.get
        for k in probe:
            get(k)
        return n

    def lmdb_get() -> int:
        for k in probe:
            with env.begin() as txn:
                txn.get(k)
        return n

    def dict_get() -> int:
        get = d.get
        for k in probe:
            get(k)
        return n

    def lqft_snap_insert() -> int:
        fresh = lqft.Map()
        kept = []
        for k, v in zip(keys, values):
            fresh[k] = v
            kept.append(fresh.snapshot())
        return n

    def immutables_insert() -> int:
        im = immutables.Map()
        kept = []
        for k, v in zip(keys, values):
            im = im.set(k, v)
            kept.append(im)
        return n

    def lqft_iter() -> int:
        count = 0
        for _ in m.items():
            count += 1
        return count

    def dict_iter() -> int:
        count = 0
        for _ in d.items():
            count += 1
        return count

    def sorted_iter() -> int:
        count = 0
        for _ in sorted(d.items()):
            count += 1
        return count

    rows: list[tuple[str, list[tuple[str, Callable[[], int]]]]] = [
        ("put per call", [("lqft.Map", lqft_put), ("py-lmdb", lmdb_put), ("dict", dict_put)]),
        ("get per call (hit)", [("lqft.Map", lqft_get), ("py-lmdb", lmdb_get), ("dict", dict_get)]),
        ("insert + snapshot kept per op", [("lqft.Map", lqft_snap_insert), ("immutables.Map", immutables_insert)]),
        ("iteration per entry", [("lqft.Map", lqft_iter), ("dict", dict_iter), ("sorted(dict.items())", sorted_iter)]),
    ]
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.reps):
        for workload, contenders in rows:
            for name, fn in contenders:
                times.setdefault((workload, name), []).append(timed(fn))

    print(f"command: python python/bench/bench_map.py --n {n} --reps {args.reps}")
    print(f"python {sys.version.split()[0]}, lqft {lqft.LIBRARY_VERSION}, lmdb {lmdb.__version__}, "
          f"immutables {immutables.__version__}")
    print()
    print("| workload | contender | median ns/op | spread (min-max) | lqft / contender |")
    print("|---|---|---|---|---|")
    for workload, contenders in rows:
        ours = statistics.median(times[(workload, contenders[0][0])])
        for name, _ in contenders:
            t = times[(workload, name)]
            med = statistics.median(t)
            ratio = "—" if name == contenders[0][0] else f"{ours / med:.2f}"
            print(f"| {workload} | {name} | {med * 1e9:.0f} | {min(t) * 1e9:.0f}-{max(t) * 1e9:.0f} | {ratio} |")
    env.close()
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
