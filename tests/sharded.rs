//! `ShardedMap`: routing pinned by vectors, a model test against a `BTreeMap` (snapshots,
//! rollback, diff, cross-shard batches), and cross-shard atomicity seen by concurrent readers.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{counter, read_counter, xorshift};
use lqft::engine::{route_hash, shard_of};
use lqft::{Batch, DiffKind, RollbackPolicy, ShardedMap, ShardedSnapshot};

/// The routing hash is part of the format of sharded data: these values must never change.
/// (Computed independently from the definition in `src/engine/sharded.rs`.)
#[test]
fn routing_is_pinned_by_test_vectors() {
    let vectors: [(&[u8], u64, usize, usize); 8] = [
        (b"", 0x844b7c0489f3d25b, 11, 6),
        (b"a", 0x35f5c28dd3de2855, 5, 6),
        (b"key", 0x82784d74f64875ae, 14, 1),
        (b"12345678", 0xe52e32915a4f3cbf, 15, 4),
        (b"123456789", 0xbd8c92c429392d4e, 14, 5),
        (b"\x00", 0x81a9075751574d41, 1, 2),
        (b"\x00\x00", 0x3bd83af55fb5e3f4, 4, 0),
        (
            b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13",
            0x63800bc762d5e6f0,
            0,
            2,
        ),
    ];
    for (key, hash, of16, of7) in vectors {
        assert_eq!(route_hash(key), hash, "{key:?}");
        assert_eq!(shard_of(key, 16), of16, "{key:?}");
        assert_eq!(shard_of(key, 7), of7, "{key:?}");
        assert_eq!(shard_of(key, 1), 0);
    }
}

