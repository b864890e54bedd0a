//! Concurrency: how reads scale with threads, what the read path costs writers, and lqft's
//! concurrent reads against `RwLock<HashMap>` and `dashmap`, side by side in one run.
//! `RwLock<Tree>` is lqft's tree behind one reader-writer lock, the design `Map` replaced: the
//! same lookups, with a lock word that every reader writes. `update` compares a bare put with a
//! transaction of one get and one put and with a compare-and-swap. `ShardedMap(16)` rows: gets
//! and puts against `Map`, writer scaling (each writer thread puts its own share of the keys,
//! which route to every shard) beside `dashmap`'s inserts of the same shares and beside
//! `ShardedMap(16), own shards` (each writer puts only keys of shards no other writer touches:
//! what sharding gives when no cache line of a shard moves between cores), and a snapshot of
//! all 16 shards after each put against `Map`'s. `lqft::Map, one per thread` reads a map of
//! each thread's own: nothing shared, so its scaling is the machine's own at that moment (on a
//! VM whose two vCPUs may share a physical core, well under 2 for work that stays in cache).
//!
//! `cargo bench --bench concurrency` runs N = 1M keys with 5 interleaved repetitions at 1 and 2
//! threads; `-- --threads 8` picks the larger thread count (for bigger machines); `-- --n 100000`
//! picks N; `-- --reps 7`; `-- --smoke` runs a tiny N once (for CI).
//!
//! Every figure is the median over repetitions (spread = max/min). A read workload reports the
//! wall time per operation of all threads together (aggregate) and the scaling: aggregate
//! throughput at T threads ÷ throughput at 1 thread (T = 2: 2.0 is perfect). Ratios vs an
//! anchor are lqft ÷ anchor at the same thread count. On a machine whose cores are busy with
//! other work, the T-thread figures are noise: run it on a quiet machine.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Barrier, RwLock};
use std::time::Instant;

use lqft::{Map, ShardedMap, Tree};

#[path = "support/rng.rs"]
mod rng;

use rng::xorshift;

/// `n` random 16-byte keys.
fn keys(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            let mut k = xorshift(&mut s).to_le_bytes().to_vec();
            k.extend_from_slice(&xorshift(&mut s).to_le_bytes());
            k
        })
        .collect()
}

fn value(i: usize) -> Vec<u8> {
    let mut v = vec![0u8; 100];
    v[..8].copy_from_slice(&(i as u64).to_le_bytes());
    v
}

/// A map that threads read at once.
trait Reader: Sync {
    const NAME: &'static str;
    fn build(keys: &[Vec<u8>]) -> Self;
    fn hit(&self, key: &[u8]) -> bool;
}

impl Reader for Map {
    const NAME: &'static str = "lqft::Map";
    fn build(keys: &[Vec<u8>]) -> Self {
        let map = Map::new();
        for (i, k) in keys.iter().enumerate() {
            map.put(k, &value(i)).unwrap();
        }
        map
    }
    fn hit(&self, key: &[u8]) -> bool {
        self.get(key).map(|v| black_box(v.len())).is_some()
    }
}

struct Locked(RwLock<HashMap<Vec<u8>, Vec<u8>>>);

impl Reader for Locked {
    const NAME: &'static str = "RwLock<HashMap>";
    fn build(keys: &[Vec<u8>]) -> Self {
        let map = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), value(i)))
            .collect();
        Locked(RwLock::new(map))
    }
    fn hit(&self, key: &[u8]) -> bool {
        // Copies the value out, as `Map::get` does for values this small.
        let map = self.0.read().unwrap();
        map.get(key).map(|v| black_box(v.clone())).is_some()
    }
}

/// The tree behind one lock word that every reader writes (how `Map` read before issue 17):
/// the baseline `Map`'s lock-free reads of a published copy are measured against.
struct OneLock(parking_lot::RwLock<Tree>);

impl Reader for OneLock {
    const NAME: &'static str = "RwLock<Tree>";
    fn build(keys: &[Vec<u8>]) -> Self {
        let mut tree = Tree::new();
        for (i, k) in keys.iter().enumerate() {
            tree.insert(k, &value(i)).unwrap();
        }
        OneLock(parking_lot::RwLock::new(tree))
    }
    fn hit(&self, key: &[u8]) -> bool {
        let tree = self.0.read();
        tree.get(key).map(|v| black_box(v.len())).is_some()
    }
}

