//! Transactions, compare-and-swap and read views of `Map`: no lost update, a failed commit
//! changes nothing, serialisable outcomes against a model, and invariants that every reader and
//! snapshot sees hold while threads write.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{counter, read_counter, xorshift};
use lqft::{Error, Map};

/// `threads` threads each add 1 to the counter under `key` `per_thread` times with `add`.
fn increment_concurrently(map: &Map, threads: usize, per_thread: u64, add: fn(&Map, &[u8])) {
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    add(map, b"counter");
                }
            });
        }
    });
}

#[test]
fn concurrent_increments_through_transactions_lose_no_update() {
    let map = Map::new();
    map.put(b"counter", &counter(0)).unwrap();
    increment_concurrently(&map, 4, 2_000, |map, key| {
        loop {
            let mut txn = map.begin();
            let value = read_counter(txn.get(key).unwrap());
            txn.put(key, &counter(value + 1)).unwrap();
            match txn.commit() {
                Ok(applied) => return assert_eq!(applied, 1),
                Err(Error::Conflict) => continue,
                Err(other) => panic!("{other}"),
            }
        }
    });
    assert_eq!(read_counter(&map.get(b"counter").unwrap()), 8_000);
}

#[test]
fn concurrent_increments_through_compare_and_swap_lose_no_update() {
    let map = Map::new();
    increment_concurrently(&map, 4, 2_000, |map, key| {
        loop {
            let old = map.get(key);
            let new = counter(old.as_deref().map_or(0, read_counter) + 1);
            if map
                .compare_and_swap(key, old.as_deref(), Some(&new))
                .unwrap()
            {
                return;
            }
        }
    });
    assert_eq!(read_counter(&map.get(b"counter").unwrap()), 8_000);
}

#[test]
fn a_conflicting_commit_changes_nothing() {
    let map = Map::new();
    map.put(b"a", b"1").unwrap();
    let before = map.snapshot();
    let mut txn = map.begin();
    assert_eq!(txn.get(b"a"), Some(&b"1"[..]));
    assert_eq!(txn.get(b"missing"), None);
    txn.put(b"b", b"2").unwrap();
    txn.delete(b"a").unwrap();
    // Reads see the transaction's own writes; the map does not, yet.
    assert_eq!(txn.get(b"b"), Some(&b"2"[..]));
    assert_eq!(txn.get(b"a"), None);
    assert_eq!(map.get(b"b").as_deref(), None);
    // Another writer puts a key the transaction read as absent.
    map.put(b"missing", b"now here").unwrap();
    let stats_before = map.stats();
    assert_eq!(txn.commit(), Err(Error::Conflict));
    assert_eq!(map.get(b"a").as_deref(), Some(&b"1"[..]));
    assert_eq!(map.get(b"b").as_deref(), None);
    assert_eq!(map.pending_mutations(), 1);
    assert_eq!(map.stats()["operations"], stats_before["operations"]);
    assert_eq!(map.diff_live(&before).count(), 1);
}

#[test]
fn a_commit_whose_reads_still_hold_applies_every_write_at_once() {
    let map = Map::new();
    map.put(b"a", b"1").unwrap();
    let mut txn = map.begin();
    assert_eq!(txn.get(b"a"), Some(&b"1"[..]));
    // A write to a key the transaction did not read is no conflict, nor is a write that puts
    // back the value it saw.
    map.put(b"other", b"x").unwrap();
    map.put(b"a", b"9").unwrap();
    map.put(b"a", b"1").unwrap();
    txn.put(b"a", b"2").unwrap();
    txn.put(b"c", b"3").unwrap();
    txn.delete(b"never there").unwrap();
    assert_eq!(txn.writes(), 3);
    assert_eq!(txn.commit(), Ok(2));
    assert_eq!(map.get(b"a").as_deref(), Some(&b"2"[..]));
    assert_eq!(map.get(b"c").as_deref(), Some(&b"3"[..]));
    assert_eq!(map.len(), 3);
}

#[test]
fn compare_and_swap_puts_deletes_and_refuses_by_the_value_it_finds() {
    let map = Map::new();
    assert!(!map.compare_and_swap(b"k", Some(b"v"), Some(b"w")).unwrap());
    assert!(map.compare_and_swap(b"k", None, Some(b"v")).unwrap());
    assert!(!map.compare_and_swap(b"k", None, Some(b"again")).unwrap());
    assert!(!map.compare_and_swap(b"k", Some(b"other"), None).unwrap());
    assert!(map.compare_and_swap(b"k", Some(b"v"), Some(b"")).unwrap());
    assert_eq!(map.get(b"k").as_deref(), Some(&b""[..]));
    assert!(map.compare_and_swap(b"k", Some(b""), None).unwrap());
    assert!(map.is_empty());
    let long = vec![0u8; lqft::MAX_KEY_LEN + 1];
    assert!(matches!(
        map.compare_and_swap(&long, None, Some(b"v")),
        Err(Error::KeyTooLong { .. })
    ));
    assert_eq!(map.stats()["operations"]["puts"], 2);
    assert_eq!(map.stats()["operations"]["deletes"], 1);
}