#[test]
fn routing_spreads_keys_over_the_shards() {
    let mut counts = [0u32; 16];
    for i in 0u32..16_000 {
        counts[shard_of(format!("user:{i}").as_bytes(), 16)] += 1;
    }
    assert!(
        counts.iter().all(|&c| (800..1200).contains(&c)),
        "{counts:?}"
    );
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn contents(map: &ShardedMap) -> Model {
    let entries: Vec<(Vec<u8>, Vec<u8>)> = map
        .iter()
        .map(|e| (e.key().to_vec(), e.value().to_vec()))
        .collect();
    assert!(
        entries.windows(2).all(|w| w[0].0 < w[1].0),
        "not in key order"
    );
    entries.into_iter().collect()
}

fn snapshot_contents(s: &ShardedSnapshot) -> BTreeMap<Vec<u8>, Vec<u8>> {
    s.iter()
        .map(|e| (e.key().to_vec(), e.value().to_vec()))
        .collect()
}

/// 120,000 random operations against a `BTreeMap`, with snapshots, rollbacks and diffs.
#[test]
fn sharded_map_matches_a_model() {
    let map = ShardedMap::new(16);
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut snapshots: Vec<(ShardedSnapshot, Model)> = Vec::new();
    let mut s = 0xfeed_u64;
    let key = |s: &mut u64| format!("k{}", xorshift(s) % 2_000).into_bytes();
    for op in 0..120_000u32 {
        match xorshift(&mut s) % 100 {
            0..=44 => {
                let (k, v) = (key(&mut s), op.to_le_bytes().to_vec());
                map.put(&k, &v).unwrap();
                model.insert(k, v);
            }
            45..=64 => {
                let k = key(&mut s);
                assert_eq!(map.delete(&k).unwrap(), model.remove(&k).is_some());
            }
            65..=89 => {
                let k = key(&mut s);
                assert_eq!(map.get(&k).as_deref(), model.get(&k).map(Vec::as_slice));
                assert_eq!(map.contains_key(&k), model.contains_key(&k));
            }
            90..=95 => {
                let mut batch = Batch::new();
                for _ in 0..(xorshift(&mut s) % 8) {
                    let k = key(&mut s);
                    if xorshift(&mut s).is_multiple_of(3) {
                        batch.delete(&k).unwrap();
                        model.remove(&k);
                    } else {
                        batch.put(&k, b"batched").unwrap();
                        model.insert(k, b"batched".to_vec());
                    }
                }
                map.write_batch(&batch);
            }
            96 | 97 => {
                let snapshot = map.snapshot();
                assert_eq!(snapshot.len(), model.len() as u64);
                assert_eq!(map.pending_mutations(), 0);
                snapshots.push((snapshot, model.clone()));
            }
            98 if !snapshots.is_empty() => {
                let (snapshot, then) = &snapshots[(xorshift(&mut s) as usize) % snapshots.len()];
                map.rollback(snapshot, RollbackPolicy::Discard).unwrap();
                model = then.clone();
                assert_eq!(map.len(), model.len() as u64);
            }
            _ if snapshots.len() >= 2 => {
                let a = &snapshots[(xorshift(&mut s) as usize) % snapshots.len()];
                let b = &snapshots[(xorshift(&mut s) as usize) % snapshots.len()];
                let diff = a.0.diff(&b.0).unwrap();
                let mut expected = Vec::new();
                for k in
                    a.1.keys()
                        .chain(b.1.keys())
                        .collect::<std::collections::BTreeSet<_>>()
                {
                    match (a.1.get(k), b.1.get(k)) {
                        (None, Some(_)) => expected.push((k.clone(), DiffKind::Added)),
                        (Some(_), None) => expected.push((k.clone(), DiffKind::Removed)),
                        (Some(x), Some(y)) if x != y => {
                            expected.push((k.clone(), DiffKind::Changed))
                        }
                        _ => {}
                    }
                }
                let got: Vec<_> = diff.iter().map(|d| (d.key().to_vec(), d.kind())).collect();
                assert_eq!(got, expected, "op {op}");
            }
            _ => {}
        }
        if op % 10_000 == 0 {
            assert_eq!(contents(&map), model, "op {op}");
        }
    }
    assert_eq!(contents(&map), model);
    for (snapshot, then) in &snapshots {
        assert_eq!(&snapshot_contents(snapshot), then);
    }
    let range: Vec<Vec<u8>> = map.range(b"k1", b"k2").map(|e| e.key().to_vec()).collect();
    let expected: Vec<Vec<u8>> = model
        .range(b"k1".to_vec()..b"k2".to_vec())
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(range, expected);
    let prefixed: Vec<Vec<u8>> = map.prefix(b"k19").map(|e| e.key().to_vec()).collect();
    assert_eq!(
        prefixed,
        model
            .keys()
            .filter(|k| k.starts_with(b"k19"))
            .cloned()
            .collect::<Vec<_>>()
    );
}

#[test]
fn equal_contents_give_equal_roots_and_rollback_refuses_pending_changes() {
    let a = ShardedMap::new(4);
    let b = ShardedMap::new(4);
    for i in 0..100u32 {
        a.put(&i.to_be_bytes(), b"v").unwrap();
    }
    for i in (0..100u32).rev() {
        b.put(&i.to_be_bytes(), b"v").unwrap();
    }
    assert_eq!(a.root_hash(), b.root_hash());
    let first = a.snapshot();
    assert_eq!(first.root_hash(), a.root_hash());
    assert_ne!(
        ShardedMap::new(5).root_hash(),
        ShardedMap::new(4).root_hash()
    );
    a.delete(&7u32.to_be_bytes()).unwrap();
    assert_ne!(a.root_hash(), b.root_hash());
    assert!(matches!(
        a.rollback(&first, RollbackPolicy::Fail),
        Err(lqft::Error::PendingChanges { count: 1 })
    ));
    assert_eq!(a.len(), 99);
    assert_eq!(
        a.rollback(&first, RollbackPolicy::Discard)
            .unwrap()
            .discarded,
        1
    );
    assert_eq!(a.root_hash(), b.root_hash());
    let second = a.snapshot();
    assert_eq!(second.meta().parent_id, Some(first.id()));
    assert_eq!(a.snapshots().len(), 2);
    assert_eq!(
        a.snapshot_by_id(first.id()).unwrap().root_hash(),
        first.root_hash()
    );
}

/// Each writer thread owns its accounts (spread over every shard) and moves amounts between
/// them in cross-shard batches; readers check that every consistent iteration and every
/// snapshot sees the total unchanged, which fails if any reader sees half a batch.
#[test]
fn cross_shard_batches_are_atomic_for_readers_and_snapshots() {
    const WRITERS: u64 = 2;
    const ACCOUNTS: u64 = 32;
    let map = ShardedMap::new(16);
    for w in 0..WRITERS {
        for a in 0..ACCOUNTS {
            map.put(format!("w{w}/a{a}").as_bytes(), &counter(100))
                .unwrap();
        }
    }
    let total = WRITERS * ACCOUNTS * 100;
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let map = &map;
                scope.spawn(move || {
                    let mut balances = vec![100u64; ACCOUNTS as usize];
                    let mut s = 0x1234 + w;
                    for _ in 0..3_000 {
                        let from = (xorshift(&mut s) % ACCOUNTS) as usize;
                        let to = (xorshift(&mut s) % ACCOUNTS) as usize;
                        if from == to {
                            continue;
                        }
                        let amount = balances[from].min(xorshift(&mut s) % 20);
                        balances[from] -= amount;
                        balances[to] += amount;
                        let mut batch = Batch::new();
                        batch
                            .put(format!("w{w}/a{from}").as_bytes(), &counter(balances[from]))
                            .unwrap();
                        batch
                            .put(format!("w{w}/a{to}").as_bytes(), &counter(balances[to]))
                            .unwrap();
                        map.write_batch(&batch);
                    }
                })
            })
            .collect();
        scope.spawn(|| {
            // At least one round, however the threads are scheduled.
            loop {
                let finished = done.load(Ordering::Relaxed);
                let seen: u64 = map.iter().map(|e| read_counter(e.value())).sum();
                assert_eq!(seen, total);
                let snapshot = map.snapshot();
                assert_eq!(
                    snapshot
                        .iter()
                        .map(|e| read_counter(e.value()))
                        .sum::<u64>(),
                    total
                );
                if finished {
                    break;
                }
            }
        });
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    assert_eq!(
        map.iter().map(|e| read_counter(e.value())).sum::<u64>(),
        total
    );
}

