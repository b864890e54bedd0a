//! The store's bulk load ([`Store::load`]): one atomic change made durable by a checkpoint
//! instead of the WAL, into empty and non-empty stores, beside logged writes, snapshots and
//! retention, surviving reopen and power loss right after it returns. Power loss at every
//! sync point of a load is in `store_crash.rs`, failed calls in `store_faults.rs`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::TempDir;
use lqft::store::log::Durability;
use lqft::store::sim::{Crash, SimFs};
use lqft::store::{Store, StoreOptions};
use lqft::{Error, MAX_KEY_LEN, RollbackPolicy};

type Contents = BTreeMap<Vec<u8>, Vec<u8>>;

fn contents(store: &Store) -> Contents {
    store
        .view()
        .try_iter()
        .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<lqft::Result<_>>()
        .unwrap()
}

fn entries(n: u32, tag: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            // Scrambled order (a permutation: 7919 is prime to every n used): the load sorts.
            let k = u64::from(i) * 7919 % u64::from(n);
            (
                format!("key-{k:06}").into_bytes(),
                format!("{tag}-{k}").into_bytes(),
            )
        })
        .collect()
}

fn load(store: &Store, entries: &[(Vec<u8>, Vec<u8>)]) -> lqft::Result<u64> {
    store.load(entries.iter().map(|(k, v)| (&k[..], &v[..])))
}

#[test]
fn a_load_into_an_empty_store_writes_no_wal_and_is_durable_when_it_returns() {
    let fs = SimFs::new();
    let options = StoreOptions {
        // The load is durable whatever the store's durability.
        durability: Durability::None,
        ..StoreOptions::default()
    };
    let store = Store::open_with(Arc::new(fs.clone()), options).unwrap();
    let loaded = entries(5_000, "v");
    assert_eq!(load(&store, &loaded).unwrap(), 5_000);
    let model: Contents = loaded.into_iter().collect();
    assert!(contents(&store) == model);
    let counters = store.counters();
    assert_eq!(counters.wal_records, 0, "a load logs nothing");
    assert_eq!((counters.checkpoints, counters.manifest), (1, 1));
    // Power loss right after the load: only synced bytes survive.
    let image = fs.crash(Crash::DropAll);
    drop(store);
    let reopened = Store::open_with(Arc::new(image), options).unwrap();
    assert_eq!(reopened.counters().node_loads, 0, "attached unloaded");
    assert!(contents(&reopened) == model);
    assert_eq!(reopened.len(), 5_000);
}

#[test]
fn a_load_into_a_store_with_writes_keeps_them_and_a_key_given_twice_takes_its_last_value() {
    let dir = TempDir::new("store-load-mixed");
    let mut model = Contents::new();
    let store = Store::open(&dir.0, StoreOptions::default()).unwrap();
    for (key, value) in entries(300, "before") {
        store.put(&key, &value).unwrap();
        model.insert(key, value);
    }
    store.checkpoint().unwrap();
    // Logged writes after the checkpoint, not yet in a pack: the load's manifest covers them.
    store.put(b"logged", b"1").unwrap();
    model.insert(b"logged".to_vec(), b"1".to_vec());
    assert!(store.delete(b"key-000007").unwrap());
    model.remove(b"key-000007".as_slice());
    let mut batch = entries(200, "after");
    // A duplicate: the later value wins, wherever it is in the input.
    batch.push((b"key-000003".to_vec(), b"last".to_vec()));
    batch.insert(0, (b"key-000004".to_vec(), b"first".to_vec()));
    // The value a key holds already: not a change.
    batch.push((b"logged".to_vec(), b"1".to_vec()));
    for (key, value) in &batch {
        model.insert(key.clone(), value.clone());
    }
    let pending = store.map().pending_mutations();
    let changed = load(&store, &batch).unwrap();
    assert_eq!(
        changed, 200,
        "199 changed keys, the re-added one, not the unchanged one"
    );
    assert_eq!(store.map().pending_mutations(), pending + changed);
    assert!(contents(&store) == model);
    // Writes go on after the load, logged as ever.
    store.put(b"later", b"2").unwrap();
    model.insert(b"later".to_vec(), b"2".to_vec());
    drop(store);
    let store = Store::open(&dir.0, StoreOptions::default()).unwrap();
    assert!(contents(&store) == model);
    assert_eq!(store.get(b"key-000004").unwrap().unwrap(), b"after-4");
}

