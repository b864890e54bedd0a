//! `ShardedMap`: routing pinned by vectors, a model test against a `BTreeMap` (snapshots,
//! rollback, diff, cross-shard batches, compaction, retention, pins, stats), the history's
//! rules one by one, and cross-shard atomicity seen by concurrent readers.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::{counter, read_counter, xorshift};
use lqft::engine::{route_hash, shard_of};
use lqft::{Batch, DiffKind, ReadSession, RollbackPolicy, ShardedMap, ShardedSnapshot};

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

/// What the model knows of the registry: every snapshot taken, whether it is still registered
/// (ids the map must report), and the read sessions open.
struct Registry {
    snapshots: Vec<(ShardedSnapshot, Model)>,
    registered: std::collections::BTreeSet<u64>,
    sessions: Vec<ReadSession<ShardedSnapshot>>,
    current: Option<u64>,
    retention: Option<usize>,
}

impl Registry {
    /// The ids pruning to the newest `retain_last` removes: older ones that are neither
    /// current nor pinned.
    fn prune(&mut self, retain_last: usize) -> Vec<u64> {
        let excess = self.registered.len().saturating_sub(retain_last);
        let pinned: std::collections::BTreeSet<u64> =
            self.sessions.iter().map(|s| s.id()).collect();
        let pruned: Vec<u64> = self
            .registered
            .iter()
            .take(excess)
            .copied()
            .filter(|id| Some(*id) != self.current && !pinned.contains(id))
            .collect();
        for id in &pruned {
            self.registered.remove(id);
        }
        pruned
    }
}

