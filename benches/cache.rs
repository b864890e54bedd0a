//! The store's node cache (`StoreOptions::cache_bytes`, `cache_pinned_levels`): random gets
//! from a checkpointed store whose records are larger than the cache, at several cache sizes
//! and pinned depths, against a cache that holds everything.
//!
//! `cargo bench --bench cache` builds a store of N = 200k keys (16-byte random keys, 100-byte
//! values, about 31 MB of node records) in a temporary directory, then for each row reopens
//! it, warms up with N/4 gets and times N gets of random present keys. Each row reports node
//! loads per get, ns per get, trims, and the cache's fill at the end. `-- --n 50000` picks
//! N; `-- --smoke` runs a tiny N (for CI). Reads hit the OS page cache, not the disk.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use lqft::store::log::Durability;
use lqft::store::{Store, StoreOptions};

#[path = "support/rng.rs"]
mod rng;

use rng::xorshift;

fn key(i: u64) -> Vec<u8> {
    let mut s = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    [
        xorshift(&mut s).to_le_bytes(),
        xorshift(&mut s).to_le_bytes(),
    ]
    .concat()
}

fn options(cache_bytes: u64, pinned: usize) -> StoreOptions {
    StoreOptions {
        durability: Durability::None,
        cache_bytes,
        cache_pinned_levels: pinned,
        ..StoreOptions::default()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let n = args
        .iter()
        .position(|a| a == "--n")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(if smoke { 5_000 } else { 200_000 });
    let dir: PathBuf =
        std::env::temp_dir().join(format!("lqft-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let value = vec![7u8; 100];
    {
        let store = Store::open(&dir, options(1 << 40, 2)).unwrap();
        for i in 0..n {
            store.put(&key(i), &value).unwrap();
        }
        store.checkpoint().unwrap();
    }
    let pack_bytes: u64 = std::fs::read_dir(dir.join("packs"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!("store: {n} keys, packs {:.1} MB", pack_bytes as f64 / 1e6);
    println!(
        "{:>12} {:>7} {:>11} {:>9} {:>7} {:>12}",
        "cache", "pinned", "loads/get", "ns/get", "trims", "in use (MB)"
    );
    let sizes: Vec<u64> = if smoke {
        vec![64 << 10]
    } else {
        vec![1 << 20, 4 << 20, 16 << 20]
    };
    let mut rows: Vec<(u64, usize)> = Vec::new();
    for &size in &sizes {
        for pinned in [1, 2, 3] {
            rows.push((size, pinned));
        }
    }
    rows.push((1 << 40, 2));
    for (cache, pinned) in rows {
        let store = Store::open(&dir, options(cache, pinned)).unwrap();
        let mut s = 0x1234_5678u64;
        for _ in 0..n / 4 {
            black_box(store.get(&key(xorshift(&mut s) % n)).unwrap());
        }
        let before = store.counters();
        let start = Instant::now();
        for _ in 0..n {
            let got = store.get(&key(xorshift(&mut s) % n)).unwrap();
            assert!(got.is_some());
        }
        let ns = start.elapsed().as_nanos() as f64 / n as f64;
        let after = store.counters();
        let label = if cache >= 1 << 40 {
            "unbounded".to_string()
        } else {
            format!("{} MiB", cache as f64 / (1 << 20) as f64)
        };
        println!(
            "{label:>12} {pinned:>7} {:>11.2} {ns:>9.0} {:>7} {:>12.1}",
            (after.node_loads - before.node_loads) as f64 / n as f64,
            after.cache_trims - before.cache_trims,
            after.cache_bytes_in_use as f64 / 1e6,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