#[test]
fn snapshots_taken_before_a_load_keep_their_state_and_retention_goes_on_after_it() {
    let dir = TempDir::new("store-load-snapshots");
    let store = Store::open(&dir.0, StoreOptions::default()).unwrap();
    let map = store.map();
    map.try_set_retention(Some(2)).unwrap();
    store.put(b"a", b"1").unwrap();
    let first = map.try_snapshot().unwrap();
    load(&store, &entries(1_000, "v")).unwrap();
    assert_eq!(first.try_get(b"key-000001").unwrap(), None);
    let second = map.try_snapshot().unwrap();
    assert_eq!(second.meta().delta_size, 1_000);
    load(&store, &entries(10, "w")).unwrap();
    let third = map.try_snapshot().unwrap();
    // Retention kept the newest two.
    let ids: Vec<u64> = map.snapshots().iter().map(|s| s.id()).collect();
    assert_eq!(ids, [second.id(), third.id()]);
    let after: Contents = contents(&store);
    drop((first, second, third, store));

    let store = Store::open(&dir.0, StoreOptions::default()).unwrap();
    let map = store.map();
    let ids: Vec<u64> = map.snapshots().iter().map(|s| s.id()).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(contents(&store), after);
    // Back to the state between the two loads: the first load's values.
    map.rollback_to(ids[0], RollbackPolicy::Fail).unwrap();
    assert_eq!(store.get(b"key-000001").unwrap().unwrap(), b"v-1");
    assert_eq!(store.get(b"key-000999").unwrap().unwrap(), b"v-999");
    assert_eq!(store.len(), 1_001);
}

#[test]
fn a_refused_load_changes_nothing_and_one_that_changes_nothing_writes_nothing() {
    let dir = TempDir::new("store-load-refused");
    let store = Store::open(&dir.0, StoreOptions::default()).unwrap();
    load(&store, &entries(100, "v")).unwrap();
    let before = (contents(&store), store.counters().manifest);
    // An entry past the key limit, anywhere in the input: nothing is applied.
    let mut bad = entries(50, "x");
    bad.push((vec![1; MAX_KEY_LEN + 1], b"v".to_vec()));
    assert!(matches!(load(&store, &bad), Err(Error::KeyTooLong { .. })));
    // The same entries again, and no entries: nothing changes, no manifest.
    assert_eq!(load(&store, &entries(100, "v")).unwrap(), 0);
    assert_eq!(load(&store, &[]).unwrap(), 0);
    assert_eq!((contents(&store), store.counters().manifest), before);
    // Writing still works: nothing was poisoned.
    store.put(b"k", b"v").unwrap();

    let reader = Store::open(
        &dir.0,
        StoreOptions {
            read_only: true,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    assert!(matches!(
        load(&reader, &entries(5, "r")),
        Err(Error::InvalidArgument(_))
    ));
    store.close().unwrap();
    assert!(matches!(
        load(&store, &entries(5, "c")),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn group_commits_racing_a_load_are_all_kept() {
    let dir = TempDir::new("store-load-race");
    let options = StoreOptions {
        durability: Durability::Group,
        ..StoreOptions::default()
    };
    let store = Store::open(&dir.0, options).unwrap();
    let loaded = entries(20_000, "v");
    std::thread::scope(|scope| {
        for t in 0..3u32 {
            let store = &store;
            scope.spawn(move || {
                for i in 0..300u32 {
                    store.put(format!("t{t}-{i}").as_bytes(), b"x").unwrap();
                }
            });
        }
        for chunk in loaded.chunks(5_000) {
            load(&store, chunk).unwrap();
        }
    });
    let mut model: Contents = loaded.into_iter().collect();
    for t in 0..3u32 {
        for i in 0..300u32 {
            model.insert(format!("t{t}-{i}").into_bytes(), b"x".to_vec());
        }
    }
    assert!(contents(&store) == model);
    drop(store);
    let store = Store::open(&dir.0, options).unwrap();
    assert!(contents(&store) == model);
}

#[test]
fn a_map_load_applies_only_once_publish_succeeds() {
    let map = lqft::Map::new();
    map.put(b"a", b"1").unwrap();
    let before = map.snapshot();
    let loaded = entries(500, "v");
    let pairs = || loaded.iter().map(|(k, v)| (&k[..], &v[..]));
    let refused = map.load_with(pairs(), |image| {
        // The image is the state after the load, with the map's registry.
        assert_eq!(image.live.len(), 501);
        assert_eq!(image.snapshots.len(), 1);
        Err(Error::InvalidArgument("refused".into()))
    });
    assert!(matches!(refused, Err(Error::InvalidArgument(_))));
    assert_eq!(map.len(), 1);
    assert_eq!(map.view().root_hash(), before.tree().root_hash());
    assert_eq!(map.load_with(pairs(), |_| Ok(())).unwrap(), 500);
    assert_eq!(map.len(), 501);
    assert_eq!(map.pending_mutations(), 500);
    assert_eq!(map.snapshot().meta().delta_size, 500);
}
