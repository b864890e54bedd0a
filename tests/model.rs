//! Model tests: random operation sequences against `BTreeMap`, with shrinking.
//!
//! Keys come from a tiny alphabet so that sequences hit shared prefixes, keys that are prefixes
//! of others, the empty key and embedded NUL bytes.

use std::collections::BTreeMap;

use lqft::{Batch, DiffKind, Map, RollbackPolicy, Snapshot, Tree};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// One expected difference: key, kind, old value, new value.
type Change = (Vec<u8>, DiffKind, Option<Vec<u8>>, Option<Vec<u8>>);

#[derive(Debug, Clone)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Clear,
    Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>),
    Snapshot,
    Rollback(usize, bool),
    Diff(usize, usize),
    Range(Vec<u8>, Vec<u8>, bool),
    Prefix(Vec<u8>),
    Compact(usize),
    Retention(Option<usize>),
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![0x00u8, 0x01, 0x10, 0x11, 0x61, 0xff]),
        0..5,
    )
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..4)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        4 => key().prop_map(Op::Delete),
        1 => Just(Op::Clear),
        2 => prop::collection::vec((key(), prop::option::of(value())), 0..6).prop_map(Op::Batch),
        // Large enough to be applied in key order.
        1 => prop::collection::vec((key(), prop::option::of(value())), 256..400).prop_map(Op::Batch),
        3 => Just(Op::Snapshot),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(i, d)| Op::Rollback(i, d)),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Diff(a, b)),
        2 => (key(), key(), any::<bool>()).prop_map(|(a, b, r)| Op::Range(a, b, r)),
        2 => key().prop_map(Op::Prefix),
        1 => (0usize..4).prop_map(Op::Compact),
        1 => prop::option::of(0usize..4).prop_map(Op::Retention),
    ]
}

/// Under a retention policy the registry holds at most the newest `n` snapshots and the current
/// one (the model pins none).
fn check_retention(map: &Map) {
    let Some(n) = map.retention() else { return };
    let registered: Vec<u64> = map.snapshots().iter().map(|s| s.id()).collect();
    assert!(
        registered.len() <= n + 1,
        "{registered:?} under retention {n}"
    );
}

fn entries(iter: impl Iterator<Item = (Vec<u8>, Vec<u8>)>) -> Vec<(Vec<u8>, Vec<u8>)> {
    iter.collect()
}

fn brute_diff(old: &Model, new: &Model) -> Vec<Change> {
    let mut keys: Vec<&Vec<u8>> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| match (old.get(k), new.get(k)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(a), Some(b)) => Some((
                k.clone(),
                DiffKind::Changed,
                Some(a.clone()),
                Some(b.clone()),
            )),
            (Some(a), None) => Some((k.clone(), DiffKind::Removed, Some(a.clone()), None)),
            (None, Some(b)) => Some((k.clone(), DiffKind::Added, None, Some(b.clone()))),
            (None, None) => None,
        })
        .collect()
}

fn fresh_tree(model: &Model, reverse: bool) -> Tree {
    let mut tree = Tree::new();
    let items: Vec<_> = if reverse {
        model.iter().rev().collect()
    } else {
        model.iter().collect()
    };
    for (k, v) in items {
        tree.insert(k, v).unwrap();
    }
    tree
}

fn check_live(map: &Map, model: &Model) {
    assert_eq!(map.len(), model.len() as u64);
    let got: Vec<_> = map
        .iter()
        .map(|e| (e.key().to_vec(), e.value().to_vec()))
        .collect();
    let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(got, want);
    let view = map.view();
    let back: Vec<_> = view
        .iter()
        .rev()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(back, want.iter().rev().cloned().collect::<Vec<_>>());
    for (k, v) in model {
        assert_eq!(map.get(k).as_deref(), Some(v.as_slice()));
    }
}

