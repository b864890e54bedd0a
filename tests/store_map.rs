//! Every `Map` feature on a store-backed map, persisted across reopening (with the WAL alone
//! and after checkpoints): snapshot metadata, registry, current snapshot, retention, rollback,
//! compaction, imports, batches, transactions, compare-and-swap, fallible ranges and prefixes,
//! diffs that load only differing paths, and stats.

mod common;

use common::{Entries, State, TempDir, entries, pairs, state};
use lqft::engine::journal::{Change, MapImage};
use lqft::formats::WriteOptions;
use lqft::formats::map_files::{
    export_current_state, save_bundle, save_current_state, save_snapshot,
};
use lqft::store::{Store, StoreOptions};
use lqft::{
    Batch, Error, ImportOptions, Map, RollbackPolicy, Snapshot, SnapshotIds, SnapshotMeta, Tree,
};

fn open(dir: &TempDir) -> Store {
    Store::open(
        &dir.0,
        StoreOptions {
            segment_bytes: 4096,
            ..StoreOptions::default()
        },
    )
    .unwrap()
}

/// Reopens twice: from the WAL alone, then after a checkpoint; both must show `expected`.
fn assert_survives(dir: &TempDir, expected: &State) -> Store {
    let store = open(dir);
    assert_eq!(&state(store.map()), expected, "reopened from the WAL");
    store.checkpoint().unwrap();
    drop(store);
    let store = open(dir);
    assert_eq!(&state(store.map()), expected, "reopened after a checkpoint");
    store
}

#[test]
fn snapshots_with_their_metadata_registry_and_retention_survive_reopen() {
    let dir = TempDir::new("store-map-snapshots");
    let expected = {
        let store = open(&dir);
        let map = store.map();
        for i in 0..50u32 {
            map.put(format!("k{i}").as_bytes(), b"one").unwrap();
        }
        let first = map.try_snapshot().unwrap();
        assert_eq!(first.meta().size, 50);
        map.put(b"k1", b"two").unwrap();
        map.delete(b"k2").unwrap();
        let second = map.try_snapshot().unwrap();
        assert_eq!(second.meta().parent_id, Some(first.id()));
        assert_eq!(second.meta().mutation_count, 2);
        assert_eq!(second.meta().delta_size, 2);
        for i in 0..3 {
            map.put(format!("x{i}").as_bytes(), b"three").unwrap();
            map.try_snapshot().unwrap();
        }
        assert_eq!(map.try_set_retention(Some(3)).unwrap(), vec![1, 2]);
        map.put(b"after", b"pending").unwrap();
        state(map)
    };
    assert_eq!(expected.snapshots.len(), 3);
    assert_eq!(expected.pending, 1);
    let store = assert_survives(&dir, &expected);
    // The policy keeps pruning after reopening, and ids are never reused.
    let map = store.map();
    let next = map.try_snapshot().unwrap();
    assert_eq!(next.id(), expected.next_id);
    assert_eq!(map.snapshot_ids().len(), 3);
    let expected = state(map);
    drop(store);
    assert_survives(&dir, &expected);
}

#[test]
fn rollback_compact_and_pending_survive_reopen() {
    let dir = TempDir::new("store-map-rollback");
    let expected = {
        let store = open(&dir);
        let map = store.map();
        map.put(b"a", b"1").unwrap();
        let one = map.try_snapshot().unwrap();
        map.put(b"b", b"2").unwrap();
        map.try_snapshot().unwrap();
        map.put(b"c", b"3").unwrap();
        assert!(matches!(
            map.rollback(&one, RollbackPolicy::Fail),
            Err(Error::PendingChanges { count: 1 })
        ));
        let outcome = map.rollback(&one, RollbackPolicy::Discard).unwrap();
        assert_eq!(outcome.discarded, 1);
        map.put(b"d", b"4").unwrap();
        map.try_snapshot().unwrap();
        map.try_snapshot().unwrap();
        let report = map.try_compact(1).unwrap();
        assert_eq!(report.retained.len(), 1);
        state(map)
    };
    assert_eq!(expected.live.len(), 2);
    let store = assert_survives(&dir, &expected);
    // A pruned snapshot is gone from the store: rolling back to it is refused.
    let map = store.map();
    assert!(matches!(
        map.rollback_to(1, RollbackPolicy::Discard),
        Err(Error::UnknownSnapshot { id: 1 })
    ));
}

