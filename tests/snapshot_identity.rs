//! Snapshot identity: an id names one snapshot of one map, whatever was rolled back to, pinned
//! or loaded from files.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use common::TempDir;
use lqft::formats::map_files::{LoadOptions, load_bundle_file, load_snapshot_file, save_bundle};
use lqft::formats::{ErrorKind, WriteOptions, write_persisted_file};
use lqft::{Error, MAX_SNAPSHOT_ID, Map, RollbackPolicy, SnapshotIds};
use serde_json::{Value, json};

fn map_with(entries: &[(&str, &str)]) -> Map {
    let map = Map::new();
    for (k, v) in entries {
        map.put(k.as_bytes(), v.as_bytes()).unwrap();
    }
    map
}

fn fresh() -> LoadOptions<'static> {
    LoadOptions {
        ids: SnapshotIds::Fresh,
        ..LoadOptions::default()
    }
}

/// Writes an unsigned snapshot file whose metadata is `metadata` and whose items are `items`.
fn snapshot_file(path: &Path, metadata: Value, items: &[(&str, &str)]) {
    let items: Vec<Value> = items
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    let payload = json!({"format": "lqft-snapshot-v1", "metadata": metadata, "items": items});
    let Value::Object(payload) = payload else {
        unreachable!()
    };
    write_persisted_file(path, payload, &WriteOptions::default()).unwrap();
}

fn engine_error(error: &lqft::formats::Error) -> &Error {
    assert_eq!(error.kind(), ErrorKind::Engine, "{error}");
    std::error::Error::source(error)
        .and_then(|s| s.downcast_ref::<Error>())
        .unwrap()
}

#[test]
fn rollback_to_another_maps_snapshot_registers_it_under_a_fresh_id() {
    let a = map_with(&[("k", "from a")]);
    let theirs = a.snapshot();
    let b = map_with(&[("k", "from b")]);
    let ours = b.snapshot();
    assert_eq!(theirs.id(), ours.id());

    b.rollback(&theirs, RollbackPolicy::Fail).unwrap();
    let current = b.current_snapshot().unwrap();
    assert_ne!(current.id(), ours.id());
    assert_eq!(current.get(b"k"), Some(&b"from a"[..]));
    assert_eq!(current.meta().parent_id, None);
    assert_eq!(
        b.snapshot_by_id(ours.id()).unwrap().get(b"k"),
        Some(&b"from b"[..])
    );
    assert_eq!(
        b.snapshot_by_id(current.id()).unwrap().get(b"k"),
        Some(&b"from a"[..])
    );

    // A bundle of b restores b's current state, not the other snapshot with the same id.
    let dir = TempDir::new("identity-rollback");
    let path = dir.path("b.json");
    save_bundle(&path, &b, None, &WriteOptions::default()).unwrap();
    let c = Map::new();
    let options = LoadOptions {
        activate: true,
        ..LoadOptions::default()
    };
    load_bundle_file(&c, &path, &options).unwrap();
    assert_eq!(c.get(b"k").as_deref(), Some(&b"from a"[..]));

    // Compaction keeps the current snapshot, and only it.
    let report = b.compact(0);
    assert_eq!(report.pruned, vec![ours.id()]);
    assert_eq!(report.retained, vec![current.id()]);
}

#[test]
fn rollback_to_this_maps_pruned_snapshot_keeps_its_id() {
    let map = map_with(&[("k", "1")]);
    let first = map.snapshot();
    map.put(b"k", b"2").unwrap();
    map.snapshot();
    map.compact(0);
    assert!(map.snapshot_by_id(first.id()).is_none());
    map.rollback(&first, RollbackPolicy::Fail).unwrap();
    assert_eq!(map.current_snapshot().unwrap().id(), first.id());
    assert_eq!(map.get(b"k").as_deref(), Some(&b"1"[..]));
}

#[test]
fn pinning_another_maps_snapshot_is_refused() {
    let a = map_with(&[("k", "a")]);
    let theirs = a.snapshot();
    let b = map_with(&[("k", "b")]);
    let ours = b.snapshot();
    b.put(b"k", b"c").unwrap();
    b.snapshot();
    assert!(matches!(b.pin(&theirs), Err(Error::InvalidArgument(_))));
    // The unrelated snapshot with the same id stays unpinned: compaction prunes it.
    assert_eq!(b.compact(0).pruned, vec![ours.id()]);
    let _session = a.pin(&theirs).unwrap();
    assert!(a.compact(0).pruned.is_empty());
}

#[test]
fn a_file_with_the_largest_id_loads_only_under_a_fresh_id() {
    let dir = TempDir::new("identity-max");
    let path = dir.path("max.json");
    snapshot_file(&path, json!({"snapshot_id": u64::MAX}), &[("k", "v")]);
    let map = Map::new();
    let error = load_snapshot_file(&map, &path, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(engine_error(&error), Error::InvalidArgument(_)),
        "{error}"
    );
    assert!(map.snapshots().is_empty());

    let loaded = load_snapshot_file(&map, &path, &fresh()).unwrap();
    assert_eq!(loaded.id(), 1);
    assert_eq!(loaded.get(b"k"), Some(&b"v"[..]));
    let (next, after) = (map.snapshot(), map.snapshot());
    assert_eq!((next.id(), after.id()), (2, 3));
    assert_eq!(map.snapshots().len(), 3);
}

