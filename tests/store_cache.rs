//! The store's node cache: reads keep the record bytes of loaded nodes near
//! `StoreOptions::cache_bytes` (trims happen, counted, and really unload), every read returns
//! the right value, writes and snapshots survive trims running beside them, and a reopened
//! store sees everything.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{TempDir, xorshift};
use lqft::Error;
use lqft::store::log::Durability;
use lqft::store::{Store, StoreOptions};

const KEYS: u32 = 20_000;
const CACHE: u64 = 64 << 10;

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:08}").into_bytes()
}

fn value(i: u32, round: u32) -> Vec<u8> {
    format!("value-{i}-{round}-{}", "x".repeat((i % 40) as usize)).into_bytes()
}

fn options(cache_bytes: u64) -> StoreOptions {
    StoreOptions {
        durability: Durability::None,
        cache_bytes,
        ..StoreOptions::default()
    }
}

/// A store of `KEYS` keys (round 0 values), checkpointed, in `dir`.
fn filled(dir: &TempDir) {
    let store = Store::open(&dir.0, options(CACHE)).unwrap();
    for i in 0..KEYS {
        store.put(&key(i), &value(i, 0)).unwrap();
    }
    store.checkpoint().unwrap();
}

/// Waits for the trim that the cache's fill passing its bound started.
fn wait_for_trim(store: &Store) {
    let start = Instant::now();
    while store.counters().cache_bytes_in_use > store.counters().cache_bytes {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no trim within 30 s: {:?}",
            store.counters()
        );
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn reading_every_key_keeps_the_cache_within_its_bound_and_trims() {
    let dir = TempDir::new("cache-bound");
    filled(&dir);
    let store = Store::open(&dir.0, options(CACHE)).unwrap();
    // One get loads one path: a few records, each far under this.
    let slack = 16 << 10;
    let mut most = 0;
    for i in 0..KEYS {
        assert_eq!(store.get(&key(i)).unwrap(), Some(value(i, 0)), "key {i}");
        let c = store.counters();
        assert!(
            c.cache_bytes_in_use <= CACHE + slack,
            "after key {i}: {c:?}"
        );
        most = most.max(c.cache_bytes_in_use);
        wait_for_trim(&store);
    }
    let c = store.counters();
    assert!(c.cache_trims >= 10, "{c:?}");
    assert!(most > CACHE / 2, "the cache filled: {most}");
    assert_eq!(store.stats()["cache_trims"], c.cache_trims);
    assert_eq!(store.stats()["cache_bytes"], CACHE);

    // Trims unloaded what was read: a second pass loads again, where a store whose cache
    // holds everything loads nothing.
    let before = store.counters().node_loads;
    for i in 0..KEYS {
        assert_eq!(store.get(&key(i)).unwrap(), Some(value(i, 0)));
        wait_for_trim(&store);
    }
    assert!(store.counters().node_loads - before >= u64::from(KEYS));
    drop(store);
    let roomy = Store::open(&dir.0, options(1 << 30)).unwrap();
    let mut loads = Vec::new();
    for _ in 0..2 {
        for i in 0..KEYS {
            assert_eq!(roomy.get(&key(i)).unwrap(), Some(value(i, 0)));
        }
        loads.push(roomy.counters().node_loads);
    }
    assert_eq!(loads[0], loads[1]);
    let c = roomy.counters();
    assert_eq!(c.cache_trims, 0);
    assert!(c.cache_bytes_in_use > CACHE, "{c:?}");
}

#[test]
fn writes_and_snapshots_survive_trims_running_beside_them() {
    let dir = TempDir::new("cache-concurrent");
    filled(&dir);
    let store = Arc::new(Store::open(&dir.0, options(CACHE)).unwrap());
    let snapshot = store.map().try_snapshot().unwrap().id();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let (store, done) = (Arc::clone(&store), Arc::clone(&done));
            thread::spawn(move || {
                let mut rng = 0x9e37_79b9 + r;
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) || reads < 2_000 {
                    let i = (xorshift(&mut rng) % u64::from(KEYS)) as u32;
                    let got = store.get(&key(i)).unwrap().expect("every key is present");
                    // The writer moves keys from round 0 to round 1, never back.
                    assert!(got == value(i, 0) || got == value(i, 1), "key {i}");
                    reads += 1;
                }
            })
        })
        .collect();
    // Overwrite every other key and add new ones, checkpointing now and then, while trims run.
    for i in (0..KEYS).step_by(2) {
        store.put(&key(i), &value(i, 1)).unwrap();
        store.put(&key(KEYS + i), &value(i, 1)).unwrap();
        if i % 4_000 == 0 {
            store.checkpoint().unwrap();
        }
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        reader.join().unwrap();
    }
    assert!(store.counters().cache_trims > 0, "{:?}", store.counters());
    let check = |store: &Store| {
        for i in 0..KEYS {
            let round = u32::from(i % 2 == 0);
            assert_eq!(
                store.get(&key(i)).unwrap(),
                Some(value(i, round)),
                "key {i}"
            );
            let added = store.get(&key(KEYS + i)).unwrap();
            assert_eq!(added, (i % 2 == 0).then(|| value(i, 1)), "key {}", KEYS + i);
        }
        // The snapshot taken before the writes still reads round 0, through the trims.
        let old = store.map().snapshot_by_id(snapshot).expect("registered");
        for i in (0..KEYS).step_by(97) {
            assert_eq!(old.tree().try_get(&key(i)).unwrap(), Some(&value(i, 0)[..]));
        }
        assert_eq!(store.len(), u64::from(KEYS + KEYS / 2));
    };
    check(&store);
    let trims = store.counters().cache_trims;
    drop(Arc::try_unwrap(store).ok().expect("the readers are done"));
    let store = Store::open(&dir.0, options(CACHE)).unwrap();
    check(&store);
    assert!(store.counters().cache_trims > 0, "{trims} trims before");
}

#[test]
fn a_cache_of_zero_bytes_is_refused() {
    let dir = TempDir::new("cache-zero");
    match Store::open(&dir.0, options(0)) {
        Err(Error::InvalidArgument(message)) => assert!(message.contains("cache_bytes")),
        other => panic!("{:?}", other.map(|_| ())),
    }
}
