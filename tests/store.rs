//! The store: writes survive reopening (with and without checkpoints), one writer at a time,
//! read-only openers see committed states, and a size trigger checkpoints in the background.
//! Power loss is in `store_crash.rs`, I/O faults in `store_faults.rs`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::TempDir;
use lqft::Error;
use lqft::store::log::Durability;
use lqft::store::{Store, StoreOptions};

fn contents(store: &Store) -> BTreeMap<Vec<u8>, Vec<u8>> {
    store
        .view()
        .try_iter()
        .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<lqft::Result<_>>()
        .unwrap()
}

fn small() -> StoreOptions {
    StoreOptions {
        segment_bytes: 4096,
        ..StoreOptions::default()
    }
}

#[test]
fn writes_survive_reopen_with_and_without_checkpoints() {
    let dir = TempDir::new("store-reopen");
    let mut model = BTreeMap::new();
    for round in 0..4u32 {
        let store = Store::open(&dir.0, small()).unwrap();
        assert_eq!(contents(&store), model, "round {round}");
        for i in 0..300u32 {
            let key = format!("key-{}", (i * 7 + round) % 200).into_bytes();
            if i % 5 == 4 {
                let existed = store.delete(&key).unwrap();
                assert_eq!(existed, model.remove(&key).is_some());
            } else {
                let value = format!("v{round}-{i}").into_bytes();
                store.put(&key, &value).unwrap();
                model.insert(key, value);
            }
        }
        if round % 2 == 1 {
            store.checkpoint().unwrap();
            assert!(store.counters().packs > 0);
        }
        assert_eq!(store.len(), model.len() as u64);
    }
    let store = Store::open(&dir.0, small()).unwrap();
    // The root attached at open is unloaded: opening read no node.
    assert_eq!(store.counters().node_loads, 0);
    assert_eq!(contents(&store), model);
    assert!(store.counters().node_loads > 0);
}

#[test]
fn a_second_writer_is_refused_at_once_and_read_only_openers_see_commits() {
    let dir = TempDir::new("store-lock");
    let writer = Store::open(&dir.0, small()).unwrap();
    writer.put(b"a", b"1").unwrap();
    match Store::open(&dir.0, small()) {
        Err(Error::Locked { .. }) => {}
        other => panic!("second writer: {:?}", other.map(|_| ())),
    }
    let read_only = StoreOptions {
        read_only: true,
        ..small()
    };
    let reader = Store::open(&dir.0, read_only).unwrap();
    assert_eq!(reader.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert!(matches!(
        reader.put(b"b", b"2"),
        Err(Error::InvalidArgument(_))
    ));
    writer.put(b"b", b"2").unwrap();
    writer.checkpoint().unwrap();
    writer.put(b"c", b"3").unwrap();
    assert_eq!(reader.get(b"b").unwrap(), None);
    reader.refresh().unwrap();
    assert_eq!(contents(&reader), contents(&writer));
    drop(writer);
    Store::open(&dir.0, small()).unwrap();
}

#[test]
fn close_refuses_later_writes_through_the_map_and_keeps_the_lock_until_the_map_goes() {
    let dir = TempDir::new("store-close");
    let store = Store::open(&dir.0, small()).unwrap();
    let map = Arc::clone(store.map());
    map.put(b"kept", b"1").unwrap();
    let snapshot = map.try_snapshot().unwrap();
    store.close();
    let closed = |e: &Error| matches!(e, Error::InvalidArgument(m) if m.contains("closed"));
    assert!(closed(&map.put(b"after", b"2").unwrap_err()));
    assert!(closed(&map.try_snapshot().unwrap_err()));
    assert!(closed(&store.put(b"after", b"2").unwrap_err()));
    assert!(closed(&store.checkpoint().unwrap_err()));
    // Reads go on.
    assert_eq!(map.try_get(b"kept").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(snapshot.tree().try_get(b"kept").unwrap(), Some(&b"1"[..]));
    assert!(map.try_get(b"after").unwrap().is_none());
    // The lock is held while a handle on the map lives.
    drop(store);
    assert!(matches!(
        Store::open(&dir.0, small()),
        Err(Error::Locked { .. })
    ));
    drop(map);
    let again = Store::open(&dir.0, small()).unwrap();
    assert_eq!(again.get(b"kept").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(again.get(b"after").unwrap(), None);
}

#[test]
fn a_size_trigger_checkpoints_in_the_background_and_retires_the_wal() {
    let dir = TempDir::new("store-trigger");
    let options = StoreOptions {
        checkpoint_bytes: 20_000,
        durability: Durability::None,
        ..small()
    };
    let store = Store::open(&dir.0, options).unwrap();
    for i in 0..2000u32 {
        store.put(&i.to_be_bytes(), &[7; 50]).unwrap();
    }
    drop(store);
    let store = Store::open(&dir.0, options).unwrap();
    assert_eq!(store.len(), 2000);
    assert!(
        store.counters().manifest > 0,
        "a checkpoint should have run"
    );
    let wal: u64 = std::fs::read_dir(dir.0.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(wal < 2000 * 80, "WAL of {wal} bytes was not retired");
}