/// 120,000 random operations against a `BTreeMap`, with snapshots, rollbacks (both policies),
/// diffs, compaction, retention, pins and forward and backward scans.
#[test]
fn sharded_map_matches_a_model() {
    let map = ShardedMap::new(16);
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut registry = Registry {
        snapshots: Vec::new(),
        registered: Default::default(),
        sessions: Vec::new(),
        current: None,
        retention: None,
    };
    // The contents of the current snapshot (empty before the first).
    let mut cut: Model = BTreeMap::new();
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
                registry.registered.insert(snapshot.id());
                registry.current = Some(snapshot.id());
                if let Some(n) = registry.retention {
                    registry.prune(n);
                }
                cut = model.clone();
                registry.snapshots.push((snapshot, model.clone()));
            }
            98 if !registry.snapshots.is_empty() => {
                let i = (xorshift(&mut s) as usize) % registry.snapshots.len();
                let (snapshot, then) = registry.snapshots[i].clone();
                // Fail refuses exactly when the live state differs from the current cut.
                let policy = if xorshift(&mut s).is_multiple_of(2) {
                    RollbackPolicy::Fail
                } else {
                    RollbackPolicy::Discard
                };
                let pending = map.pending_mutations();
                match map.rollback(&snapshot, policy) {
                    Ok(outcome) => {
                        assert!(policy == RollbackPolicy::Discard || model == cut, "op {op}");
                        assert_eq!(outcome.discarded, pending);
                        model = then.clone();
                        cut = then;
                        registry.current = Some(snapshot.id());
                    }
                    Err(lqft::Error::PendingChanges { count }) => {
                        assert!(policy == RollbackPolicy::Fail && model != cut, "op {op}");
                        assert_eq!(count, pending);
                    }
                    Err(other) => panic!("{other}"),
                }
                assert_eq!(map.len(), model.len() as u64);
            }
            99 => match xorshift(&mut s) % 6 {
                0 => {
                    let n = (xorshift(&mut s) % 6) as usize;
                    let expected = registry.prune(n);
                    let report = map.compact(n);
                    assert_eq!(report.pruned, expected, "op {op}");
                }
                1 => {
                    let n = (xorshift(&mut s) % 6) as usize;
                    let policy = (!xorshift(&mut s).is_multiple_of(3)).then_some(n);
                    registry.retention = policy;
                    let expected = policy.map_or_else(Vec::new, |n| registry.prune(n));
                    assert_eq!(map.set_retention(policy), expected, "op {op}");
                }
                2 if !registry.snapshots.is_empty() => {
                    let i = (xorshift(&mut s) as usize) % registry.snapshots.len();
                    registry
                        .sessions
                        .push(map.pin(&registry.snapshots[i].0).unwrap());
                }
                3 if !registry.sessions.is_empty() => {
                    let i = (xorshift(&mut s) as usize) % registry.sessions.len();
                    registry.sessions.swap_remove(i);
                }
                4 => {
                    let backwards: Vec<Vec<u8>> =
                        map.iter().rev().map(|e| e.key().to_vec()).collect();
                    let expected: Vec<Vec<u8>> = model.keys().rev().cloned().collect();
                    assert_eq!(backwards, expected, "op {op}");
                }
                _ => {
                    // Front and back walks meet in the middle.
                    let mut walk = map.iter();
                    let mut seen = Vec::new();
                    let mut back = Vec::new();
                    loop {
                        let step = if xorshift(&mut s).is_multiple_of(2) {
                            walk.next().map(|e| seen.push(e.key().to_vec()))
                        } else {
                            walk.next_back().map(|e| back.push(e.key().to_vec()))
                        };
                        if step.is_none() {
                            break;
                        }
                    }
                    seen.extend(back.into_iter().rev());
                    assert_eq!(seen, model.keys().cloned().collect::<Vec<_>>(), "op {op}");
                }
            },
            _ if registry.snapshots.len() >= 2 => {
                let snapshots = &registry.snapshots;
                let a = &snapshots[(xorshift(&mut s) as usize) % snapshots.len()];
                let b = &snapshots[(xorshift(&mut s) as usize) % snapshots.len()];
                let diff: Vec<_> = a.0.diff(&b.0).unwrap().collect();
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
            let ids: Vec<u64> = registry.registered.iter().copied().collect();
            assert_eq!(map.snapshot_ids(), ids, "op {op}");
            let stats = map.stats();
            assert_eq!(stats["items"], model.len() as u64);
            assert_eq!(stats["snapshots"]["retained"], ids.len() as u64);
            assert_eq!(stats["pending_mutations"], map.pending_mutations());
        }
    }
    assert_eq!(contents(&map), model);
    for (snapshot, then) in &registry.snapshots {
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
                        transfer_in_a_batch(map, &format!("w{w}/"), &mut balances, &mut s);
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

/// Moves a random amount between two random counters `{prefix}a{i}` of `balances` (the
/// caller's record of their values) in one batch; nothing when it picks one counter twice.
fn transfer_in_a_batch(map: &ShardedMap, prefix: &str, balances: &mut [u64], s: &mut u64) {
    let accounts = balances.len() as u64;
    let from = (xorshift(s) % accounts) as usize;
    let to = (xorshift(s) % accounts) as usize;
    if from == to {
        return;
    }
    let amount = balances[from].min(xorshift(s) % 20);
    balances[from] -= amount;
    balances[to] += amount;
    let mut batch = Batch::new();
    for i in [from, to] {
        batch
            .put(format!("{prefix}a{i}").as_bytes(), &counter(balances[i]))
            .unwrap();
    }
    map.write_batch(&batch);
}

/// Views read shards that nobody wrote lately through their published copies, without a
/// lock: a batch landing between two shards' reads of one view must not show half of it.
/// The writer pauses between transfers so that readers publish copies of the idle shards.
#[test]
fn views_of_shards_read_through_published_copies_see_whole_batches() {
    const ACCOUNTS: u64 = 32;
    /// Views each reader takes, however the threads are scheduled.
    const VIEWS: u64 = 10_000;
    let map = ShardedMap::new(16);
    for a in 0..ACCOUNTS {
        map.put(format!("a{a}").as_bytes(), &counter(100)).unwrap();
    }
    let total = ACCOUNTS * 100;
    let readers_done = AtomicU64::new(0);
    let torn = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..VIEWS {
                    let view = map.view();
                    let seen: u64 = view.iter().map(|e| read_counter(e.value())).sum();
                    if seen != total {
                        torn.fetch_add(1, Ordering::Relaxed);
                    }
                }
                readers_done.fetch_add(1, Ordering::Release);
            });
        }
        let mut balances = vec![100u64; ACCOUNTS as usize];
        let mut s = 0x5eed;
        while readers_done.load(Ordering::Acquire) < 2 {
            transfer_in_a_batch(&map, "", &mut balances, &mut s);
            for _ in 0..xorshift(&mut s) % 64 {
                std::hint::spin_loop();
            }
        }
    });
    assert_eq!(
        torn.load(Ordering::Relaxed),
        0,
        "views that saw part of a batch"
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

/// Keys of `value`'s objects, as dotted paths, leaves only (arrays by their first element).
fn key_paths(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (key, field) in fields {
                key_paths(field, &format!("{prefix}{key}."), out);
            }
        }
        serde_json::Value::Array(items) if !items.is_empty() => {
            key_paths(&items[0], &format!("{prefix}[]."), out)
        }
        _ => out.push(prefix.trim_end_matches('.').to_string()),
    }
}