#[test]
fn a_read_view_is_consistent_and_registers_nothing() {
    let map = Map::new();
    map.put(b"a", b"1").unwrap();
    map.put(b"b", b"2").unwrap();
    let view = map.view();
    map.put(b"a", b"changed").unwrap();
    assert_eq!(view.get(b"a"), Some(&b"1"[..]));
    assert_eq!(map.snapshot_count(), 0);
    let (a, b, root) = map.read_with(|live| {
        (
            live.get(b"a").map(<[u8]>::to_vec),
            live.get(b"b").map(<[u8]>::to_vec),
            live.root_hash(),
        )
    });
    assert_eq!(
        (a.as_deref(), b.as_deref()),
        (Some(&b"changed"[..]), Some(&b"2"[..]))
    );
    assert_eq!(map.snapshot().root_hash(), root);
    assert_eq!(map.snapshot_count(), 1);
}

/// Random transactions against a `BTreeMap`, with writes by "another writer" between a
/// transaction's reads and its commit: a commit must succeed exactly when every key the
/// transaction read still holds what it saw, and then apply exactly its writes.
#[test]
fn transactions_match_a_model() {
    let map = Map::new();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut s = 0x5eed_u64;
    let key = |s: &mut u64| vec![b'k', (xorshift(s) % 12) as u8];
    let (mut committed, mut conflicts) = (0, 0);
    for round in 0..3_000u64 {
        let mut txn = map.begin();
        let mut seen: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        let mut writes: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for step in 0..(xorshift(&mut s) % 6) {
            let k = key(&mut s);
            match xorshift(&mut s) % 4 {
                0 | 1 => {
                    let expect = match writes.get(&k) {
                        Some(w) => w.clone(),
                        None => seen
                            .entry(k.clone())
                            .or_insert_with(|| model.get(&k).cloned())
                            .clone(),
                    };
                    assert_eq!(txn.get(&k).map(<[u8]>::to_vec), expect);
                }
                2 => {
                    let v = format!("{round}.{step}").into_bytes();
                    txn.put(&k, &v).unwrap();
                    writes.insert(k, Some(v));
                }
                _ => {
                    txn.delete(&k).unwrap();
                    writes.insert(k, None);
                }
            }
            // Another writer, now and then.
            if xorshift(&mut s).is_multiple_of(3) {
                let k = key(&mut s);
                if xorshift(&mut s).is_multiple_of(2) {
                    map.put(&k, b"other").unwrap();
                    model.insert(k, b"other".to_vec());
                } else {
                    map.delete(&k).unwrap();
                    model.remove(&k);
                }
            }
        }
        let holds = seen.iter().all(|(k, v)| model.get(k) == v.as_ref());
        match txn.commit() {
            Ok(_) => {
                assert!(holds, "round {round}: committed over a changed read");
                committed += 1;
                for (k, v) in writes {
                    match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
            }
            Err(Error::Conflict) => {
                assert!(
                    !holds,
                    "round {round}: a conflict with every read unchanged"
                );
                conflicts += 1;
            }
            Err(other) => panic!("{other}"),
        }
        let live: BTreeMap<Vec<u8>, Vec<u8>> = map
            .iter()
            .map(|e| (e.key().to_vec(), e.value().to_vec()))
            .collect();
        assert_eq!(live, model, "round {round}");
    }
    assert!(
        committed > 1_000 && conflicts > 100,
        "{committed} / {conflicts}"
    );
}

/// Two threads move amounts between counters in transactions (each transfer changes two keys
/// at once) while a third reads: every consistent read, view, iteration and snapshot sees the
/// sum unchanged.
#[test]
fn transfers_keep_the_sum_for_every_reader_and_snapshot() {
    const ACCOUNTS: u64 = 16;
    const TOTAL: u64 = ACCOUNTS * 1_000;
    let map = Map::new();
    for a in 0..ACCOUNTS {
        map.put(&a.to_be_bytes(), &counter(1_000)).unwrap();
    }
    let sum = |tree: &lqft::Tree| -> u64 { tree.iter().map(|(_, v)| read_counter(v)).sum() };
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for seed in 1..=2u64 {
            let (map, done) = (&map, &done);
            scope.spawn(move || {
                let mut s = seed * 0x9e37_79b9;
                for _ in 0..3_000 {
                    let from = (xorshift(&mut s) % ACCOUNTS).to_be_bytes();
                    let to = (xorshift(&mut s) % ACCOUNTS).to_be_bytes();
                    loop {
                        let mut txn = map.begin();
                        let a = read_counter(txn.get(&from).unwrap());
                        let b = read_counter(txn.get(&to).unwrap());
                        let amount = a.min(xorshift(&mut s) % 50);
                        if from == to {
                            break;
                        }
                        txn.put(&from, &counter(a - amount)).unwrap();
                        txn.put(&to, &counter(b + amount)).unwrap();
                        if txn.commit().is_ok() {
                            break;
                        }
                    }
                }
                done.store(true, Ordering::Relaxed);
            });
        }
        scope.spawn(|| {
            let mut snapshots = 0u64;
            while !done.load(Ordering::Relaxed) {
                assert_eq!(map.read_with(sum), TOTAL);
                assert_eq!(sum(&map.view()), TOTAL);
                let total: u64 = map.iter().map(|e| read_counter(e.value())).sum();
                assert_eq!(total, TOTAL);
                let snapshot = map.snapshot();
                assert_eq!(sum(snapshot.tree()), TOTAL);
                snapshots += 1;
                if snapshots.is_multiple_of(16) {
                    map.compact(4);
                }
            }
        });
    });
    assert_eq!(map.read_with(sum), TOTAL);
}