#[test]
fn a_pruned_snapshot_cannot_be_rolled_back_to_on_a_store() {
    let dir = TempDir::new("store-map-pruned");
    let store = open(&dir);
    let map = store.map();
    map.put(b"a", b"1").unwrap();
    let old = map.try_snapshot().unwrap();
    map.try_snapshot().unwrap();
    map.try_compact(0).unwrap();
    assert!(matches!(
        map.rollback(&old, RollbackPolicy::Discard),
        Err(Error::UnknownSnapshot { .. })
    ));
}

#[test]
fn batches_transactions_and_compare_and_swap_survive_reopen() {
    let dir = TempDir::new("store-map-writes");
    let expected = {
        let store = open(&dir);
        let map = store.map();
        let mut batch = Batch::new();
        for i in 0..100u32 {
            batch.put(&i.to_be_bytes(), b"batched").unwrap();
        }
        batch.delete(&7u32.to_be_bytes()).unwrap();
        assert_eq!(map.try_write_batch(&batch).unwrap(), 101);
        let mut txn = map.begin();
        assert_eq!(
            txn.try_get(&3u32.to_be_bytes()).unwrap(),
            Some(&b"batched"[..])
        );
        txn.put(&3u32.to_be_bytes(), b"txn").unwrap();
        txn.delete(&4u32.to_be_bytes()).unwrap();
        assert_eq!(txn.commit().unwrap(), 2);
        let mut stale = map.begin();
        stale.try_get(&5u32.to_be_bytes()).unwrap();
        stale.put(&5u32.to_be_bytes(), b"lost").unwrap();
        map.put(&5u32.to_be_bytes(), b"won").unwrap();
        assert!(matches!(stale.commit(), Err(Error::Conflict)));
        assert!(
            map.compare_and_swap(&6u32.to_be_bytes(), Some(b"batched"), Some(b"cas"))
                .unwrap()
        );
        assert!(
            !map.compare_and_swap(&6u32.to_be_bytes(), Some(b"batched"), None)
                .unwrap()
        );
        assert!(
            map.compare_and_swap(&8u32.to_be_bytes(), Some(b"batched"), None)
                .unwrap()
        );
        let before = map.len();
        assert_eq!(map.try_clear().unwrap(), before);
        map.put(b"fresh", b"after clear").unwrap();
        state(map)
    };
    assert_eq!(expected.live.len(), 1);
    assert_survives(&dir, &expected);
}