#[test]
fn rollback_under_fail_refuses_only_when_the_live_state_differs_from_the_cut() {
    let map = ShardedMap::new(8);
    for i in 0..40u32 {
        map.put(format!("k{i}").as_bytes(), b"v").unwrap();
    }
    let cut = map.snapshot();
    // Writes in several shards that cancel out: a changed value put back, an added key
    // removed, a removed key restored.
    map.put(b"k1", b"other").unwrap();
    map.put(b"k1", b"v").unwrap();
    map.put(b"new", b"x").unwrap();
    map.delete(b"new").unwrap();
    map.delete(b"k2").unwrap();
    map.put(b"k2", b"v").unwrap();
    assert_eq!(map.pending_mutations(), 6);
    let outcome = map.rollback(&cut, RollbackPolicy::Fail).unwrap();
    assert_eq!(outcome.discarded, 6);
    assert_eq!(map.pending_mutations(), 0);
    // Past the shard's write log (over 64 writes to one shard), the check diffs the trees.
    for round in 0..200u32 {
        map.put(b"k3", format!("{round}").as_bytes()).unwrap();
    }
    map.put(b"k3", b"v").unwrap();
    map.rollback(&cut, RollbackPolicy::Fail).unwrap();
    // One real change in one shard refuses, and changes nothing.
    map.put(b"k4", b"changed").unwrap();
    map.put(b"k5", b"other").unwrap();
    map.put(b"k5", b"v").unwrap();
    assert!(matches!(
        map.rollback(&cut, RollbackPolicy::Fail),
        Err(lqft::Error::PendingChanges { count: 3 })
    ));
    assert_eq!(map.get(b"k4").as_deref(), Some(&b"changed"[..]));
    assert_eq!(map.pending_mutations(), 3);
    // Without any snapshot, writes that leave the map empty again cancel out.
    let fresh = ShardedMap::new(4);
    fresh.put(b"a", b"1").unwrap();
    fresh.delete(b"a").unwrap();
    let empty = ShardedMap::new(4).snapshot();
    assert_eq!(
        fresh
            .rollback(&empty, RollbackPolicy::Fail)
            .unwrap()
            .discarded,
        2
    );
}

#[test]
fn compaction_keeps_the_newest_the_current_and_the_pinned_snapshots() {
    let map = ShardedMap::new(4);
    let ids: Vec<u64> = (0..6u8)
        .map(|i| {
            map.put(&[i], b"v").unwrap();
            map.snapshot().id()
        })
        .collect();
    let second = map.snapshot_by_id(ids[1]).unwrap();
    let session = map.pin(&second).unwrap();
    map.rollback(&map.snapshot_by_id(ids[2]).unwrap(), RollbackPolicy::Fail)
        .unwrap();
    let report = map.compact(1);
    assert_eq!(report.pruned, vec![ids[0], ids[3], ids[4]]);
    assert_eq!(report.retained, vec![ids[1], ids[2], ids[5]]);
    assert_eq!(map.snapshot_count(), 3);
    assert_eq!(map.snapshot_at(0).unwrap().id(), ids[1]);
    // A pruned snapshot stays readable through its handle, and a rollback to it works.
    drop(session);
    assert_eq!(map.compact(1).pruned, vec![ids[1]]);
    assert_eq!(second.get(&[1]), Some(&b"v"[..]));
    assert_eq!(second.len(), 2);
    // Ids are never reused.
    assert_eq!(map.next_snapshot_id(), ids[5] + 1);
    let stats = map.stats();
    assert_eq!(stats["compaction"]["runs"], 2);
    assert_eq!(stats["compaction"]["snapshots_pruned"], 4);
    assert_eq!(stats["snapshots"]["pinned"], 0);
}

#[test]
fn retention_prunes_on_every_snapshot_but_keeps_pinned_ones() {
    let map = ShardedMap::new(4);
    let first = map.snapshot();
    let session = map.pin(&first).unwrap();
    assert_eq!(map.stats()["snapshots"]["pinned"], 1);
    assert_eq!(map.set_retention(Some(2)), Vec::<u64>::new());
    assert_eq!(map.retention(), Some(2));
    let later: Vec<u64> = (0..5).map(|_| map.snapshot().id()).collect();
    assert_eq!(map.snapshot_ids(), vec![first.id(), later[3], later[4]]);
    drop(session);
    assert_eq!(map.set_retention(Some(2)), vec![first.id()]);
    assert_eq!(map.set_retention(None), Vec::<u64>::new());
    map.snapshot();
    assert_eq!(map.snapshot_count(), 3);
}