/// Transactions across shards: concurrent transfers between counters on different shards
/// keep the sum for every consistent reader, and increments through compare-and-swap and
/// transactions lose no update.
#[test]
fn sharded_transactions_keep_the_sum_and_lose_no_update() {
    const ACCOUNTS: u64 = 24;
    let map = ShardedMap::new(8);
    for a in 0..ACCOUNTS {
        map.put(format!("acct{a}").as_bytes(), &counter(50))
            .unwrap();
    }
    map.put(b"txn counter", &counter(0)).unwrap();
    let total = ACCOUNTS * 50;
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (1..=2u64)
            .map(|seed| {
                let map = &map;
                scope.spawn(move || {
                    let mut s = seed * 0x5151;
                    for _ in 0..2_000 {
                        let from = format!("acct{}", xorshift(&mut s) % ACCOUNTS).into_bytes();
                        let to = format!("acct{}", xorshift(&mut s) % ACCOUNTS).into_bytes();
                        loop {
                            let mut txn = map.begin();
                            let a = read_counter(txn.get(&from).unwrap());
                            let b = read_counter(txn.get(&to).unwrap());
                            if from == to {
                                break;
                            }
                            let amount = a.min(xorshift(&mut s) % 9);
                            txn.put(&from, &counter(a - amount)).unwrap();
                            txn.put(&to, &counter(b + amount)).unwrap();
                            let n = read_counter(txn.get(b"txn counter").unwrap());
                            txn.put(b"txn counter", &counter(n + 1)).unwrap();
                            if txn.commit().is_ok() {
                                break;
                            }
                        }
                        loop {
                            let old = map.get(b"cas counter");
                            let new = counter(old.as_deref().map_or(0, read_counter) + 1);
                            if map
                                .compare_and_swap(b"cas counter", old.as_deref(), Some(&new))
                                .unwrap()
                            {
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let sum: u64 = map
                    .iter()
                    .filter(|e| e.key().starts_with(b"acct"))
                    .map(|e| read_counter(e.value()))
                    .sum();
                assert_eq!(sum, total);
            }
        });
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    assert_eq!(read_counter(&map.get(b"cas counter").unwrap()), 4_000);
    let transfers = read_counter(&map.get(b"txn counter").unwrap());
    assert!(transfers <= 4_000 && transfers > 3_000, "{transfers}");
}

#[test]
fn a_conflicting_sharded_commit_changes_nothing() {
    let map = ShardedMap::new(8);
    map.put(b"a", b"1").unwrap();
    let mut txn = map.begin();
    assert_eq!(txn.get(b"a"), Some(&b"1"[..]));
    for i in 0..32u8 {
        txn.put(&[b'w', i], b"x").unwrap();
    }
    map.put(b"a", b"2").unwrap();
    assert_eq!(txn.commit(), Err(lqft::Error::Conflict));
    assert_eq!(map.len(), 1);
    assert_eq!(map.pending_mutations(), 2);
}