#[test]
fn writes_before_a_clear_and_ranges_and_prefixes_read_back_after_reopen() {
    let dir = TempDir::new("store-map-ranges");
    let mut model = Entries::new();
    {
        let store = open(&dir);
        let map = store.map();
        for i in 0..2_000u32 {
            let key = format!("{}/{i:05}", ["apple", "berry", "cherry"][i as usize % 3]);
            map.put(key.as_bytes(), &i.to_le_bytes()).unwrap();
            model.insert(key.into_bytes(), i.to_le_bytes().to_vec());
        }
        store.checkpoint().unwrap();
    }
    let store = open(&dir);
    let map = store.map();
    let got: Entries = pairs(map.try_prefix(b"berry/")).unwrap();
    let want: Entries = model
        .iter()
        .filter(|(k, _)| k.starts_with(b"berry/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(got, want);
    let got: Vec<_> = pairs(map.try_range(b"apple/00100", b"berry/00010")).unwrap();
    let want: Vec<_> = model
        .range(b"apple/00100".to_vec()..b"berry/00010".to_vec())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        map.try_iter().count() as u64,
        model.len() as u64,
        "whole iteration"
    );
    assert_eq!(
        map.try_get(b"cherry/00002").unwrap().as_deref(),
        Some(&2u32.to_le_bytes()[..])
    );
    assert!(map.try_get(b"cherry/00003").unwrap().is_none());
}

#[test]
fn open_attaches_every_snapshot_unloaded_and_a_diff_loads_only_differing_paths() {
    let dir = TempDir::new("store-map-lazy");
    {
        let store = open(&dir);
        let map = store.map();
        let mut batch = Batch::new();
        for i in 0..20_000u32 {
            batch
                .put(&(i.wrapping_mul(2_654_435_761)).to_be_bytes(), &[7; 20])
                .unwrap();
        }
        map.try_write_batch(&batch).unwrap();
        for round in 0..20u32 {
            map.put(&round.to_be_bytes(), b"changed").unwrap();
            map.try_snapshot().unwrap();
        }
        store.checkpoint().unwrap();
    }
    let store = open(&dir);
    assert_eq!(store.counters().node_loads, 0, "open loads no node");
    let map = store.map();
    assert_eq!(map.snapshot_count(), 20);
    // The live state equals the last snapshot: one attached version, loaded once for both.
    let last = map.snapshot_by_id(20).unwrap();
    assert!(map.read_with(|live| live.ptr_eq(last.tree())));
    assert!(map.try_get(&7u32.to_be_bytes()).unwrap().is_some());
    let loads = store.counters().node_loads;
    assert!(last.try_get(&7u32.to_be_bytes()).unwrap().is_some());
    assert_eq!(store.counters().node_loads, loads);
    drop(store);
    let store = open(&dir);
    let map = store.map();
    assert_eq!(
        store.counters().node_loads,
        0,
        "listing snapshots loads nothing"
    );
    let first = map.snapshot_by_id(1).unwrap();
    let last = map.snapshot_by_id(20).unwrap();
    let changes: Vec<_> = map
        .try_diff(&first, &last)
        .collect::<lqft::Result<_>>()
        .unwrap();
    assert_eq!(changes.len(), 19);
    let loads = store.counters().node_loads;
    // 19 changed paths of a few levels in each version, against about 22,000 nodes in a
    // version.
    eprintln!("a diff of 19 keys loaded {loads} nodes");
    assert!(
        loads > 0 && loads < 600,
        "a diff of 19 keys loaded {loads} nodes"
    );
}

#[test]
fn imports_and_rollbacks_to_another_maps_snapshots_survive_reopen() {
    let dir = TempDir::new("store-map-import");
    let other = Map::new();
    other.put(b"from", b"elsewhere").unwrap();
    let foreign = other.snapshot();
    let mut tree = Tree::new();
    tree.insert(b"file", b"loaded").unwrap();
    let expected = {
        let store = open(&dir);
        let map = store.map();
        map.put(b"own", b"1").unwrap();
        map.try_snapshot().unwrap();
        let meta = SnapshotMeta {
            id: 10,
            generation: 4,
            parent_id: None,
            created_at_ns: 123,
            mutation_count: 1,
            delta_size: 1,
            size: 1,
        };
        let imported = map
            .import_snapshots(vec![(meta, tree.clone())], &ImportOptions::default())
            .unwrap();
        assert_eq!(imported.snapshots[0].id(), 10);
        let fresh = map
            .import_snapshots(
                vec![(foreign.meta().clone(), foreign.tree().clone())],
                &ImportOptions {
                    ids: SnapshotIds::Fresh,
                    activate: Some(0),
                    pending: RollbackPolicy::Discard,
                },
            )
            .unwrap();
        assert_eq!(fresh.snapshots[0].id(), 11);
        map.put(b"more", b"2").unwrap();
        let adopted = map.rollback(&foreign, RollbackPolicy::Discard).unwrap();
        assert_eq!(adopted.discarded, 1);
        assert_eq!(map.current_snapshot().unwrap().id(), 12);
        state(map)
    };
    assert_eq!(expected.snapshots.len(), 4);
    assert_survives(&dir, &expected);
}

#[test]
fn read_only_openers_see_the_registry_and_refresh_to_new_snapshots() {
    let dir = TempDir::new("store-map-reader");
    let writer = open(&dir);
    writer.map().put(b"a", b"1").unwrap();
    writer.map().try_snapshot().unwrap();
    let reader = Store::open(
        &dir.0,
        StoreOptions {
            read_only: true,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    assert_eq!(state(reader.map()), state(writer.map()));
    let held: Snapshot = reader.map().snapshot_by_id(1).unwrap();
    assert!(matches!(
        reader.map().try_snapshot(),
        Err(Error::InvalidArgument(_))
    ));
    assert!(reader.map().put(b"b", b"2").is_err());
    writer.map().put(b"b", b"2").unwrap();
    writer.map().try_snapshot().unwrap();
    writer.checkpoint().unwrap();
    writer.map().put(b"c", b"3").unwrap();
    reader.refresh().unwrap();
    assert_eq!(state(reader.map()), state(writer.map()));
    assert_eq!(
        entries(held.tree()).len(),
        1,
        "a held snapshot stays readable"
    );
}

#[test]
fn stats_of_a_store_backed_map_count_the_store() {
    let dir = TempDir::new("store-map-stats");
    let store = open(&dir);
    let map = store.map();
    map.put(b"a", b"1").unwrap();
    map.try_snapshot().unwrap();
    store.checkpoint().unwrap();
    let stats = map.stats();
    let s = &stats["store"];
    assert_eq!(s["wal_records"], 2);
    assert_eq!(s["checkpoints"], 1);
    assert_eq!(s["packs"], 1);
    assert_eq!(s["read_only"], false);
    assert!(s["wal_syncs"].as_u64().unwrap() >= 2);
    assert!(Map::new().stats().get("store").is_none());
    drop(store);
    let store = open(&dir);
    let stats = store.map().try_stats().unwrap();
    assert_eq!(stats["items"], 1);
    assert_eq!(stats["snapshots"]["retained"], 1);
    assert_eq!(
        store
            .map()
            .snapshot_by_id(1)
            .unwrap()
            .try_get(b"a")
            .unwrap(),
        Some(&b"1"[..])
    );
}

#[test]
fn replay_refuses_a_snapshot_whose_root_hash_differs() {
    let map = Map::from_image(MapImage {
        next_id: 1,
        ..MapImage::default()
    })
    .unwrap();
    map.replay(&Change::Put {
        key: b"a",
        value: b"1",
    })
    .unwrap();
    let meta = SnapshotMeta {
        id: 1,
        generation: 1,
        parent_id: None,
        created_at_ns: 0,
        mutation_count: 1,
        delta_size: 1,
        size: 1,
    };
    let wrong = Change::Snapshot {
        meta: &meta,
        root: [0; 32],
        pruned: &[],
    };
    assert!(matches!(map.replay(&wrong), Err(Error::Corrupt(_))));
    let right = Change::Snapshot {
        meta: &meta,
        root: map.read_with(Tree::root_hash),
        pruned: &[],
    };
    map.replay(&right).unwrap();
    assert_eq!(map.snapshot_ids(), vec![1]);
    assert_eq!(map.next_snapshot_id(), 2);
}

#[test]
fn pins_are_not_persisted_but_what_they_kept_is() {
    let dir = TempDir::new("store-map-pins");
    {
        let store = open(&dir);
        let map = store.map();
        map.put(b"a", b"1").unwrap();
        let pinned = map.try_snapshot().unwrap();
        let session = map.pin(&pinned).unwrap();
        map.try_snapshot().unwrap();
        map.try_snapshot().unwrap();
        assert_eq!(map.try_compact(1).unwrap().retained, vec![1, 3]);
        drop(session);
    }
    let store = open(&dir);
    let map = store.map();
    assert_eq!(map.snapshot_ids(), vec![1, 3]);
    // No session pins it in this process: the next compaction prunes it.
    assert_eq!(map.try_compact(1).unwrap().pruned, vec![1]);
    drop(store);
    assert_eq!(open(&dir).map().snapshot_ids(), vec![3]);
}

/// A store whose snapshot 1 (also the live state) holds 3,000 keys, checkpointed, with one
/// byte flipped inside the frames of its pack.
fn damaged_store(dir: &TempDir) {
    {
        let store = open(dir);
        let map = store.map();
        for i in 0..3_000u32 {
            map.put(&i.to_be_bytes(), &[9; 30]).unwrap();
        }
        map.try_snapshot().unwrap();
        store.checkpoint().unwrap();
    }
    let packs = dir.path("packs");
    let pack = std::fs::read_dir(&packs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&pack).unwrap();
    // A byte inside the frames (the header is 32 bytes; the footer and table are at the end).
    let at = bytes.len() / 3;
    bytes[at] ^= 0x40;
    std::fs::write(&pack, &bytes).unwrap();
}

#[test]
fn a_damaged_node_reaches_readers_and_writers_of_a_store_backed_map_as_an_error() {
    let dir = TempDir::new("store-map-damage");
    damaged_store(&dir);
    let store = open(&dir);
    let map = store.map();
    assert!(map.try_iter().any(|entry| entry.is_err()));
    assert!(map.try_stats().is_err());
    let snapshot = map.snapshot_by_id(1).unwrap();
    assert!(snapshot.try_iter().any(|entry| entry.is_err()));
    let mut failed_reads = 0;
    let mut failed_writes = 0;
    for i in 0..3_000u32 {
        let key = i.to_be_bytes();
        match map.try_get(&key) {
            Ok(value) => assert_eq!(value.as_deref(), Some(&[9; 30][..])),
            Err(_) => failed_reads += 1,
        }
        let before = map.len();
        match map.put(&key, b"new") {
            Ok(()) => {}
            Err(_) => {
                failed_writes += 1;
                assert_eq!(map.len(), before, "a failed write changes nothing");
            }
        }
    }
    assert!(failed_reads > 0 && failed_writes > 0);
}

#[test]
fn owned_walks_diffs_and_saves_of_a_damaged_store_report_the_corruption() {
    let dir = TempDir::new("store-map-damage-walks");
    damaged_store(&dir);
    let store = open(&dir);
    let map = store.map();
    let snapshot = map.snapshot_by_id(1).unwrap();
    let corrupt = |entry: &lqft::Result<_>| matches!(entry, Err(Error::Corrupt(_)));
    // The owned walks meet the damaged node from either end.
    assert!(map.try_iter().any(|entry| corrupt(&entry.map(drop))));
    assert!(map.try_iter().rev().any(|entry| corrupt(&entry.map(drop))));
    // Every key is new against an empty version: the diffs walk the whole tree.
    let empty = Map::new().snapshot();
    assert!(
        empty
            .try_diff_owned(&snapshot)
            .any(|entry| corrupt(&entry.map(drop)))
    );
    assert!(
        map.try_diff_live(&empty)
            .any(|entry| corrupt(&entry.map(drop)))
    );
    // A save loads the snapshot whole first: the damage fails it and leaves no file.
    let path = dir.path("saved.json");
    let failure = save_snapshot(&path, &snapshot, &WriteOptions::default()).unwrap_err();
    let cause = std::error::Error::source(&failure).and_then(|e| e.downcast_ref::<Error>());
    assert!(matches!(cause, Some(Error::Corrupt(_))), "{failure}");
    let failure = save_bundle(&path, map, None, &WriteOptions::default()).unwrap_err();
    let cause = std::error::Error::source(&failure).and_then(|e| e.downcast_ref::<Error>());
    assert!(matches!(cause, Some(Error::Corrupt(_))), "{failure}");
    assert!(!path.exists());
}

#[test]
fn exporting_the_current_state_of_a_damaged_store_is_an_error_not_a_panic() {
    let dir = TempDir::new("store-map-damage-state");
    damaged_store(&dir);
    let store = open(&dir);
    let map = store.map();
    let engine_cause = |failure: &lqft::formats::Error| {
        let cause = std::error::Error::source(failure).and_then(|e| e.downcast_ref::<Error>());
        assert!(matches!(cause, Some(Error::Corrupt(_))), "{failure}");
    };
    engine_cause(&export_current_state(map).unwrap_err());
    let path = dir.path("state.json");
    engine_cause(&save_current_state(&path, map, &WriteOptions::default()).unwrap_err());
    assert!(!path.exists());
}

#[test]
fn stats_of_a_stored_map_walk_once_and_count_what_the_same_map_in_memory_counts() {
    let dir = TempDir::new("store-map-stats-walk");
    let memory = Map::new();
    {
        let store = open(&dir);
        for map in [store.map().as_ref(), &memory] {
            for i in 0..800u32 {
                map.put(&i.to_be_bytes(), &[1; 20]).unwrap();
            }
            map.try_snapshot().unwrap();
            for i in (0..800u32).step_by(7) {
                map.put(&i.to_be_bytes(), &[2; 20]).unwrap();
            }
            map.try_snapshot().unwrap();
            for i in (0..800u32).step_by(5) {
                map.delete(&i.to_be_bytes()).unwrap();
            }
        }
        store.checkpoint().unwrap();
    }
    let store = open(&dir);
    let before = store.counters().node_loads;
    let stored = store.map().try_stats().unwrap();
    let loads = store.counters().node_loads - before;
    // Hashing caches every branch's hash, as a loaded branch holds it.
    memory.view().root_hash();
    let expected = memory.stats();
    assert_eq!(memory.try_stats().unwrap(), expected);
    // Versions sharing nodes on disk share them in the count. Only the bytes of the
    // snapshots' branches may differ: a branch edited in memory can sit in another size class
    // than the same branch loaded.
    assert_eq!(stored["live"], expected["live"]);
    assert_eq!(
        stored["retained"]["versions"],
        expected["retained"]["versions"]
    );
    assert_eq!(
        stored["retained"]["shared_nodes"],
        expected["retained"]["shared_nodes"]
    );
    for figure in ["leaf_nodes", "branch_nodes", "max_depth"] {
        let (got, want) = (&stored["retained"]["nodes"], &expected["retained"]["nodes"]);
        assert_eq!(got[figure], want[figure], "{figure}");
    }
    for key in ["items", "key_bytes", "value_bytes"] {
        assert_eq!(stored[key], expected[key], "{key}");
    }
    // One walk: every distinct stored node is read once.
    let distinct = stored["retained"]["nodes"]["leaf_nodes"].as_u64().unwrap()
        + stored["retained"]["nodes"]["branch_nodes"]
            .as_u64()
            .unwrap();
    assert!(loads <= distinct, "{loads} loads for {distinct} nodes");
    assert_eq!(store.map().try_stats().unwrap()["live"], stored["live"]);
    assert_eq!(
        store.counters().node_loads - before,
        loads,
        "a second call loads nothing"
    );
}