#[test]
fn a_snapshot_of_another_sharded_map_is_registered_under_a_fresh_id() {
    let a = ShardedMap::new(4);
    let b = ShardedMap::new(4);
    a.put(b"x", b"1").unwrap();
    let theirs = a.snapshot();
    b.snapshot();
    b.snapshot();
    assert!(matches!(
        b.pin(&theirs),
        Err(lqft::Error::InvalidArgument(_))
    ));
    b.rollback(&theirs, RollbackPolicy::Fail).unwrap();
    let current = b.current_snapshot().unwrap();
    assert_eq!(current.id(), 3);
    assert_eq!(current.meta().parent_id, None);
    assert_eq!(current.root_hash(), theirs.root_hash());
    assert_eq!(b.get(b"x").as_deref(), Some(&b"1"[..]));
    assert!(b.pin(&current).is_ok());
    assert_eq!(b.stats()["snapshots"]["imported"], 1);
    assert!(matches!(
        b.rollback(&ShardedMap::new(5).snapshot(), RollbackPolicy::Discard),
        Err(lqft::Error::InvalidArgument(_))
    ));
}

#[test]
fn stats_have_the_map_keys_plus_per_shard_figures_that_sum_to_the_totals() {
    let map = ShardedMap::new(4);
    let plain = lqft::Map::new();
    let mut batch = Batch::new();
    for i in 0..200u32 {
        let key = format!("key{i}");
        map.put(key.as_bytes(), &i.to_le_bytes()).unwrap();
        plain.put(key.as_bytes(), &i.to_le_bytes()).unwrap();
        batch.put(format!("b{i}").as_bytes(), b"x").unwrap();
    }
    map.write_batch(&batch);
    map.delete(b"key7").unwrap();
    map.snapshot();
    map.put(b"after", b"y").unwrap();
    let stats = map.stats();
    let mut ours = Vec::new();
    key_paths(&stats, "", &mut ours);
    let mut theirs = Vec::new();
    key_paths(&plain.stats(), "", &mut theirs);
    let extra: Vec<&String> = ours.iter().filter(|k| !theirs.contains(k)).collect();
    assert!(
        extra
            .iter()
            .all(|k| *k == "shard_count" || k.starts_with("shards.")),
        "{extra:?}"
    );
    assert!(theirs.iter().all(|k| ours.contains(k)));
    assert_eq!(stats["shard_count"], 4);
    let shards = stats["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 4);
    let sum = |path: &[&str]| -> u64 {
        shards
            .iter()
            .map(|s| path.iter().fold(s, |v, k| &v[*k]).as_u64().unwrap())
            .sum()
    };
    for path in [
        &["items"][..],
        &["key_bytes"],
        &["value_bytes"],
        &["pending_mutations"],
        &["live", "leaf_nodes"],
        &["live", "branch_nodes"],
        &["live", "node_bytes"],
        &["operations", "puts"],
        &["operations", "deletes"],
    ] {
        let total = path.iter().fold(&stats, |v, k| &v[*k]).as_u64().unwrap();
        assert_eq!(sum(path), total, "{path:?}");
    }
    assert_eq!(stats["items"], 400);
    assert_eq!(stats["pending_mutations"], 1);
    assert_eq!(stats["operations"]["puts"], 201);
    assert_eq!(stats["operations"]["batches"], 1);
    assert_eq!(stats["snapshots"]["taken"], 1);
    assert_eq!(stats["retained"]["versions"], 2);
    assert!(stats["retained"]["shared_nodes"].as_u64().unwrap() > 0);
    // The batch touched every shard: each counts it once, the total once.
    assert_eq!(sum(&["operations", "batches"]), 4);
}

#[test]
fn clear_empties_every_shard_at_once() {
    let map = ShardedMap::new(4);
    for i in 0..50u32 {
        map.put(&i.to_le_bytes(), b"v").unwrap();
    }
    let full = map.snapshot();
    assert_eq!(map.clear(), 50);
    assert!(map.is_empty());
    assert_eq!(map.clear(), 0);
    assert_eq!(full.len(), 50);
    assert_eq!(map.stats()["operations"]["clears"], 1);
    assert_eq!(map.diff_live(&full).unwrap().count(), 50);
    map.rollback(&full, RollbackPolicy::Discard).unwrap();
    assert_eq!(map.len(), 50);
}