impl Reader for ShardedMap {
    const NAME: &'static str = "ShardedMap(16)";
    fn build(keys: &[Vec<u8>]) -> Self {
        let map = ShardedMap::new(16);
        for (i, k) in keys.iter().enumerate() {
            map.put(k, &value(i)).unwrap();
        }
        map
    }
    fn hit(&self, key: &[u8]) -> bool {
        self.get(key).map(|v| black_box(v.len())).is_some()
    }
}

struct Dash(dashmap::DashMap<Vec<u8>, Vec<u8>>);

impl Reader for Dash {
    const NAME: &'static str = "dashmap";
    fn build(keys: &[Vec<u8>]) -> Self {
        let map = dashmap::DashMap::new();
        for (i, k) in keys.iter().enumerate() {
            map.insert(k.clone(), value(i));
        }
        Dash(map)
    }
    fn hit(&self, key: &[u8]) -> bool {
        self.0.get(key).map(|v| black_box(v.clone())).is_some()
    }
}

/// Wall-clock nanoseconds per operation of `threads` threads that each look up `ops` keys of
/// `order` (indices into `keys`), starting at different offsets, all released at once: from the
/// first thread's start to the last thread's end. Thread `t` reads `maps[t % maps.len()]`.
fn read_run<R: Reader>(
    maps: &[&R],
    keys: &[Vec<u8>],
    order: &[u32],
    ops: usize,
    threads: usize,
) -> f64 {
    let barrier = Barrier::new(threads);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, map) = (&barrier, maps[t % maps.len()]);
                scope.spawn(move || {
                    let offset = t * order.len() / threads;
                    barrier.wait();
                    let start = Instant::now();
                    let mut hits = 0usize;
                    for i in 0..ops {
                        let key = &keys[order[(offset + i) % order.len()] as usize];
                        hits += usize::from(map.hit(key));
                    }
                    assert_eq!(hits, ops);
                    (start, Instant::now())
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let start = spans.iter().map(|s| s.0).min().unwrap();
    let end = spans.iter().map(|s| s.1).max().unwrap();
    (end - start).as_nanos() as f64 / (ops * threads) as f64
}

/// Samples per row: (workload, contender) -> nanoseconds per operation.
#[derive(Default)]
struct Results {
    rows: Vec<(String, String, Vec<f64>)>,
}

impl Results {
    fn add(&mut self, workload: &str, who: &str, ns: f64) {
        match self.rows.iter_mut().find(|r| r.0 == workload && r.1 == who) {
            Some(row) => row.2.push(ns),
            None => self.rows.push((workload.into(), who.into(), vec![ns])),
        }
    }
    fn samples(&self, workload: &str, who: &str) -> Vec<f64> {
        let row = self.rows.iter().find(|r| r.0 == workload && r.1 == who);
        let mut v = row.map_or_else(Vec::new, |r| r.2.clone());
        v.sort_by(f64::total_cmp);
        v
    }
    fn median(&self, workload: &str, who: &str) -> f64 {
        let v = self.samples(workload, who);
        v[v.len() / 2]
    }
    fn spread(&self, workload: &str, who: &str) -> f64 {
        let v = self.samples(workload, who);
        v[v.len() - 1] / v[0]
    }
}

/// One repetition of the read workloads of contender `R` at 1 and `threads` threads.
fn reads<R: Reader>(
    keys: &[Vec<u8>],
    hot: &[u32],
    random: &[u32],
    ops: usize,
    threads: usize,
    r: &mut Results,
) {
    let map = R::build(keys);
    read_sets(&[&map], R::NAME, keys, hot, random, ops, threads, r);
}

/// The hot-key and random-key reads of `maps` at 1 and `threads` threads, recorded as `who`.
#[allow(clippy::too_many_arguments)]
fn read_sets<R: Reader>(
    maps: &[&R],
    who: &str,
    keys: &[Vec<u8>],
    hot: &[u32],
    random: &[u32],
    ops: usize,
    threads: usize,
    r: &mut Results,
) {
    for (set, order) in [("hot keys", hot), ("random keys", random)] {
        for t in [1, threads] {
            let ns = read_run(&maps[..t.min(maps.len())], keys, order, ops, t);
            r.add(&format!("get, {set}, {t} thread(s)"), who, ns);
        }
    }
}

/// One repetition of the read workloads with a `Map` of its own for each thread: nothing is
/// shared, so the scaling is the machine's own for this work at that moment (the ceiling of
/// every shared contender's).
fn private_reads(
    keys: &[Vec<u8>],
    hot: &[u32],
    random: &[u32],
    ops: usize,
    threads: usize,
    r: &mut Results,
) {
    let maps: Vec<Map> = (0..threads).map(|_| Map::build(keys)).collect();
    let maps: Vec<&Map> = maps.iter().collect();
    read_sets(&maps, PRIVATE, keys, hot, random, ops, threads, r);
}

/// One repetition of single-thread puts of every key into an empty map: `Map::put` (writer
/// lock, the live tree's lock and the engine's bookkeeping) against a
/// `parking_lot::RwLock<Tree>` (one lock word), so the difference is what the engine and its
/// scalable read path cost a writer.
fn puts(keys: &[Vec<u8>], r: &mut Results) {
    let values: Vec<Vec<u8>> = (0..keys.len()).map(value).collect();
    let map = Map::new();
    let start = Instant::now();
    for (k, v) in keys.iter().zip(&values) {
        map.put(k, v).unwrap();
    }
    r.add("put, 1 thread", "lqft::Map", per_op(start, keys.len()));
    let tree = parking_lot::RwLock::new(Tree::new());
    let start = Instant::now();
    for (k, v) in keys.iter().zip(&values) {
        tree.write().insert(k, v).unwrap();
    }
    r.add("put, 1 thread", "RwLock<Tree>", per_op(start, keys.len()));
    black_box((map, tree));
}

/// One repetition of single-thread updates of existing keys in random order: a bare put, a
/// transaction of one get and one put, and a compare-and-swap of the value just read.
fn updates(keys: &[Vec<u8>], order: &[u32], r: &mut Results) {
    let map = Map::build(keys);
    let value = value(7);
    let start = Instant::now();
    for &i in order {
        map.put(&keys[i as usize], &value).unwrap();
    }
    r.add("update, 1 thread", "lqft::Map", per_op(start, order.len()));
    let start = Instant::now();
    for &i in order {
        let mut txn = map.begin();
        let key = &keys[i as usize];
        black_box(txn.get(key));
        txn.put(key, &value).unwrap();
        txn.commit().unwrap();
    }
    r.add(
        "update, 1 thread",
        "Txn: get + put",
        per_op(start, order.len()),
    );
    let start = Instant::now();
    for &i in order {
        let key = &keys[i as usize];
        let old = map.get(key);
        assert!(
            map.compare_and_swap(key, old.as_deref(), Some(&value))
                .unwrap()
        );
    }
    r.add(
        "update, 1 thread",
        "get + compare_and_swap",
        per_op(start, order.len()),
    );
}

/// Wall-clock nanoseconds per put of every key of `parts` into an empty map, one thread per
/// part, all released at once.
fn put_run(put: &(dyn Fn(&[u8], &[u8]) + Sync), parts: &[Vec<&[u8]>]) -> f64 {
    let barrier = Barrier::new(parts.len());
    let value = value(3);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
        let workers: Vec<_> = parts
            .iter()
            .map(|share| {
                let (barrier, value) = (&barrier, &value);
                scope.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for k in share {
                        put(k, value);
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let start = spans.iter().map(|s| s.0).min().unwrap();
    let end = spans.iter().map(|s| s.1).max().unwrap();
    let puts: usize = parts.iter().map(Vec::len).sum();
    (end - start).as_nanos() as f64 / puts as f64
}

/// `keys` split into `threads` parts: consecutive shares, or (`own_shards`) by the shard of 16
/// a key routes to, thread `t` taking the shards `s` with `s % threads == t`, so that no two
/// threads write the same shard.
fn split(keys: &[Vec<u8>], threads: usize, own_shards: bool) -> Vec<Vec<&[u8]>> {
    if own_shards {
        (0..threads)
            .map(|t| {
                let mine = |k: &&Vec<u8>| lqft::engine::shard_of(k, 16) % threads == t;
                keys.iter().filter(mine).map(Vec::as_slice).collect()
            })
            .collect()
    } else {
        keys.chunks(keys.len().div_ceil(threads))
            .map(|share| share.iter().map(Vec::as_slice).collect())
            .collect()
    }
}

/// One repetition of parallel puts into a `ShardedMap` of 16 shards (writers sharing every
/// shard, and writers on shards of their own), a `Map` and a `DashMap` at 1 and `threads`
/// threads, and of snapshots of each lqft map after one put.
fn writes(keys: &[Vec<u8>], threads: usize, r: &mut Results) {
    for t in [1, threads] {
        let parts = split(keys, t, false);
        let sharded = ShardedMap::new(16);
        let ns = put_run(&|k, v| sharded.put(k, v).unwrap(), &parts);
        r.add(&format!("put, {t} writer thread(s)"), "ShardedMap(16)", ns);
        let own = ShardedMap::new(16);
        let ns = put_run(&|k, v| own.put(k, v).unwrap(), &split(keys, t, true));
        r.add(&format!("put, {t} writer thread(s)"), OWN_SHARDS, ns);
        drop(own);
        let dash = dashmap::DashMap::new();
        let ns = put_run(&|k, v| drop(dash.insert(k.to_vec(), v.to_vec())), &parts);
        r.add(&format!("put, {t} writer thread(s)"), "dashmap", ns);
        drop(dash);
        let map = Map::new();
        let ns = put_run(&|k, v| map.put(k, v).unwrap(), &parts);
        r.add(&format!("put, {t} writer thread(s)"), "lqft::Map", ns);
        if t == 1 {
            let rounds = keys.len().min(10_000);
            let (both, alone) = put_snapshots(keys, rounds, |k| {
                sharded.put(k, b"snapshot").unwrap();
                let start = Instant::now();
                black_box(sharded.snapshot());
                start.elapsed()
            });
            r.add("put + snapshot", "ShardedMap(16)", both);
            r.add("snapshot after one put", "ShardedMap(16)", alone);
            let (both, alone) = put_snapshots(keys, rounds, |k| {
                map.put(k, b"snapshot").unwrap();
                let start = Instant::now();
                black_box(map.snapshot());
                start.elapsed()
            });
            r.add("put + snapshot", "lqft::Map", both);
            r.add("snapshot after one put", "lqft::Map", alone);
        }
    }
}

/// Nanoseconds per round of `round` (a put and a snapshot) over the first `rounds` keys, and
/// per snapshot alone (the time each round reports).
fn put_snapshots(
    keys: &[Vec<u8>],
    rounds: usize,
    mut round: impl FnMut(&[u8]) -> std::time::Duration,
) -> (f64, f64) {
    let start = Instant::now();
    let snapshots: std::time::Duration = keys[..rounds].iter().map(|k| round(k)).sum();
    let both = per_op(start, rounds);
    (both, snapshots.as_nanos() as f64 / rounds as f64)
}

/// The contender whose threads each read a `Map` of their own.
const PRIVATE: &str = "lqft::Map, one per thread";

/// The contender of writers that each put only keys of shards no other writer puts to.
const OWN_SHARDS: &str = "ShardedMap(16), own shards";

fn per_op(start: Instant, ops: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / ops as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let n = match (smoke, value_of("--n")) {
        (true, _) => 2_000,
        (false, Some(n)) => n,
        (false, None) => 1_000_000,
    };
    let reps = if smoke {
        1
    } else {
        value_of("--reps").unwrap_or(5)
    };
    let threads = value_of("--threads").unwrap_or(2).max(1);
    let ops = if smoke { 20_000 } else { 2_000_000 };
    println!(
        "command: cargo bench --bench concurrency -- {}",
        args[1..]
            .iter()
            .filter(|a| *a != "--bench")
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    );
    let keys = keys(n, 0x9e37_79b9_7f4a_7c15);
    // 16 hot keys, and every key once in a random order.
    let hot: Vec<u32> = (0..16.min(n) as u32).collect();
    let mut random: Vec<u32> = (0..n as u32).collect();
    let mut s = 42;
    for i in (1..random.len()).rev() {
        random.swap(i, (xorshift(&mut s) % (i as u64 + 1)) as usize);
    }
    let mut r = Results::default();
    for rep in 0..reps {
        eprintln!("repetition {} of {reps}", rep + 1);
        reads::<Map>(&keys, &hot, &random, ops, threads, &mut r);
        reads::<OneLock>(&keys, &hot, &random, ops, threads, &mut r);
        reads::<Locked>(&keys, &hot, &random, ops, threads, &mut r);
        reads::<Dash>(&keys, &hot, &random, ops, threads, &mut r);
        reads::<ShardedMap>(&keys, &hot, &random, ops, threads, &mut r);
        private_reads(&keys, &hot, &random, ops, threads, &mut r);
        writes(&keys, threads, &mut r);
        puts(&keys, &mut r);
        updates(&keys, &random, &mut r);
    }
    report(n, reps, threads, &r);
}

fn report(n: usize, reps: usize, threads: usize, r: &Results) {
    println!("\nN = {n}, {reps} repetition(s), 1 and {threads} threads; median ns/op (spread)\n");
    println!("| workload | contender | ns/op | spread | lqft ÷ contender |");
    println!("|---|---|---|---|---|");
    for (workload, who, _) in &r.rows {
        let ours = r.median(workload, "lqft::Map");
        let ns = r.median(workload, who);
        let vs = if who == "lqft::Map" {
            String::new()
        } else {
            format!("{:.3}", ours / ns)
        };
        let spread = r.spread(workload, who);
        println!("| {workload} | {who} | {ns:.1} | {spread:.2} | {vs} |");
    }
    println!("\nscaling: aggregate throughput at {threads} threads ÷ at 1 thread\n");
    println!("| workload | contender | scaling |");
    println!("|---|---|---|");
    for set in ["hot keys", "random keys"] {
        for who in [
            "lqft::Map",
            "RwLock<Tree>",
            "RwLock<HashMap>",
            "dashmap",
            "ShardedMap(16)",
            PRIVATE,
        ] {
            let one = r.median(&format!("get, {set}, 1 thread(s)"), who);
            let many = r.median(&format!("get, {set}, {threads} thread(s)"), who);
            println!("| get, {set} | {who} | {:.2} |", one / many);
        }
    }
    for who in ["ShardedMap(16)", OWN_SHARDS, "dashmap", "lqft::Map"] {
        let one = r.median("put, 1 writer thread(s)", who);
        let many = r.median(&format!("put, {threads} writer thread(s)"), who);
        println!("| put | {who} | {:.2} |", one / many);
    }
    targets(threads, r);
}

/// Issue 17's targets, each computed from this run's medians: (what, measured, at least or
/// at most, bound).
fn targets(threads: usize, r: &Results) {
    let scaling = |one: &str, many: &str, who: &str| r.median(one, who) / r.median(many, who);
    let ratio = |workload: &str, a: &str, b: &str| r.median(workload, a) / r.median(workload, b);
    let (map, sharded) = ("lqft::Map", "ShardedMap(16)");
    let get = |set: &str, t: usize| format!("get, {set}, {t} thread(s)");
    let put = |t: usize| format!("put, {t} writer thread(s)");
    let rows: [(String, f64, bool, f64); 9] = [
        (
            format!("`Map::get` hot keys, {threads} threads ÷ 1 thread, aggregate throughput"),
            scaling(&get("hot keys", 1), &get("hot keys", threads), map),
            true,
            1.8,
        ),
        (
            format!("`Map::get` random keys, {threads} threads ÷ 1 thread, aggregate throughput"),
            scaling(&get("random keys", 1), &get("random keys", threads), map),
            true,
            1.8,
        ),
        (
            format!("`ShardedMap(16)` puts, {threads} writers ÷ 1 writer, aggregate throughput"),
            scaling(&put(1), &put(threads), sharded),
            true,
            1.7,
        ),
        (
            "`ShardedMap(16)` ÷ `Map`, get on hot keys, 1 thread (time)".into(),
            ratio(&get("hot keys", 1), sharded, map),
            false,
            1.15,
        ),
        (
            "`ShardedMap(16)` ÷ `Map`, get on random keys, 1 thread (time)".into(),
            ratio(&get("random keys", 1), sharded, map),
            false,
            1.15,
        ),
        (
            "`ShardedMap(16)` ÷ `Map`, put, 1 thread (time)".into(),
            ratio(&put(1), sharded, map),
            false,
            1.15,
        ),
        (
            "transaction of 1 get + 1 put ÷ bare put (time)".into(),
            ratio("update, 1 thread", "Txn: get + put", map),
            false,
            1.5,
        ),
        (
            "snapshot of `ShardedMap(16)` after one put, ns".into(),
            r.median("snapshot after one put", sharded),
            false,
            2000.0,
        ),
        (
            format!("`Map` ÷ `RwLock<HashMap>`, get on hot keys, {threads} threads (time)"),
            ratio(&get("hot keys", threads), map, "RwLock<HashMap>"),
            false,
            1.0,
        ),
    ];
    println!("\ntargets (issue 17), from this run's medians\n");
    println!("| target | measured | goal | met |");
    println!("|---|---|---|---|");
    for (what, value, at_least, bound) in rows {
        let (goal, met) = if at_least {
            (format!("≥ {bound}"), value >= bound)
        } else {
            (format!("≤ {bound}"), value <= bound)
        };
        println!(
            "| {what} | {value:.2} | {goal} | {} |",
            if met { "yes" } else { "no" }
        );
    }
}
