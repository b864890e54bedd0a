//! Pending mutations count writes that changed the live state; a rollback that would lose
//! nothing is never refused.

use lqft::{Batch, Error, Map, RollbackPolicy};

#[test]
fn writing_a_keys_own_value_is_not_pending() {
    let map = Map::new();
    map.put(b"k", b"v").unwrap();
    let snapshot = map.snapshot();
    map.put(b"k", b"v").unwrap();
    assert_eq!(map.pending_mutations(), 0);
    let mut batch = Batch::new();
    batch.put(b"k", b"v").unwrap();
    batch.delete(b"missing").unwrap();
    assert_eq!(map.write_batch(&batch), 0);
    assert_eq!(map.pending_mutations(), 0);
    let outcome = map.rollback(&snapshot, RollbackPolicy::Fail).unwrap();
    assert_eq!(outcome.discarded, 0);
    assert_eq!(map.snapshot().meta().mutation_count, 0);
}

#[test]
fn writes_that_cancel_out_are_dropped_without_refusal() {
    let map = Map::new();
    map.put(b"k", b"v").unwrap();
    let snapshot = map.snapshot();
    map.put(b"k", b"w").unwrap();
    map.put(b"k", b"v").unwrap();
    map.put(b"new", b"x").unwrap();
    map.delete(b"new").unwrap();
    assert_eq!(map.pending_mutations(), 4);
    let outcome = map.rollback(&snapshot, RollbackPolicy::Fail).unwrap();
    assert_eq!(outcome.discarded, 4);

    // The same past the write log's bound, where the check diffs the trees.
    for i in 0..100u32 {
        map.put(&i.to_be_bytes(), b"x").unwrap();
    }
    for i in 0..100u32 {
        map.delete(&i.to_be_bytes()).unwrap();
    }
    map.rollback(&snapshot, RollbackPolicy::Fail).unwrap();

    map.put(b"k", b"changed").unwrap();
    assert_eq!(
        map.rollback(&snapshot, RollbackPolicy::Fail).unwrap_err(),
        Error::PendingChanges { count: 1 }
    );
    assert_eq!(map.get(b"k").as_deref(), Some(&b"changed"[..]));
}

#[test]
fn writes_that_cancel_out_on_a_map_without_snapshots_are_dropped() {
    let map = Map::new();
    let other = Map::new();
    let empty = other.snapshot();
    for i in 0..100u32 {
        map.put(&i.to_be_bytes(), b"x").unwrap();
        map.delete(&i.to_be_bytes()).unwrap();
    }
    map.rollback(&empty, RollbackPolicy::Fail).unwrap();
}
