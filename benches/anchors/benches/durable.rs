//! Durable workloads side by side on the same data and the same disk.
//!
//! `cargo bench --manifest-path benches/anchors/Cargo.toml --bench durable` runs N = 1M with 3
//! interleaved repetitions (each repetition visits the engines in a rotated order); `-- --smoke`
//! runs a tiny N once; `-- --n 100000` and `-- --reps 5` choose; `-- --dir PATH` puts the
//! databases somewhere else (default `target/durable-bench`, on the repository's disk).
//! Data: 16-byte random keys, 100-byte values; gets read every key once in a random order
//! unrelated to the load order. Every figure is the median over repetitions, with the spread
//! (max ÷ min) beside it.
//!
//! After the side-by-side table come the ratios of lqft to the anchors that the store's targets
//! name, and figures only lqft has: `fdatasync`s per single commit (counted by the store),
//! WAL replay after the writer process exits without closing (a child process fills a WAL tail
//! of `--wal-mib` MiB, default 64, syncs it and exits at once, as after kill -9), the open of a
//! store of `--big-n` keys (default 10M; 0 skips it) after a clean close, and the bytes on disk
//! each retained version with one changed value adds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lqft::store::{Durability, Store, StoreOptions};
use lqft::{Batch, Map};
use lqft_anchors::{Engine, Lmdb, Lqft, Redb, Sqlite, disk_bytes};

struct Options {
    n: usize,
    reps: usize,
    commits: usize,
    batches: usize,
    group_for: Duration,
    threads: Vec<usize>,
    dir: PathBuf,
    wal_mib: u64,
    big_n: usize,
    versions: usize,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            n: 1_000_000,
            reps: 3,
            commits: 1_000,
            batches: 20,
            group_for: Duration::from_secs(2),
            threads: vec![16, 64],
            dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/durable-bench"),
            wal_mib: 64,
            big_n: 10_000_000,
            versions: 1_000,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
            match arg.as_str() {
                "--smoke" => {
                    options.n = 2_000;
                    options.reps = 1;
                    options.commits = 20;
                    options.batches = 2;
                    options.group_for = Duration::from_millis(200);
                    options.wal_mib = 1;
                    options.big_n = 0;
                    options.versions = 50;
                }
                "--n" => options.n = value().parse().expect("--n takes a count"),
                "--reps" => options.reps = value().parse().expect("--reps takes a count"),
                "--dir" => options.dir = PathBuf::from(value()),
                "--wal-mib" => options.wal_mib = value().parse().expect("--wal-mib takes MiB"),
                "--big-n" => options.big_n = value().parse().expect("--big-n takes a count"),
                "--fill-wal" => {
                    let dir = PathBuf::from(value());
                    let mib = value().parse().expect("--fill-wal DIR MIB");
                    fill_wal_and_exit(&dir, mib);
                }
                "--bench" => {}
                other => panic!("unknown argument {other}"),
            }
        }
        options
    }
}

/// The figures of one engine in one repetition, by workload name.
type Figures = BTreeMap<&'static str, f64>;

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn random_entries(n: usize, seed: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut s = seed;
    (0..n)
        .map(|i| {
            let mut key = xorshift(&mut s).to_le_bytes().to_vec();
            key.extend_from_slice(&xorshift(&mut s).to_le_bytes());
            let mut value = vec![0u8; 100];
            value[..8].copy_from_slice(&(i as u64).to_le_bytes());
            (key, value)
        })
        .collect()
}

/// The indices `0..n` in a random order (the same for every engine): reads in an order unrelated
/// to the load order, so that no engine's allocation order decides a read figure.
fn read_order(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut s = 0x0dd5_eed5_u64;
    for i in (1..n).rev() {
        order.swap(i, (xorshift(&mut s) % (i as u64 + 1)) as usize);
    }
    order
}

