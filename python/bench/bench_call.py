"""What one call costs from Python: the cffi ABI-mode calls the package makes (through libffi)
against calls of C extension functions, and what a `Map.get` adds on top, in one run.

    python python/bench/bench_call.py [--n 200000] [--reps 7]

Every row calls the same thing `n` times in a loop with the function in a local; the table
shows the minimum and the median over `reps` runs in ns per call, the empty loop included
(its own row). The map holds one key, so the engine's part is a hot lookup: the rows measure
the boundary, not the tree. With LQFT 1.2.2 installed (python/bench/run.sh builds it), its
`search_key` on an empty table is the C-extension call the LQFT comparison runs against.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
import zlib
from typing import Callable

import lqft
from lqft._native import ffi, lib


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    n = args.n

    m = lqft.Map()
    key = b"k" * 16
    m[key] = b"v" * 100
    h = m._h
    count = ffi.new("uint64_t *")
    flag = ffi.new("bool *")
    data = ffi.new("uint8_t[]", 4096)
    size = ffi.new("size_t *")
    buf = ffi.new("lqft_value_buf *", [ffi.sizeof("lqft_value_buf"), data, 4096, 0])
    out = ffi.new("lqft_reader **")
    assert lib.lqft_map_reader(h, buf, out) == lib.LQFT_OK
    reader = ffi.gc(out[0], lib.lqft_reader_free)

    def empty() -> None:
        for _ in range(n):
            pass

    def cext_crc32() -> None:
        f, b = zlib.crc32, b""
        for _ in range(n):
            f(b)

    def cffi_free_null() -> None:
        f, null = lib.lqft_iter_free, ffi.NULL
        for _ in range(n):
            f(null)

    def cffi_len() -> None:
        f = lib.lqft_map_len
        for _ in range(n):
            f(h, count)

    def cffi_contains() -> None:
        f = lib.lqft_map_contains
        for _ in range(n):
            f(h, key, 16, flag)

    def cffi_get_buf() -> None:
        f = lib.lqft_map_get_buf
        for _ in range(n):
            f(h, key, 16, buf)

    def cffi_get_into() -> None:
        f = lib.lqft_map_get_into
        for _ in range(n):
            f(h, key, 16, data, 4096, size)

    def cffi_reader_get() -> None:
        f = lib.lqft_reader_get
        for _ in range(n):
            f(reader, key, 16)

    def cffi_reader_contains() -> None:
        f = lib.lqft_reader_contains
        for _ in range(n):
            f(reader, key, 16)

    def map_get() -> None:
        get = m.get
        for _ in range(n):
            get(key)

    def map_getitem() -> None:
        for _ in range(n):
            m[key]

    def map_contains() -> None:
        for _ in range(n):
            key in m

    rows: list[tuple[str, Callable[[], None]]] = [
        ("empty loop", empty),
        ("C extension: zlib.crc32(b'') (1 argument)", cext_crc32),
    ]
    spec = importlib.util.find_spec("lqft_c_engine")
    if spec is not None and spec.loader is not None:
        native = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(native)
        native.free_all()
        search = native.search_key

        def cext_search() -> None:
            f = search
            for _ in range(n):
                f("absent-key")

        rows.append(("C extension: LQFT 1.2.2 search_key, empty table (1 argument)", cext_search))
    rows += [
        ("cffi ABI: lqft_iter_free(NULL) (1 argument, no work)", cffi_free_null),
        ("cffi ABI: lqft_map_len (2 arguments)", cffi_len),
        ("cffi ABI: lqft_map_contains, hot key (4 arguments)", cffi_contains),
        ("cffi ABI: lqft_map_get_buf, hot key (4 arguments)", cffi_get_buf),
        ("cffi ABI: lqft_map_get_into, hot key (6 arguments)", cffi_get_into),
        ("cffi ABI: lqft_reader_get, hot key (3 arguments, length returned)", cffi_reader_get),
        ("cffi ABI: lqft_reader_contains, hot key (3 arguments)", cffi_reader_contains),
        ("Map.get, hot key", map_get),
        ("Map[key], hot key", map_getitem),
        ("key in Map, hot key", map_contains),
    ]
    times: dict[str, list[float]] = {}
    for _ in range(args.reps):
        for name, fn in rows:
            t0 = time.perf_counter()
            fn()
            times.setdefault(name, []).append((time.perf_counter() - t0) / n)

    print(f"command: python python/bench/bench_call.py --n {n} --reps {args.reps}")
    print(f"python {sys.version.split()[0]}, lqft {lqft.LIBRARY_VERSION}")
    print()
    print("| call | min ns | median ns |")
    print("|---|---|---|")
    for name, _ in rows:
        t = times[name]
        print(f"| {name} | {min(t) * 1e9:.0f} | {statistics.median(t) * 1e9:.0f} |")


if __name__ == "__main__":
    main()