fn run(ops: Vec<Op>) {
    let map = Map::new();
    let mut model = Model::new();
    let mut snaps: Vec<(Snapshot, Model)> = Vec::new();
    let mut pending = 0u64;
    // The contents of the current snapshot (empty before the first): a rollback under Fail
    // goes through when the pending writes left the live state equal to it.
    let mut current = Model::new();
    for op in ops {
        match op {
            Op::Put(k, v) => {
                map.put(&k, &v).unwrap();
                // Setting a key to the value it holds is not a mutation.
                pending += u64::from(model.insert(k, v.clone()) != Some(v));
            }
            Op::Delete(k) => {
                let existed = map.delete(&k).unwrap();
                assert_eq!(existed, model.remove(&k).is_some());
                pending += u64::from(existed);
            }
            Op::Clear => {
                let removed = map.clear();
                assert_eq!(removed, model.len() as u64);
                pending += u64::from(!model.is_empty());
                model.clear();
            }
            Op::Batch(items) => {
                let mut batch = Batch::new();
                let mut changed = 0;
                for (k, v) in &items {
                    match v {
                        Some(v) => {
                            batch.put(k, v).unwrap();
                            changed +=
                                u64::from(model.insert(k.clone(), v.clone()) != Some(v.clone()));
                        }
                        None => {
                            batch.delete(k).unwrap();
                            changed += u64::from(model.remove(k).is_some());
                        }
                    }
                }
                assert_eq!(map.write_batch(&batch), changed);
                pending += changed;
            }
            Op::Snapshot => {
                assert_eq!(map.pending_mutations(), pending);
                let parent = map.current_snapshot();
                let snap = map.snapshot();
                assert_eq!(snap.meta().mutation_count, pending);
                assert_eq!(snap.meta().parent_id, parent.as_ref().map(Snapshot::id));
                let parent_model = parent
                    .and_then(|p| {
                        snaps
                            .iter()
                            .find(|(s, _)| s.id() == p.id())
                            .map(|(_, m)| m.clone())
                    })
                    .unwrap_or_default();
                assert_eq!(
                    snap.meta().delta_size,
                    brute_diff(&parent_model, &model).len() as u64
                );
                assert_eq!(snap.len(), model.len() as u64);
                // Canonical form: the same contents built in another order hash the same.
                assert_eq!(snap.root_hash(), fresh_tree(&model, true).root_hash());
                assert_eq!(snap.tree().verify().unwrap(), snap.root_hash());
                snaps.push((snap, model.clone()));
                current = model.clone();
                pending = 0;
                check_retention(&map);
            }
            Op::Rollback(i, discard) => {
                if snaps.is_empty() {
                    continue;
                }
                let (target, target_model) = snaps[i % snaps.len()].clone();
                let policy = if discard {
                    RollbackPolicy::Discard
                } else {
                    RollbackPolicy::Fail
                };
                match map.rollback(&target, policy) {
                    Ok(outcome) => {
                        assert!(discard || pending == 0 || model == current);
                        assert_eq!(outcome.discarded, pending);
                        model = target_model;
                        current = model.clone();
                        pending = 0;
                    }
                    Err(lqft::Error::PendingChanges { count }) => {
                        assert!(!discard && model != current);
                        assert_eq!(count, pending);
                    }
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            Op::Diff(a, b) => {
                if snaps.is_empty() {
                    continue;
                }
                let (sa, ma) = &snaps[a % snaps.len()];
                let (sb, mb) = &snaps[b % snaps.len()];
                let got: Vec<_> = sa
                    .diff(sb)
                    .map(|e| {
                        (
                            e.key().to_vec(),
                            e.kind(),
                            e.old_value().map(<[u8]>::to_vec),
                            e.new_value().map(<[u8]>::to_vec),
                        )
                    })
                    .collect();
                assert_eq!(got, brute_diff(ma, mb));
                let live: Vec<_> = map.diff_live(sa).map(|e| e.key().to_vec()).collect();
                let want: Vec<_> = brute_diff(ma, &model).into_iter().map(|e| e.0).collect();
                assert_eq!(live, want);
            }
            Op::Range(a, b, rev) => {
                let view = map.view();
                let want: Vec<_> = if a <= b {
                    model
                        .range(a.clone()..b.clone())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                } else {
                    Vec::new()
                };
                let got = if rev {
                    let mut got = entries(
                        view.range(&a, &b)
                            .rev()
                            .map(|(k, v)| (k.to_vec(), v.to_vec())),
                    );
                    got.reverse();
                    got
                } else {
                    entries(view.range(&a, &b).map(|(k, v)| (k.to_vec(), v.to_vec())))
                };
                assert_eq!(got, want);
                let owned: Vec<_> = map
                    .range(&a, &b)
                    .map(|e| (e.key().to_vec(), e.value().to_vec()))
                    .collect();
                assert_eq!(owned, want);
            }
            Op::Prefix(p) => {
                let want: Vec<_> = model
                    .iter()
                    .filter(|(k, _)| k.starts_with(&p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let got: Vec<_> = map
                    .prefix(&p)
                    .map(|e| (e.key().to_vec(), e.value().to_vec()))
                    .collect();
                assert_eq!(got, want);
                let view = map.view();
                let back: Vec<_> = view
                    .prefix(&p)
                    .rev()
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .collect();
                assert_eq!(back, want.iter().rev().cloned().collect::<Vec<_>>());
            }
            Op::Retention(n) => {
                let pruned = map.set_retention(n);
                let current = map.current_snapshot().map(|s| s.id());
                assert!(pruned.iter().all(|id| Some(*id) != current));
                check_retention(&map);
            }
            Op::Compact(n) => {
                let report = map.compact(n);
                let current = map.current_snapshot().map(|s| s.id());
                for id in &report.pruned {
                    assert_ne!(Some(*id), current);
                }
                assert!(report.retained.len() <= n + 1);
                // Pruned handles stay readable.
                for (snap, m) in &snaps {
                    assert_eq!(snap.len(), m.len() as u64);
                }
            }
        }
        assert_eq!(map.len(), model.len() as u64);
    }
    check_live(&map, &model);
    let live = map.view();
    assert_eq!(
        live.verify().unwrap(),
        fresh_tree(&model, false).root_hash()
    );
}

proptest! {
    // 450 cases × 200 to 300 operations: about 112,000 operations per run.
    #![proptest_config(ProptestConfig { cases: 450, ..ProptestConfig::default() })]

    #[test]
    fn map_matches_btreemap(ops in prop::collection::vec(op(), 200..300)) {
        run(ops);
    }
}

#[test]
fn a_large_batch_applies_as_its_operations_in_the_order_given() {
    // Every key is written many times, puts and deletes interleaved, so only the order of each
    // key's operations decides the outcome.
    let map = Map::new();
    map.put(b"k3", b"before").unwrap();
    let mut model: Model = [(b"k3".to_vec(), b"before".to_vec())].into();
    let mut batch = Batch::new();
    let mut changed = 0u64;
    let mut s = 0x2545_f491_4f6c_dd1du64;
    for i in 0..3_000u32 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let key = format!("k{}", s % 40).into_bytes();
        if s.is_multiple_of(5) {
            batch.delete(&key).unwrap();
            changed += u64::from(model.remove(&key).is_some());
        } else {
            let value = (i % 7).to_le_bytes().to_vec();
            batch.put(&key, &value).unwrap();
            changed += u64::from(model.insert(key, value.clone()) != Some(value));
        }
    }
    assert_eq!(map.write_batch(&batch), changed);
    assert_eq!(map.pending_mutations(), 1 + changed);
    let entries: Model = map
        .iter()
        .map(|e| (e.key().to_vec(), e.value().to_vec()))
        .collect();
    assert_eq!(entries, model);
    let snapshot = map.snapshot();
    assert_eq!(snapshot.meta().mutation_count, 1 + changed);
}
