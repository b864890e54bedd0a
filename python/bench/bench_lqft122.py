"""liblqft against LQFT 1.2.2 itself, in one run.

    python python/bench/bench_lqft122.py [--n 20000] [--reps 3]

Needs LQFT 1.2.2 installed from its sdist (its C extension `lqft_c_engine` built here; see
python/bench/run.sh). Two parts:

1. Insert and search per call against LQFT's native engine, the part of LQFT that works: its
   module-level functions (`insert_key_value`, `search_key`; batched: `bulk_insert_key_values`,
   `bulk_contains_count`), a process-global C hash trie that stores no keys. Ours: `lqft.Map`
   with the same keys as UTF-8 bytes (per call; batched: one `Map.batch()` for inserts, one
   `Map.get_many` returning every value for searches, where LQFT's bulk call only counts).
2. LQFT's own snapshot-heavy, delete-heavy and rollback workloads through LQFT's unmodified
   wrapper (`lqft_engine.LQFTMap`) on liblqft's backend (`lqft.lqft122`). On LQFT 1.2.2 alone
   they fail (RuntimeError at the first snapshot); here they run, and the table gives ops/s.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from typing import Any, Callable

import lqft
import lqft.lqft122


def native_lqft() -> Any:
    """LQFT's own C extension, loaded under a private name (the wrapper gets liblqft's)."""
    spec = importlib.util.find_spec("lqft_c_engine")
    if spec is None or spec.loader is None:
        sys.exit("LQFT 1.2.2's C extension is not installed (python/bench/run.sh builds it)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Loading an extension registers it under its own name; the wrapper must get liblqft's.
    if sys.modules.get("lqft_c_engine") is module:
        del sys.modules["lqft_c_engine"]
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    n = args.n
    native = native_lqft()
    lqft.lqft122.install()
    import lqft_engine  # noqa: E402  (after install: LQFT's wrapper on liblqft)

    keys = [f"key-{i:012d}-{i * 7919 % 1000003:07d}" for i in range(n)]
    values = [f"value-{i:090d}" for i in range(n)]
    bkeys = [k.encode() for k in keys]
    bvalues = [v.encode() for v in values]

    def ours_insert() -> int:
        m = lqft.Map()
        for k, v in zip(bkeys, bvalues):
            m[k] = v
        state["m"] = m
        return n

    def native_insert() -> int:
        native.free_all()
        ins = native.insert_key_value
        for k, v in zip(keys, values):
            ins(k, v)
        return n

    def ours_search() -> int:
        get = state["m"].get
        for k in bkeys:
            get(k)
        return n

    def native_search() -> int:
        search = native.search_key
        for k in keys:
            search(k)
        return n

    def ours_insert_batched() -> int:
        m = lqft.Map()
        with m.batch() as b:
            put = b.put
            for k, v in zip(bkeys, bvalues):
                put(k, v)
        return n

    def native_insert_batched() -> int:
        native.free_all()
        native.bulk_insert_key_values(keys, values)
        return n

    def ours_search_batched() -> int:
        state["m"].get_many(bkeys)
        return n

    def native_search_batched() -> int:
        native.bulk_insert_key_values(keys, values)
        t0 = time.perf_counter()
        native.bulk_contains_count(keys)
        state["native_bulk_search"] = time.perf_counter() - t0
        return n

    ops = max(1, n // 10)

    def wrapper_snapshot_heavy() -> int:
        m = lqft_engine.LQFTMap()
        for i in range(ops):
            m.put(keys[i], values[i])
            if i % 10 == 9:
                m.snapshot()
        m.shutdown_background_worker()
        return ops

    def wrapper_delete_heavy() -> int:
        m = lqft_engine.LQFTMap()
        for i in range(ops):
            m.put(keys[i], values[i])
        m.snapshot()
        for i in range(0, ops, 2):
            m.delete(keys[i])
        m.snapshot()
        m.shutdown_background_worker()
        return ops + ops // 2

    def wrapper_rollback() -> int:
        m = lqft_engine.LQFTMap()
        base = m.snapshot()
        for i in range(ops):
            m.put(keys[i], values[i])
            if i % 10 == 9:
                m.snapshot()
                m.rollback(base)
        m.shutdown_background_worker()
        return ops

    state: dict[str, Any] = {}
    rows: list[tuple[str, list[tuple[str, Callable[[], int]]]]] = [
        ("insert per call", [("lqft.Map", ours_insert), ("LQFT native", native_insert)]),
        ("search per call (hit)", [("lqft.Map", ours_search), ("LQFT native", native_search)]),
        ("insert batched", [("lqft.Map batch", ours_insert_batched),
                            ("LQFT native bulk", native_insert_batched)]),
    ]
    times: dict[tuple[str, str], list[float]] = {}
    bulk_search: list[float] = []
    ours_bulk_search: list[float] = []
    wrapper: dict[str, list[float]] = {}
    for _ in range(args.reps):
        for workload, contenders in rows:
            for name, fn in contenders:
                t0 = time.perf_counter()
                count = fn()
                times.setdefault((workload, name), []).append((time.perf_counter() - t0) / count)
        native_search_batched()
        bulk_search.append(state["native_bulk_search"] / n)
        t0 = time.perf_counter()
        ours_search_batched()
        ours_bulk_search.append((time.perf_counter() - t0) / n)
        for name, fn in (("snapshot-heavy (put, snapshot every 10)", wrapper_snapshot_heavy),
                         ("delete-heavy (put all, delete half, 2 snapshots)", wrapper_delete_heavy),
                         ("rollback (put, snapshot + rollback every 10)", wrapper_rollback)):
            t0 = time.perf_counter()
            count = fn()
            wrapper.setdefault(name, []).append(count / (time.perf_counter() - t0))

    print(f"command: python python/bench/bench_lqft122.py --n {n} --reps {args.reps}")
    print(f"python {sys.version.split()[0]}, lqft {lqft.LIBRARY_VERSION}, LQFT 1.2.2 sdist")
    print()
    print("| workload | contender | median ns/op | spread (min-max) | lqft throughput / LQFT |")
    print("|---|---|---|---|---|")
    for workload, contenders in rows:
        theirs = statistics.median(times[(workload, contenders[1][0])])
        for name, _ in contenders:
            t = times[(workload, name)]
            med = statistics.median(t)
            ratio = "—" if name == contenders[1][0] else f"{theirs / med:.2f}"
            print(f"| {workload} | {name} | {med * 1e9:.0f} | {min(t) * 1e9:.0f}-{max(t) * 1e9:.0f} | {ratio} |")
    ours = statistics.median(ours_bulk_search)
    theirs = statistics.median(bulk_search)
    for name, t in (("lqft.Map get_many", ours_bulk_search),
                    ("LQFT native bulk_contains_count", bulk_search)):
        med = statistics.median(t)
        ratio = "—" if t is bulk_search else f"{theirs / ours:.2f}"
        print(f"| search batched | {name} | {med * 1e9:.0f} | "
              f"{min(t) * 1e9:.0f}-{max(t) * 1e9:.0f} | {ratio} |")
    print()
    print(f"LQFT's wrapper (lqft_engine.LQFTMap) on lqft.lqft122, {ops} operations per run:")
    print()
    print("| workload | median ops/s | spread (min-max) |")
    print("|---|---|---|")
    for name, rates in wrapper.items():
        print(f"| {name} | {statistics.median(rates):.0f} | {min(rates):.0f}-{max(rates):.0f} |")


if __name__ == "__main__":
    main()
