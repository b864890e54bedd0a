//! Save and load+verify of a large snapshot file (`docs/BENCHMARKS.md`, "Snapshot files").
//!
//! `cargo bench --bench snapshot_file` runs 1,000,000 entries three times; `-- --smoke` runs
//! 1,000 entries once (for CI); `LQFT_BENCH_N` overrides the count in either mode. Keys are 16 random bytes (not UTF-8, so they take
//! the `key_b64` form) or 32 hex characters; values are 100 random alphanumeric bytes. Files
//! are Ed25519-signed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lqft::formats::map_files::{LoadOptions, load_snapshot_file, save_snapshot};
use lqft::formats::{Ed25519PrivateKey, SignKey, VerifyKey, VerifyOptions, WriteOptions};
use lqft::{Map, Snapshot};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn build(n: usize, hex_keys: bool) -> Snapshot {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let map = Map::new();
    let mut value = [0u8; 100];
    for _ in 0..n {
        let raw: [u8; 16] = [rng.next().to_le_bytes(), rng.next().to_le_bytes()]
            .concat()
            .try_into()
            .unwrap();
        for b in value.iter_mut() {
            *b = ALNUM[(rng.next() % ALNUM.len() as u64) as usize];
        }
        if hex_keys {
            map.put(lqft::formats::hex::encode(&raw).as_bytes(), &value)
                .unwrap();
        } else {
            map.put(&raw, &value).unwrap();
        }
    }
    map.snapshot()
}

fn median(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[0], times[times.len() - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let n: usize = std::env::var("LQFT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 1_000 } else { 1_000_000 });
    let runs = if smoke { 1 } else { 3 };
    let dir = std::env::temp_dir().join(format!("lqft-bench-snapshot-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let private = Ed25519PrivateKey::from_seed(&[42; 32]);
    let public: VerifyKey = private.public_key().clone().into();
    let sign = SignKey::from(private);
    println!("snapshot_file: n = {n}, Ed25519-signed, median of {runs} runs (min..max)");
    println!("| keys | file | size | save | load + verify |");
    println!("|---|---|---|---|---|");
    for (label, hex_keys) in [
        ("16 random bytes (key_b64)", false),
        ("32 hex chars (UTF-8)", true),
    ] {
        let snapshot = build(n, hex_keys);
        for (file, gzip_level) in [("snap.json", 6), ("snap.json.gz", 1), ("snap.json.gz", 6)] {
            let path: PathBuf = dir.join(file);
            let write = WriteOptions {
                sign_key: Some(&sign),
                gzip_level,
                ..WriteOptions::default()
            };
            let mut saves = Vec::new();
            let mut loads = Vec::new();
            for _ in 0..runs {
                let start = Instant::now();
                save_snapshot(&path, &snapshot, &write).unwrap();
                saves.push(start.elapsed());
                let map = Map::new();
                let options = LoadOptions {
                    verify: VerifyOptions {
                        verify_key: Some(&public),
                        ..VerifyOptions::default()
                    },
                    ..LoadOptions::default()
                };
                let start = Instant::now();
                let loaded = load_snapshot_file(&map, &path, &options).unwrap();
                loads.push(start.elapsed());
                assert_eq!(loaded.root_hash(), snapshot.root_hash());
            }
            let size = std::fs::metadata(&path).unwrap().len();
            let (s, s_lo, s_hi) = median(saves);
            let (l, l_lo, l_hi) = median(loads);
            let kind = if file.ends_with(".gz") {
                format!("gzip level {gzip_level}")
            } else {
                "uncompressed".into()
            };
            println!(
                "| {label} | {kind} | {:.1} MB | {} ({}..{}) | {} ({}..{}) |",
                size as f64 / 1e6,
                ms(s),
                ms(s_lo),
                ms(s_hi),
                ms(l),
                ms(l_lo),
                ms(l_hi)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