fn borrowed(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
    entries
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs every workload on a fresh database of engine `E` in `dir`.
fn run<E: Engine>(options: &Options, data: &[(Vec<u8>, Vec<u8>)], dir: &Path) -> Figures {
    let mut figures = Figures::new();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("create bench directory");
    let entries = borrowed(data);

    let engine = E::create(dir);
    let start = Instant::now();
    engine.bulk_load(&entries);
    figures.insert("bulk load, ns/key", ns_per(start.elapsed(), entries.len()));

    let order = read_order(entries.len());
    let start = Instant::now();
    let found = engine.with_reader(|get| {
        order
            .iter()
            .filter(|&&i| get(entries[i].0) == Some(100))
            .count()
    });
    figures.insert("get (cached), ns", ns_per(start.elapsed(), entries.len()));
    assert_eq!(found, entries.len(), "{} lost keys", E::NAME);

    let batches = random_entries(options.batches * 1_000, 0xbadc0ffee);
    let start = Instant::now();
    for batch in batches.chunks(1_000) {
        engine.batch_durable(&borrowed(batch));
    }
    figures.insert(
        "durable batch of 1,000, ns/key",
        ns_per(start.elapsed(), batches.len()),
    );
    drop(engine);
    figures.insert(
        "bytes on disk per key",
        disk_bytes(dir) as f64 / data.len() as f64,
    );

    let start = Instant::now();
    let engine = E::open(dir);
    let first = engine.with_reader(|get| get(entries[0].0));
    figures.insert("open + first get, ms", start.elapsed().as_secs_f64() * 1e3);
    assert_eq!(first, Some(100));

    let commits = random_entries(options.commits, 0x5eed);
    let mut latencies: Vec<f64> = commits
        .iter()
        .map(|(key, value)| {
            let start = Instant::now();
            engine.put_durable(key, value);
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    figures.insert("durable commit p50, us", median(&mut latencies));
    figures.insert(
        "durable commits/s, 1 thread",
        1e6 * latencies.len() as f64 / latencies.iter().sum::<f64>(),
    );

    for &threads in &options.threads {
        let rate = group_commit(&engine, threads, options.group_for);
        let name: &'static str = match threads {
            16 => "durable puts/s, 16 threads",
            64 => "durable puts/s, 64 threads",
            _ => unreachable!("thread counts are fixed"),
        };
        figures.insert(name, rate);
    }
    drop(engine);
    std::fs::remove_dir_all(dir).expect("remove bench directory");
    figures
}

/// Acknowledged durable puts per second from `threads` threads each committing its own puts.
fn group_commit<E: Engine>(engine: &E, threads: usize, length: Duration) -> f64 {
    let done = AtomicBool::new(false);
    let acknowledged = AtomicU64::new(0);
    let ready = Barrier::new(threads + 1);
    let start = std::thread::scope(|scope| {
        for t in 0..threads {
            let (done, acknowledged, ready) = (&done, &acknowledged, &ready);
            scope.spawn(move || {
                let mut s = 0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1);
                let value = [t as u8; 100];
                ready.wait();
                while !done.load(Ordering::Relaxed) {
                    let key = [
                        xorshift(&mut s).to_le_bytes(),
                        xorshift(&mut s).to_le_bytes(),
                    ];
                    engine.put_durable(key.as_flattened(), &value);
                    acknowledged.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        ready.wait();
        let start = Instant::now();
        std::thread::sleep(length);
        done.store(true, Ordering::Relaxed);
        start
    });
    // Puts still in flight when the clock stopped finish after it: count them over the time
    // the last one took to finish.
    acknowledged.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn ns_per(elapsed: Duration, count: usize) -> f64 {
    elapsed.as_secs_f64() * 1e9 / count as f64
}

type Runner = fn(&Options, &[(Vec<u8>, Vec<u8>)], &Path) -> Figures;

fn main() {
    let options = Options::parse();
    let engines: [(&str, Runner); 4] = [
        (Lqft::NAME, run::<Lqft>),
        (Lmdb::NAME, run::<Lmdb>),
        (Redb::NAME, run::<Redb>),
        (Sqlite::NAME, run::<Sqlite>),
    ];
    let data = random_entries(options.n, 0x1234_5678);
    println!(
        "durable bench: N = {}, {} repetition(s), {} single commits, {} batches of 1,000, \
         group commit for {:?}; databases in {}",
        options.n,
        options.reps,
        options.commits,
        options.batches,
        options.group_for,
        options.dir.display()
    );
    let mut results: Vec<Vec<Figures>> = vec![Vec::new(); engines.len()];
    for rep in 0..options.reps {
        for i in 0..engines.len() {
            let e = (rep + i) % engines.len();
            let (name, runner) = engines[e];
            eprintln!("rep {}: {name}", rep + 1);
            let dir = options.dir.join(name);
            results[e].push(runner(&options, &data, &dir));
        }
    }
    let names = engines.map(|(name, _)| name);
    print_table(&names, &results);
    let medians: BTreeMap<&str, Figures> = names
        .iter()
        .zip(&results)
        .map(|(name, runs)| (*name, median_figures(runs)))
        .collect();
    let only = lqft_only(&options, &data);
    print_targets(&medians, &only);
}

fn median_figures(runs: &[Figures]) -> Figures {
    runs[0]
        .keys()
        .map(|workload| {
            let mut values: Vec<f64> = runs.iter().map(|figures| figures[workload]).collect();
            (*workload, median(&mut values))
        })
        .collect()
}

/// Figures only lqft has, on a store of its own in `options.dir`.
fn lqft_only(options: &Options, data: &[(Vec<u8>, Vec<u8>)]) -> Figures {
    let mut figures = Figures::new();
    let dir = options.dir.join("lqft-only");
    let _ = std::fs::remove_dir_all(&dir);
    let entries = borrowed(data);

    // Cached gets through the store's map against the same gets on an in-memory map,
    // interleaved.
    let store = Store::open(&dir, group_options()).expect("open lqft store");
    Lqft::load_into(&store, &entries);
    let memory = Map::new();
    for chunk in entries.chunks(65_536) {
        let mut batch = Batch::new();
        for (key, value) in chunk {
            batch.put(key, value).expect("batch put");
        }
        memory.write_batch(&batch);
    }
    // Two ways to read, each on both: one call per key on the map (which takes the live state
    // for the call), and gets from one view (a read transaction, as the engines' readers use).
    let order = read_order(entries.len());
    let pass = |get: &dyn Fn(&[u8]) -> bool| {
        let start = Instant::now();
        let found = order.iter().filter(|&&i| get(entries[i].0)).count();
        assert_eq!(found, entries.len());
        ns_per(start.elapsed(), entries.len())
    };
    let mut times: [Vec<f64>; 4] = Default::default();
    for _ in 0..options.reps.max(5) {
        times[0].push(pass(&|key| {
            store.map().try_get(key).expect("lqft get").is_some()
        }));
        times[1].push(pass(&|key| memory.get(key).is_some()));
        let (stored, in_memory) = (store.view(), memory.view());
        times[2].push(pass(&|key| {
            stored.try_get(key).expect("lqft get").is_some()
        }));
        times[3].push(pass(&|key| in_memory.get(key).is_some()));
    }
    let [stored, in_memory, stored_view, in_memory_view] = &mut times;
    figures.insert("get (cached) through the store, ns", median(stored));
    figures.insert("get on an in-memory Map, ns", median(in_memory));
    figures.insert(
        "get (cached) through a view of the store, ns",
        median(stored_view),
    );
    figures.insert(
        "get through a view of an in-memory Map, ns",
        median(in_memory_view),
    );
    drop(memory);

    // fdatasyncs of single durable commits, counted by the store.
    let before = store.counters().wal_syncs;
    let commits = random_entries(options.commits, 0xfeed);
    for (key, value) in &commits {
        store.put(key, value).expect("lqft put");
    }
    let syncs = store.counters().wal_syncs - before;
    figures.insert(
        "fdatasyncs per single commit",
        syncs as f64 / commits.len() as f64,
    );

    // Retained versions with one changed value each (a durable snapshot after each change),
    // stored by one checkpoint after the last: what the versions add to the store.
    store.map().try_snapshot().expect("lqft snapshot");
    store.checkpoint().expect("lqft checkpoint");
    let start_bytes = disk_bytes(&dir);
    let start_packs = disk_bytes(&dir.join("packs"));
    for v in 0..options.versions {
        let (key, _) = &data[(v * 7919) % data.len()];
        store.put(key, &[v as u8; 100]).expect("lqft put");
        store.map().try_snapshot().expect("lqft snapshot");
    }
    store.checkpoint().expect("lqft checkpoint");
    assert!(store.map().snapshot_count() > options.versions);
    let versions = options.versions as f64;
    figures.insert(
        "bytes on disk per retained version",
        (disk_bytes(&dir) as f64 - start_bytes as f64) / versions,
    );
    figures.insert(
        "pack bytes per retained version",
        (disk_bytes(&dir.join("packs")) as f64 - start_packs as f64) / versions,
    );
    backups(options, &store, &dir, &mut figures);
    drop(store);
    std::fs::remove_dir_all(&dir).expect("remove bench directory");

    // Replay of a WAL tail left by a writer that exited without closing.
    let status = std::process::Command::new(std::env::current_exe().expect("bench binary"))
        .arg("--fill-wal")
        .arg(&dir)
        .arg(options.wal_mib.to_string())
        .status()
        .expect("run the WAL-filling child");
    assert!(status.success(), "the WAL-filling child failed: {status}");
    let start = Instant::now();
    let store = Store::open(&dir, group_options()).expect("open lqft store");
    let elapsed = start.elapsed();
    let records = store.len() as f64;
    figures.insert("replayed WAL, MiB", options.wal_mib as f64);
    figures.insert("WAL replay, records/s", records / elapsed.as_secs_f64());
    drop(store);
    std::fs::remove_dir_all(&dir).expect("remove bench directory");

    // Open of a big store after a clean close.
    if options.big_n > 0 {
        let big = random_entries(options.big_n, 0xb16);
        let store = Store::open(&dir, group_options()).expect("open lqft store");
        Lqft::load_into(&store, &borrowed(&big));
        drop(store);
        let start = Instant::now();
        let store = Store::open(&dir, group_options()).expect("open lqft store");
        let first = store
            .map()
            .try_get(&big[0].0)
            .expect("lqft get")
            .map(|v| v.len());
        figures.insert(
            "open + first get of the big store, ms",
            start.elapsed().as_secs_f64() * 1e3,
        );
        figures.insert("keys in the big store", options.big_n as f64);
        assert_eq!(first, Some(100));
        drop(store);
        std::fs::remove_dir_all(&dir).expect("remove bench directory");
    }
    figures
}

/// Backups of `store` (in `dir`, checkpointed): a full backup into an empty directory against
/// a plain copy of the same files with an fsync of each file and directory (the least a
/// durable copy costs), interleaved; then an incremental backup after 1,000 more puts.
fn backups(options: &Options, store: &Store, dir: &Path, figures: &mut Figures) {
    let target = options.dir.join("lqft-backup");
    let plain = options.dir.join("plain-copy");
    let (mut full, mut copied) = (Vec::new(), Vec::new());
    for _ in 0..options.reps.max(3) {
        let _ = std::fs::remove_dir_all(&target);
        let start = Instant::now();
        store.backup(&target).expect("lqft backup");
        full.push(start.elapsed().as_secs_f64() * 1e3);
        let _ = std::fs::remove_dir_all(&plain);
        let start = Instant::now();
        copy_synced(dir, &plain);
        copied.push(start.elapsed().as_secs_f64() * 1e3);
    }
    figures.insert("backup of the store, ms", median(&mut full));
    figures.insert(
        "plain copy of its files with fsyncs, ms",
        median(&mut copied),
    );
    figures.insert(
        "backup size, MiB",
        disk_bytes(&target) as f64 / f64::from(1 << 20),
    );
    for (key, value) in random_entries(1_000, 0xbac) {
        store.put(&key, &value).expect("lqft put");
    }
    let start = Instant::now();
    let report = store.backup(&target).expect("lqft backup");
    figures.insert(
        "incremental backup after 1,000 puts (its checkpoint included), ms",
        start.elapsed().as_secs_f64() * 1e3,
    );
    figures.insert(
        "packs copied by the incremental backup",
        report.packs_copied as f64,
    );
    std::fs::remove_dir_all(&target).expect("remove the backup");
    std::fs::remove_dir_all(&plain).expect("remove the copy");
}

/// Copies the packs and manifests of the store in `from` into `to`, fsyncing each file and
/// then each directory.
fn copy_synced(from: &Path, to: &Path) {
    for sub in ["packs", "manifest"] {
        let (src, dst) = (from.join(sub), to.join(sub));
        std::fs::create_dir_all(&dst).expect("create the copy");
        for entry in std::fs::read_dir(&src).expect("list the store") {
            let path = entry.expect("list the store").path();
            let out = dst.join(path.file_name().expect("a file name"));
            std::fs::copy(&path, &out).expect("copy a file");
            std::fs::File::open(&out)
                .and_then(|f| f.sync_all())
                .expect("fsync the copy");
        }
        std::fs::File::open(&dst)
            .and_then(|d| d.sync_all())
            .expect("fsync the directory");
    }
    std::fs::File::open(to)
        .and_then(|d| d.sync_all())
        .expect("fsync the directory");
}

/// The child of the replay measurement: fills a WAL tail of `mib` MiB with single puts
/// (acknowledged without waiting), syncs it and exits without closing the store.
fn fill_wal_and_exit(dir: &Path, mib: u64) -> ! {
    let options = StoreOptions {
        durability: Durability::None,
        checkpoint_bytes: u64::MAX,
        ..StoreOptions::default()
    };
    let store = Store::open(dir, options).expect("open lqft store");
    let mut s = 0x5eed_5eed;
    let value = [7u8; 100];
    while store.counters().wal_bytes < mib << 20 {
        let key = [
            xorshift(&mut s).to_le_bytes(),
            xorshift(&mut s).to_le_bytes(),
        ];
        store.put(key.as_flattened(), &value).expect("lqft put");
    }
    store.sync().expect("lqft sync");
    std::process::exit(0)
}

fn group_options() -> StoreOptions {
    StoreOptions {
        durability: Durability::Group,
        ..StoreOptions::default()
    }
}

/// The store's targets (issue 15) as ratios of this run's medians.
fn print_targets(medians: &BTreeMap<&str, Figures>, only: &Figures) {
    let lqft = &medians[Lqft::NAME];
    let lmdb = &medians[Lmdb::NAME];
    let redb = &medians[Redb::NAME];
    let fig = |figures: &Figures, name: &str| figures[name];
    println!();
    println!("| target | measured | met |");
    println!("|---|---|---|");
    let row = |target: &str, measured: String, met: bool| {
        println!(
            "| {target} | {measured} | {} |",
            if met { "yes" } else { "NO" }
        );
    };
    let p50 = "durable commit p50, us";
    let faster = fig(lmdb, p50).min(fig(redb, p50));
    let ratio = fig(lqft, p50) / faster;
    row(
        "durable single-key commit p50 ≤ 1.0 × the faster of LMDB and redb",
        format!("{ratio:.2} ×"),
        ratio <= 1.0,
    );
    let syncs = fig(only, "fdatasyncs per single commit");
    row(
        "exactly one fdatasync per commit (counted)",
        format!("{syncs:.3}"),
        syncs == 1.0,
    );
    for threads in [16, 64] {
        let name = if threads == 16 {
            "durable puts/s, 16 threads"
        } else {
            "durable puts/s, 64 threads"
        };
        let rate = fig(lqft, name);
        let times = rate / fig(lmdb, "durable commits/s, 1 thread");
        let target = if threads == 64 {
            "≥ 50,000 puts/s and ≥ 10 × LMDB's single writer"
        } else {
            "(reported)"
        };
        row(
            &format!("group commit, {threads} writer threads {target}"),
            format!("{rate:.0} puts/s, {times:.1} × LMDB"),
            threads == 16 || (rate >= 50_000.0 && times >= 10.0),
        );
    }
    let batch = "durable batch of 1,000, ns/key";
    let ratio = fig(lqft, batch) / fig(lmdb, batch);
    row(
        "durable batch of 1,000 ≤ 0.25 × LMDB per key",
        format!("{ratio:.2} ×"),
        ratio <= 0.25,
    );
    let bulk = "bulk load, ns/key";
    let ratio = fig(lqft, bulk) / fig(lmdb, bulk);
    row(
        "bulk load ≤ 1.0 × LMDB",
        format!("{ratio:.2} ×"),
        ratio <= 1.0,
    );
    let get = "get (cached), ns";
    let ratio = fig(lqft, get) / fig(lmdb, get);
    row(
        "get, everything cached, ≤ 0.5 × LMDB",
        format!("{ratio:.2} ×"),
        ratio <= 0.5,
    );
    let per_call = fig(only, "get (cached) through the store, ns") / fig(lmdb, get);
    row(
        "get, everything cached, one Map::try_get per key, no view (reported)",
        format!("{per_call:.2} × LMDB"),
        true,
    );
    let ratio =
        fig(only, "get (cached) through the store, ns") / fig(only, "get on an in-memory Map, ns");
    row(
        "get, everything cached, ≤ 1.3 × in-memory Map::get",
        format!("{ratio:.2} ×"),
        ratio <= 1.3,
    );
    let ratio = fig(only, "get (cached) through a view of the store, ns")
        / fig(only, "get through a view of an in-memory Map, ns");
    row(
        "get, everything cached, through views of both (reported)",
        format!("{ratio:.2} ×"),
        true,
    );
    let open = fig(lqft, "open + first get, ms");
    row(
        "open of the N-key store after a clean close ≤ 50 ms",
        format!("{open:.1} ms"),
        open <= 50.0,
    );
    if let Some(open) = only.get("open + first get of the big store, ms") {
        let n = only["keys in the big store"];
        row(
            &format!("open of a {n:.0}-key store after a clean close ≤ 50 ms"),
            format!("{open:.1} ms"),
            *open <= 50.0,
        );
    }
    let replay = fig(only, "WAL replay, records/s");
    let mib = fig(only, "replayed WAL, MiB");
    row(
        &format!("recovery with a {mib:.0} MiB WAL tail ≥ 1M records/s"),
        format!("{replay:.0} records/s"),
        replay >= 1e6,
    );
    let bytes = "bytes on disk per key";
    let ratio = fig(lqft, bytes) / fig(lmdb, bytes);
    row(
        "bytes on disk ≤ 1.0 × LMDB's",
        format!("{ratio:.2} ×"),
        ratio <= 1.0,
    );
    let version = fig(only, "bytes on disk per retained version");
    let packs = fig(only, "pack bytes per retained version");
    row(
        "each retained version with one changed value ≤ 3.1 KB on disk",
        format!("{version:.0} B ({packs:.0} B of packs)"),
        version <= 3100.0,
    );
    let backup = fig(only, "backup of the store, ms");
    let ratio = backup / fig(only, "plain copy of its files with fsyncs, ms");
    row(
        "backup of the store (reported)",
        format!(
            "{backup:.0} ms for {:.0} MiB, {ratio:.2} × a plain copy with fsyncs; \
             incremental after 1,000 puts {:.1} ms (its checkpoint included)",
            fig(only, "backup size, MiB"),
            fig(
                only,
                "incremental backup after 1,000 puts (its checkpoint included), ms"
            )
        ),
        true,
    );
    println!();
    println!("lqft only:");
    for (name, value) in only {
        println!("  {name}: {value:.1}");
    }
}

fn print_table(names: &[&str], results: &[Vec<Figures>]) {
    let workloads: Vec<&'static str> = results[0][0].keys().copied().collect();
    print!("| workload |");
    for name in names {
        print!(" {name} (spread) |");
    }
    println!();
    println!("|---|{}", "---|".repeat(names.len()));
    for workload in workloads {
        print!("| {workload} |");
        for runs in results {
            let mut values: Vec<f64> = runs.iter().map(|figures| figures[workload]).collect();
            let spread = values.iter().cloned().fold(f64::MIN, f64::max)
                / values.iter().cloned().fold(f64::MAX, f64::min);
            print!(" {:.1} ({spread:.2}) |", median(&mut values));
        }
        println!();
    }
}