#[test]
fn the_largest_accepted_id_leaves_room_for_later_snapshots() {
    let dir = TempDir::new("identity-top");
    let path = dir.path("top.json");
    snapshot_file(&path, json!({"snapshot_id": MAX_SNAPSHOT_ID}), &[]);
    let map = Map::new();
    load_snapshot_file(&map, &path, &LoadOptions::default()).unwrap();
    let (next, after) = (map.snapshot(), map.snapshot());
    assert_eq!(
        (next.id(), after.id()),
        (MAX_SNAPSHOT_ID + 1, MAX_SNAPSHOT_ID + 2)
    );
    let ids: Vec<u64> = map.snapshots().iter().map(|s| s.id()).collect();
    assert_eq!(
        ids,
        [MAX_SNAPSHOT_ID, MAX_SNAPSHOT_ID + 1, MAX_SNAPSHOT_ID + 2]
    );
}

#[test]
fn ids_are_never_reused_after_pruning() {
    let dir = TempDir::new("identity-pruned");
    let path = dir.path("first.json");
    let map = map_with(&[("k", "1")]);
    let first = map.snapshot();
    lqft::formats::map_files::save_snapshot(&path, &first, &WriteOptions::default()).unwrap();
    map.put(b"k", b"2").unwrap();
    map.snapshot();
    map.compact(0);
    let error = load_snapshot_file(&map, &path, &LoadOptions::default()).unwrap_err();
    assert_eq!(
        engine_error(&error),
        &Error::DuplicateSnapshot { id: first.id() }
    );
    let loaded = load_snapshot_file(&map, &path, &fresh()).unwrap();
    assert_eq!(loaded.id(), 3);
    assert_eq!(loaded.get(b"k"), Some(&b"1"[..]));
}

#[test]
fn loading_files_without_ids_while_another_thread_takes_snapshots() {
    let dir = TempDir::new("identity-race");
    let path = dir.path("no-id.json");
    snapshot_file(&path, json!({}), &[("k", "v")]);
    let map = map_with(&[("x", "y")]);
    let done = AtomicBool::new(false);
    let loaded = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                map.snapshot();
            }
        });
        let loaded: Vec<u64> = (0..200)
            .map(|_| {
                load_snapshot_file(&map, &path, &LoadOptions::default())
                    .unwrap()
                    .id()
            })
            .collect();
        done.store(true, Ordering::Relaxed);
        loaded
    });
    let mut ids: Vec<u64> = map.snapshots().iter().map(|s| s.id()).collect();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before);
    for id in loaded {
        let snapshot = map.snapshot_by_id(id).unwrap();
        assert_eq!(snapshot.get(b"k"), Some(&b"v"[..]));
        // LQFT's default: a snapshot without an id or a generation has generation = id.
        assert_eq!(snapshot.meta().generation, id);
    }
}

#[test]
fn a_file_from_another_map_loads_under_a_fresh_id_when_its_id_is_taken() {
    let dir = TempDir::new("identity-other");
    let path = dir.path("a.json");
    let a = map_with(&[("k", "a")]);
    lqft::formats::map_files::save_snapshot(&path, &a.snapshot(), &WriteOptions::default())
        .unwrap();
    let b = map_with(&[("k", "b")]);
    let ours = b.snapshot();
    let error = load_snapshot_file(&b, &path, &LoadOptions::default()).unwrap_err();
    assert_eq!(
        engine_error(&error),
        &Error::DuplicateSnapshot { id: ours.id() }
    );
    assert_eq!(b.snapshots().len(), 1);
    let loaded = load_snapshot_file(&b, &path, &fresh()).unwrap();
    assert_eq!(
        (loaded.id(), loaded.meta().parent_id),
        (ours.id() + 1, None)
    );
    assert_eq!(loaded.get(b"k"), Some(&b"a"[..]));
    assert_eq!(
        b.snapshot_by_id(ours.id()).unwrap().get(b"k"),
        Some(&b"b"[..])
    );
}

#[test]
fn a_bundle_under_fresh_ids_keeps_its_parents_and_current_snapshot() {
    let dir = TempDir::new("identity-bundle");
    let path = dir.path("bundle.json");
    let a = Map::new();
    for v in ["1", "2", "3"] {
        a.put(b"k", v.as_bytes()).unwrap();
        a.snapshot();
    }
    a.rollback_to(2, RollbackPolicy::Fail).unwrap();
    save_bundle(&path, &a, None, &WriteOptions::default()).unwrap();

    let b = map_with(&[("k", "b")]);
    b.snapshot();
    let options = LoadOptions {
        activate: true,
        ..fresh()
    };
    let loaded = load_bundle_file(&b, &path, &options).unwrap();
    let ids: Vec<u64> = loaded.iter().map(|s| s.id()).collect();
    assert_eq!(ids, [2, 3, 4]);
    let parents: Vec<Option<u64>> = loaded.iter().map(|s| s.meta().parent_id).collect();
    assert_eq!(parents, [None, Some(2), Some(3)]);
    assert_eq!(b.current_snapshot().unwrap().id(), 3);
    assert_eq!(b.get(b"k").as_deref(), Some(&b"2"[..]));
    assert_eq!(b.snapshot().id(), 5);
}

#[test]
fn a_bundle_with_a_repeated_or_used_id_loads_nothing() {
    let dir = TempDir::new("identity-bundle-dup");
    let path = dir.path("bundle.json");
    let a = Map::new();
    a.snapshot();
    a.snapshot();
    save_bundle(&path, &a, None, &WriteOptions::default()).unwrap();
    let b = Map::new();
    b.snapshot();
    let error = load_bundle_file(&b, &path, &LoadOptions::default()).unwrap_err();
    assert_eq!(engine_error(&error), &Error::DuplicateSnapshot { id: 1 });
    assert_eq!(b.snapshots().len(), 1);
    assert_eq!(b.next_snapshot_id(), 2);
}
