//! Durable workloads side by side on the same data and the same disk.
//!
//! `cargo bench --manifest-path benches/anchors/Cargo.toml --bench durable` runs N = 1M with 3
//! interleaved repetitions (each repetition visits the engines in a rotated order); `-- --smoke`
//! runs a tiny N once; `-- --n 100000` and `-- --reps 5` choose; `-- --dir PATH` puts the
//! databases somewhere else (default `target/durable-bench`, on the repository's disk).
//! Data: 16-byte random keys, 100-byte values. Every figure is the median over repetitions,
//! with the spread (max ÷ min) beside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lqft_anchors::{Engine, Lmdb, Redb, Sqlite, disk_bytes};

struct Options {
    n: usize,
    reps: usize,
    commits: usize,
    batches: usize,
    group_for: Duration,
    threads: Vec<usize>,
    dir: PathBuf,
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
                }
                "--n" => options.n = value().parse().expect("--n takes a count"),
                "--reps" => options.reps = value().parse().expect("--reps takes a count"),
                "--dir" => options.dir = PathBuf::from(value()),
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

    let start = Instant::now();
    let found = engine.with_reader(|get| {
        entries
            .iter()
            .filter(|(key, _)| get(key) == Some(100))
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
    figures.insert("bytes on disk per key", disk_bytes(dir) as f64 / data.len() as f64);

    let start = Instant::now();
    let engine = E::open(dir);
    let first = engine.with_reader(|get| get(&entries[0].0));
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
                    let key = [xorshift(&mut s).to_le_bytes(), xorshift(&mut s).to_le_bytes()];
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
    let engines: [(&str, Runner); 3] = [
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
    print_table(&engines.map(|(name, _)| name), &results);
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