/// A transaction of many keys (past the few its set compares one by one, so that an index
/// finds them) that deletes keys and puts them again, reads its own deletes and writes, and
/// reads large values, commits exactly the last write to each key.
#[test]
fn a_transaction_of_many_keys_reads_its_own_deletes_and_writes_and_commits_the_last_of_each() {
    let map = Map::new();
    let key = |i: u32| format!("key {i}").into_bytes();
    let large = |i: u32| vec![i as u8; lqft::Value::INLINE + 1 + i as usize];
    for i in 0..200 {
        map.put(&key(i), &large(i)).unwrap();
    }
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = (0..200).map(|i| (key(i), large(i))).collect();
    let mut txn = map.begin();
    for i in 0..300 {
        let k = key(i);
        // Read first for some keys, write first for others.
        if i % 3 != 1 {
            assert_eq!(txn.get(&k).map(<[u8]>::to_vec), model.get(&k).cloned());
        }
        match i % 4 {
            0 => {
                txn.delete(&k).unwrap();
                assert_eq!(txn.get(&k), None);
                model.remove(&k);
            }
            1 => {
                txn.delete(&k).unwrap();
                txn.put(&k, b"put again").unwrap();
                model.insert(k.clone(), b"put again".to_vec());
            }
            2 => {
                txn.put(&k, b"first").unwrap();
                txn.put(&k, b"second").unwrap();
                model.insert(k.clone(), b"second".to_vec());
            }
            _ => {}
        }
        assert_eq!(txn.get(&k).map(<[u8]>::to_vec), model.get(&k).cloned());
    }
    // Every key again, now that the set is past its first slots.
    for i in 0..300 {
        let k = key(i);
        assert_eq!(txn.get(&k).map(<[u8]>::to_vec), model.get(&k).cloned());
    }
    assert_eq!(txn.writes(), 225);
    assert_eq!(map.len(), 200, "nothing is written before commit");
    txn.commit().unwrap();
    let live: BTreeMap<Vec<u8>, Vec<u8>> = map
        .iter()
        .map(|e| (e.key().to_vec(), e.value().to_vec()))
        .collect();
    assert_eq!(live, model);
}

/// A transaction that read a large value (shared with the map, not copied) conflicts when it
/// changes, and commits when a write elsewhere changed the map but not what it read.
#[test]
fn reads_of_large_values_are_checked_at_commit_like_small_ones() {
    let map = Map::new();
    let large = vec![7u8; lqft::Value::INLINE * 4];
    map.put(b"large", &large).unwrap();
    let mut txn = map.begin();
    assert_eq!(txn.get(b"large"), Some(&large[..]));
    map.put(b"elsewhere", b"x").unwrap();
    txn.put(b"out", b"1").unwrap();
    assert_eq!(txn.commit(), Ok(1));
    let mut txn = map.begin();
    assert_eq!(txn.get(b"large"), Some(&large[..]));
    map.put(b"large", &large[1..]).unwrap();
    txn.put(b"out", b"2").unwrap();
    assert_eq!(txn.commit(), Err(Error::Conflict));
    assert_eq!(map.get(b"out").as_deref(), Some(&b"1"[..]));
}

/// Transactions alive at once on one thread keep apart what they touched, however they
/// finish (a set's buffers go to the next transaction the thread begins).
#[test]
fn transactions_alive_at_once_on_one_thread_keep_apart() {
    let map = Map::new();
    map.put(b"a", b"0").unwrap();
    let mut outer = map.begin();
    assert_eq!(outer.get(b"a"), Some(&b"0"[..]));
    outer.put(b"outer", b"o").unwrap();
    for round in 0..3u8 {
        let mut inner = map.begin();
        assert_eq!(inner.get(b"outer"), None);
        inner.put(b"inner", &[round]).unwrap();
        if round == 1 {
            drop(inner);
        } else {
            inner.commit().unwrap();
        }
        assert_eq!(outer.writes(), 1);
        assert_eq!(outer.get(b"a"), Some(&b"0"[..]));
    }
    assert_eq!(outer.get(b"outer"), Some(&b"o"[..]));
    assert_eq!(outer.commit(), Ok(1));
    assert_eq!(map.get(b"inner").as_deref(), Some(&[2u8][..]));
    // A transaction too large for its buffers to be kept, then a small one.
    let mut big = map.begin();
    for i in 0..2_000u32 {
        big.put(&i.to_be_bytes(), &[0u8; 64]).unwrap();
    }
    big.commit().unwrap();
    let mut small = map.begin();
    assert_eq!(small.get(b"a"), Some(&b"0"[..]));
    assert_eq!(small.writes(), 0);
}
