//! A store-backed `Tree` (nodes loaded through a `NodeSource`) against the same tree in memory,
//! side by side in one run on the same data: 16-byte random keys, 100-byte values.
//!
//! `cargo bench --bench stored` runs N = 100k and 1M with 5 interleaved repetitions;
//! `-- --n 100000` picks one N; `-- --reps 7`; `-- --smoke` runs a tiny N once (for CI).
//! The source keeps records in memory, so "loaded" rows measure the tree's own cost: reads
//! through stored references whose nodes are loaded, against a tree built in memory.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use lqft::tree::{Location, NodeSource};
use lqft::{Result, Tree};

#[path = "support/counting.rs"]
mod counting;
#[path = "support/rng.rs"]
mod rng;

use counting::live;
use rng::xorshift;

fn key(s: &mut u64) -> Vec<u8> {
    [xorshift(s).to_le_bytes(), xorshift(s).to_le_bytes()].concat()
}

/// Records in memory, one pack.
struct MemSource(Vec<Vec<u8>>);

impl NodeSource for MemSource {
    fn read(&self, at: Location) -> Result<Vec<u8>> {
        Ok(self.0[at.ordinal as usize].clone())
    }
}

fn store(tree: &Tree, records: &mut Vec<Vec<u8>>) -> Location {
    tree.store_new_nodes(&mut |record| {
        records.push(record.to_vec());
        Ok(Location {
            pack: 0,
            ordinal: records.len() as u32 - 1,
        })
    })
    .unwrap()
    .expect("a tree with entries")
}

fn attach(tree: &Tree, root: Location, source: &Arc<MemSource>) -> Tree {
    Tree::from_stored(
        root,
        tree.root_hash(),
        tree.len(),
        tree.key_bytes(),
        tree.value_bytes(),
        source.clone(),
    )
}

fn per_op(start: Instant, ops: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / ops as f64
}

fn median(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let spread = values[values.len() - 1] / values[0].max(f64::MIN_POSITIVE);
    (values[values.len() / 2], spread)
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
    let sizes = match (smoke, value_of("--n")) {
        (true, _) => vec![10_000],
        (false, Some(n)) => vec![n],
        (false, None) => vec![100_000, 1_000_000],
    };
    let reps = if smoke {
        1
    } else {
        value_of("--reps").unwrap_or(5)
    };
    let shown: Vec<&str> = args[1..]
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--bench")
        .collect();
    println!("command: cargo bench --bench stored -- {}", shown.join(" "));
    for n in sizes {
        let mut s = 0x5eed_u64 ^ n as u64;
        let keys: Vec<Vec<u8>> = (0..n).map(|_| key(&mut s)).collect();
        let misses: Vec<Vec<u8>> = (0..n).map(|_| key(&mut s)).collect();
        let value = vec![0x5a; 100];
        let before = live();
        let mut tree = Tree::new();
        for k in &keys {
            tree.insert(k, &value).unwrap();
        }
        let in_memory = live() - before;
        let mut records = Vec::new();
        let root = store(&tree, &mut records);
        let record_bytes: usize = records.iter().map(Vec::len).sum();
        let record_count = records.len();
        let source = Arc::new(MemSource(records));
        let before = live();
        let stored = attach(&tree, root, &source);
        assert_eq!(stored.try_iter().count(), n);
        let loaded = live() - before;
        let mut inlined = stored.clone();
        inlined.inline_loaded();
        let mut rows: Vec<(&str, Vec<f64>, &str)> = vec![
            ("get hit, in memory (Tree::get)", vec![], "ns/op"),
            (
                "get hit, stored and loaded (Tree::try_get)",
                vec![],
                "ns/op",
            ),
            ("get miss, in memory (Tree::get)", vec![], "ns/op"),
            (
                "get miss, stored and loaded (Tree::try_get)",
                vec![],
                "ns/op",
            ),
            ("get hit, stored, loading (Tree::try_get)", vec![], "ns/op"),
            (
                "get hit, loaded and inlined (Tree::try_get)",
                vec![],
                "ns/op",
            ),
            (
                "get miss, loaded and inlined (Tree::try_get)",
                vec![],
                "ns/op",
            ),
        ];
        for _ in 0..reps {
            let t = Instant::now();
            for k in &keys {
                black_box(tree.get(k));
            }
            rows[0].1.push(per_op(t, n));
            let t = Instant::now();
            for k in &keys {
                black_box(stored.try_get(k).unwrap());
            }
            rows[1].1.push(per_op(t, n));
            let t = Instant::now();
            for k in &misses {
                black_box(tree.get(k));
            }
            rows[2].1.push(per_op(t, n));
            let t = Instant::now();
            for k in &misses {
                black_box(stored.try_get(k).unwrap());
            }
            rows[3].1.push(per_op(t, n));
            let cold = attach(&tree, root, &source);
            let t = Instant::now();
            for k in &keys {
                black_box(cold.try_get(k).unwrap());
            }
            rows[4].1.push(per_op(t, n));
            drop(cold);
            let t = Instant::now();
            for k in &keys {
                black_box(inlined.try_get(k).unwrap());
            }
            rows[5].1.push(per_op(t, n));
            let t = Instant::now();
            for k in &misses {
                black_box(inlined.try_get(k).unwrap());
            }
            rows[6].1.push(per_op(t, n));
        }
        // Bytes a version with one changed value adds to the store.
        let mut records = Vec::new();
        let mut version = attach(&tree, root, &source);
        let mut written = Vec::new();
        for i in 0..100 {
            version.try_insert(&keys[i * 7 % n], b"changed").unwrap();
            let before = (records.len(), records.iter().map(Vec::len).sum::<usize>());
            store(&version, &mut records);
            let after: usize = records.iter().map(Vec::len).sum();
            written.push(((records.len() - before.0) as f64, (after - before.1) as f64));
        }
        let (mut counts, mut bytes): (Vec<f64>, Vec<f64>) = written.into_iter().unzip();
        println!("\n### N = {n} ({reps} repetitions, median; spread = max/min)\n");
        println!("| workload | median | spread | ÷ in memory |");
        println!("|---|---|---|---|");
        let hit = median(&mut rows[0].1.clone()).0;
        let miss = median(&mut rows[2].1.clone()).0;
        for (i, (name, values, unit)) in rows.iter_mut().enumerate() {
            let (m, spread) = median(values);
            let base = if matches!(i, 2 | 3 | 6) { miss } else { hit };
            println!("| {name} | {m:.1} {unit} | {spread:.2} | {:.3} |", m / base);
        }
        let per_key = |bytes: usize| bytes as f64 / n as f64;
        println!(
            "| structure + entries, in memory | {:.1} B/key | | |",
            per_key(in_memory)
        );
        println!(
            "| structure + entries, stored and loaded | {:.1} B/key | | {:.3} |",
            per_key(loaded),
            loaded as f64 / in_memory as f64
        );
        println!(
            "| node records | {:.1} B/key ({record_count} records) | | |",
            per_key(record_bytes)
        );
        let (c, _) = median(&mut counts);
        let (b, spread) = median(&mut bytes);
        println!("| records per version, one changed value | {c:.0} | | |");
        println!("| record bytes per version, one changed value | {b:.0} B | {spread:.2} | |");
    }
}
