//! Canonical form, deep trees, limits and hashing of the trie.

use lqft::{Error, MAX_KEY_LEN, Map, RollbackPolicy, Tree, Value};

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn random_keys(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            let len = (xorshift(&mut s) % 6) as usize;
            (0..len)
                .map(|_| (xorshift(&mut s) % 4) as u8 * 0x11)
                .collect()
        })
        .collect()
}

/// Walks `walk` in runs of up to `longest` steps, each from a random end, checking that every
/// entry's value is its key; returns the keys in key order.
fn walk_from_both_ends<'a>(
    mut walk: impl DoubleEndedIterator<Item = (&'a [u8], &'a [u8])>,
    state: &mut u64,
    longest: u64,
) -> Vec<&'a [u8]> {
    let (mut front, mut back) = (Vec::new(), Vec::new());
    loop {
        let (run, forward) = (xorshift(state) % longest, xorshift(state).is_multiple_of(2));
        for _ in 0..run {
            let step = if forward {
                walk.next()
            } else {
                walk.next_back()
            };
            let Some((key, value)) = step else {
                front.extend(back.iter().rev());
                return front;
            };
            assert_eq!(key, value);
            if forward {
                front.push(key)
            } else {
                back.push(key)
            }
        }
    }
}

#[test]
fn insertion_order_does_not_change_the_root() {
    let keys = random_keys(2000, 7);
    let mut forward = Tree::new();
    for (i, k) in keys.iter().enumerate() {
        forward.insert(k, &(i as u32 % 7).to_le_bytes()).unwrap();
    }
    // Same final contents, reached by another order with deletes and re-inserts in between.
    let mut final_values = std::collections::BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        final_values.insert(k.clone(), (i as u32 % 7).to_le_bytes());
    }
    let mut other = Tree::new();
    for (k, v) in final_values.iter().rev() {
        other.insert(k, b"temporary").unwrap();
        other
            .insert(&[k.as_slice(), b"-extra"].concat(), b"x")
            .unwrap();
        other.insert(k, v).unwrap();
    }
    for k in final_values.keys() {
        other.remove(&[k.as_slice(), b"-extra"].concat()).unwrap();
    }
    assert_eq!(forward.len(), other.len());
    assert_eq!(forward.root_hash(), other.root_hash());
    assert_eq!(forward.verify().unwrap(), other.verify().unwrap());
}

#[test]
fn a_delete_undoes_an_insert_exactly() {
    let mut tree = Tree::new();
    for k in random_keys(500, 11) {
        tree.insert(&k, b"v").unwrap();
    }
    let before = tree.clone();
    for probe in [&b""[..], b"\x00", b"\x11\x22", b"new key", b"\xff\xff\xff"] {
        let existed = tree.contains_key(probe);
        let old = tree.get(probe).map(<[u8]>::to_vec);
        tree.insert(probe, b"probe").unwrap();
        match old {
            Some(old) => tree.insert(probe, &old).unwrap(),
            None => tree.remove(probe).unwrap(),
        };
        assert_eq!(tree.contains_key(probe), existed);
        assert_eq!(tree.root_hash(), before.root_hash(), "probe {probe:?}");
        assert_eq!(tree.diff(&before).count(), 0);
    }
}

#[test]
fn inserts_split_skipped_prefixes_and_routed_levels_alike() {
    // The root of these keys splits past a shared prefix: a new key may differ inside the
    // prefix (only a leaf shows where) or exactly at a routed digit (the branches show it).
    let keys: [&[u8]; 9] = [
        b"prefix-a1",
        b"prefix-a2",
        b"prefix-b",
        b"prefiy-zz",
        b"prefix-z",
        b"prefiy",
        b"pr",
        b"prefix-a",
        b"\x00",
    ];
    for rotation in 0..keys.len() {
        let mut tree = Tree::new();
        let mut model = std::collections::BTreeMap::new();
        for key in keys.iter().cycle().skip(rotation).take(keys.len()) {
            assert!(tree.insert(key, key).unwrap());
            model.insert(key.to_vec(), key.to_vec());
            let entries: Vec<(Vec<u8>, Vec<u8>)> =
                tree.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            assert_eq!(entries, model.clone().into_iter().collect::<Vec<_>>());
            for key in model.keys() {
                assert_eq!(tree.get(key), Some(&key[..]));
            }
        }
    }
}

#[test]
fn leaves_moved_by_deletes_and_splits_stay_exact() {
    // Each step moves a leaf to another branch (a delete lifts a sibling over one or several
    // nibbles, an insert splits a leaf right below its branch, or farther down); `verify`
    // checks every slot's cached next digit against its leaf, and the contents against a model.
    let steps: [(&[u8], bool); 12] = [
        (&[0x12, 0x30], true),
        (&[0x12, 0x34], true),
        (&[0x15], true),
        (&[0x12, 0x30], false), // [0x12, 0x34] rises over nibbles 2 and 3
        (&[0x12, 0x50], true),  // splits it at nibble 2, its next digit known
        (&[0x12, 0x51], true),  // and now at nibble 3, its next digit unknown
        (&[0x10], true),
        (&[0x11], true),
        (&[0x20], true),
        (&[0x10], false), // [0x11] rises from nibble 1 to below the root's nibble 0
        (&[0x1f], true),  // splits it at nibble 1, its next digit known
        (&[0x12, 0x34, 0x00], true),
    ];
    let mut tree = Tree::new();
    let mut model = std::collections::BTreeMap::new();
    for (key, insert) in steps {
        if insert {
            tree.insert(key, key).unwrap();
            model.insert(key.to_vec(), key.to_vec());
        } else {
            assert!(tree.remove(key).unwrap());
            model.remove(key);
        }
        tree.verify().unwrap();
        let entries: Vec<(Vec<u8>, Vec<u8>)> =
            tree.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        assert_eq!(entries, model.clone().into_iter().collect::<Vec<_>>());
    }
}

#[test]
fn pairs_form_grow_and_dissolve_under_every_edit() {
    // Keys of two to four nibbles over a small alphabet: branches of two leaves (pairs) form,
    // take a third key at, above and below their split, lose a leaf, and fold into their
    // parents, in place and under snapshots. After each step `verify` checks the layout rule
    // and every next digit; the contents, ranges and diffs against the snapshot before are
    // checked against a model, and the root against a tree built fresh.
    let mut s = 0x9a1f_u64;
    let mut tree = Tree::new();
    let mut model = std::collections::BTreeMap::new();
    let mut snapshots = Vec::new();
    for step in 0..6_000 {
        let len = 1 + (xorshift(&mut s) % 2) as usize;
        let key: Vec<u8> = (0..len)
            .map(|_| [0x00, 0x01, 0x10, 0x11, 0x1f, 0xf1][(xorshift(&mut s) % 6) as usize])
            .collect();
        let before = tree.clone();
        if xorshift(&mut s).is_multiple_of(3) {
            assert_eq!(tree.remove(&key).unwrap(), model.remove(&key).is_some());
        } else {
            let value = step.to_string().into_bytes();
            assert_eq!(
                tree.insert(&key, &value).unwrap(),
                model.insert(key.clone(), value).is_none()
            );
        }
        if step % 7 == 0 {
            snapshots.push(before.clone());
        }
        assert_eq!(tree.verify().unwrap(), tree.root_hash());
        let entries: Vec<(Vec<u8>, Vec<u8>)> =
            tree.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        assert_eq!(entries, model.clone().into_iter().collect::<Vec<_>>());
        let range: Vec<&[u8]> = tree.range(&[0x01], &[0x11, 0x10]).map(|(k, _)| k).collect();
        let expected: Vec<&[u8]> = model
            .range(vec![0x01]..vec![0x11, 0x10])
            .map(|(k, _)| &k[..])
            .collect();
        assert_eq!(range, expected);
        let diff: Vec<Vec<u8>> = before.diff(&tree).map(|e| e.key().to_vec()).collect();
        let expected = if before.iter().eq(tree.iter()) {
            vec![]
        } else {
            vec![key.clone()]
        };
        assert_eq!(diff, expected);
        if step % 500 == 0 {
            let mut fresh = Tree::new();
            for (k, v) in model.iter().rev() {
                fresh.insert(k, v).unwrap();
            }
            assert_eq!(fresh.root_hash(), tree.root_hash());
        }
    }
    for old in &snapshots {
        assert_eq!(old.verify().unwrap(), old.root_hash());
    }
}

#[test]
fn values_read_from_a_map_outlive_its_later_writes() {
    let map = Map::new();
    let lengths = [
        0,
        1,
        Value::INLINE - 1,
        Value::INLINE,
        Value::INLINE + 1,
        70_000,
    ];
    for (i, &len) in lengths.iter().enumerate() {
        map.put(&[i as u8], &vec![i as u8; len]).unwrap();
    }
    let read: Vec<Value> = (0..lengths.len())
        .map(|i| map.get(&[i as u8]).unwrap())
        .collect();
    for i in 0..lengths.len() {
        map.put(&[i as u8], b"overwritten").unwrap();
    }
    map.clear();
    drop(map);
    for (i, (value, &len)) in read.iter().zip(&lengths).enumerate() {
        assert_eq!(&value[..], &vec![i as u8; len][..]);
        assert_eq!(&value.clone()[..], &value[..]);
    }
}

#[test]
fn values_and_the_empty_key_are_binary_safe() {
    let mut tree = Tree::new();
    tree.insert(b"", b"empty").unwrap();
    tree.insert(b"\0", b"nul\0value").unwrap();
    tree.insert(b"\0\0", b"").unwrap();
    assert_eq!(tree.get(b""), Some(&b"empty"[..]));
    assert_eq!(tree.get(b"\0"), Some(&b"nul\0value"[..]));
    assert_eq!(tree.get(b"\0\0"), Some(&b""[..]));
    assert_eq!(tree.get(b"\0\0\0"), None);
    let keys: Vec<_> = tree.iter().map(|(k, _)| k.to_vec()).collect();
    assert_eq!(keys, vec![b"".to_vec(), b"\0".to_vec(), b"\0\0".to_vec()]);
}

#[test]
fn oversized_input_is_rejected_and_changes_nothing() {
    let map = Map::new();
    map.put(b"keep", b"me").unwrap();
    let before = map.view();
    let long_key = vec![7u8; MAX_KEY_LEN + 1];
    assert_eq!(
        map.put(&long_key, b"v"),
        Err(Error::KeyTooLong {
            len: MAX_KEY_LEN + 1
        })
    );
    assert_eq!(
        map.delete(&long_key),
        Err(Error::KeyTooLong {
            len: MAX_KEY_LEN + 1
        })
    );
    let mut batch = lqft::Batch::new();
    batch.put(b"a", b"1").unwrap();
    assert!(batch.put(&long_key, b"v").is_err());
    assert_eq!(batch.len(), 1);
    assert_eq!(map.pending_mutations(), 1);
    assert!(map.view().ptr_eq(&before));
    // The maximum length itself is fine.
    let max_key = vec![7u8; MAX_KEY_LEN];
    map.put(&max_key, b"v").unwrap();
    assert_eq!(map.get(&max_key).as_deref(), Some(&b"v"[..]));
}

/// Keys that are each a prefix of the next make a chain of branches one nibble apart: the
/// deepest shape a set of keys can take. Everything runs on a thread with a small stack, so any
/// recursion proportional to depth would overflow.
#[test]
fn the_deepest_trees_need_no_call_stack() {
    let worker = std::thread::Builder::new().stack_size(128 * 1024);
    let handle = worker
        .spawn(|| {
            let depth = 6000usize;
            let mut tree = Tree::new();
            // key i = i bytes of 0x00 followed by 0x10: splits at every nibble 2i.
            let key = |i: usize| [vec![0u8; i], vec![0x10]].concat();
            for i in (0..depth).rev() {
                tree.insert(&key(i), &i.to_le_bytes()).unwrap();
            }
            let max_key = vec![0u8; MAX_KEY_LEN];
            tree.insert(&max_key, b"deepest").unwrap();
            let snapshot = tree.clone();
            assert_eq!(
                tree.get(&key(depth - 1)),
                Some(&(depth - 1).to_le_bytes()[..])
            );
            assert_eq!(tree.iter().count(), depth + 1);
            assert_eq!(tree.iter().rev().count(), depth + 1);
            assert_eq!(
                tree.range(&key(depth / 2), &key(10)).count(),
                depth / 2 - 10
            );
            let hash = tree.root_hash();
            assert_eq!(tree.verify().unwrap(), hash);
            tree.remove(&key(depth - 1)).unwrap();
            tree.insert(&vec![0u8; 3000], b"mid").unwrap();
            assert_eq!(snapshot.diff(&tree).count(), 2);
            let nodes: std::collections::HashMap<_, _> =
                lqft::tree::encode_tree(&tree).into_iter().collect();
            let back =
                lqft::tree::decode_tree(&tree.root_hash(), |h| nodes.get(h).cloned()).unwrap();
            assert_eq!(back.root_hash(), tree.root_hash());
            drop(back);
            drop(snapshot);
            drop(tree);
        })
        .unwrap();
    handle.join().unwrap();
}

#[test]
fn snapshots_survive_pruning_and_the_map() {
    let map = Map::new();
    map.put(b"a", b"1").unwrap();
    let first = map.snapshot();
    map.put(b"a", b"2").unwrap();
    let second = map.snapshot();
    let session = map.pin(&first).unwrap();
    let report = map.compact(0);
    assert!(
        report.pruned.is_empty(),
        "first is pinned, second is current"
    );
    drop(session);
    let report = map.compact(0);
    assert_eq!(report.pruned, vec![first.id()]);
    assert_eq!(report.retained, vec![second.id()]);
    drop(map);
    assert_eq!(first.get(b"a"), Some(&b"1"[..]));
    assert_eq!(second.get(b"a"), Some(&b"2"[..]));
}

#[test]
fn a_retention_policy_prunes_on_every_snapshot_but_keeps_current_and_pinned() {
    let map = Map::new();
    let ids: Vec<u64> = (0..5u8)
        .map(|i| {
            map.put(b"k", &[i]).unwrap();
            map.snapshot().id()
        })
        .collect();
    let oldest = map.snapshot_by_id(ids[0]).unwrap();
    let session = map.pin(&oldest).unwrap();
    assert_eq!(map.set_retention(Some(2)), ids[1..3].to_vec());
    assert_eq!(map.retention(), Some(2));
    let registered = |map: &Map| map.snapshots().iter().map(|s| s.id()).collect::<Vec<_>>();
    assert_eq!(registered(&map), vec![ids[0], ids[3], ids[4]]);
    map.put(b"k", b"new").unwrap();
    let newest = map.snapshot();
    assert_eq!(registered(&map), vec![ids[0], ids[4], newest.id()]);
    // Rolled back to, an old snapshot stays while it is current.
    drop(session);
    map.rollback_to(ids[4], RollbackPolicy::Fail).unwrap();
    map.set_retention(Some(0));
    assert_eq!(registered(&map), vec![ids[4]]);
    map.set_retention(None);
    map.snapshot();
    map.snapshot();
    assert_eq!(registered(&map).len(), 3);
    assert_eq!(oldest.get(b"k"), Some(&[0u8][..]));
}

#[test]
fn rollback_reports_or_refuses_pending_writes() {
    let map = Map::new();
    map.put(b"k", b"v1").unwrap();
    let snap = map.snapshot();
    map.put(b"k", b"v2").unwrap();
    map.delete(b"k").unwrap();
    assert_eq!(
        map.rollback(&snap, RollbackPolicy::Fail),
        Err(Error::PendingChanges { count: 2 })
    );
    assert!(map.get(b"k").is_none());
    let outcome = map.rollback(&snap, RollbackPolicy::Discard).unwrap();
    assert_eq!(outcome.discarded, 2);
    assert_eq!(map.get(b"k").as_deref(), Some(&b"v1"[..]));
    assert_eq!(
        map.rollback_to(999, RollbackPolicy::Fail).unwrap_err(),
        Error::UnknownSnapshot { id: 999 }
    );
}

#[test]
fn snapshot_metadata_is_counted() {
    let map = Map::new();
    map.put(b"a", b"1").unwrap();
    map.put(b"b", b"1").unwrap();
    let s1 = map.snapshot();
    assert_eq!((s1.meta().generation, s1.meta().parent_id), (1, None));
    assert_eq!(
        (
            s1.meta().mutation_count,
            s1.meta().delta_size,
            s1.meta().size
        ),
        (2, 2, 2)
    );
    map.put(b"a", b"2").unwrap();
    map.put(b"a", b"1").unwrap();
    map.delete(b"b").unwrap();
    let s2 = map.snapshot();
    assert_eq!(
        (s2.meta().generation, s2.meta().parent_id),
        (2, Some(s1.id()))
    );
    assert_eq!(
        (
            s2.meta().mutation_count,
            s2.meta().delta_size,
            s2.meta().size
        ),
        (3, 1, 1)
    );
    assert!(s2.id() > s1.id());
    assert!(s2.meta().created_at_ns >= s1.meta().created_at_ns);
}

#[test]
fn stats_are_counted() {
    let map = Map::new();
    for i in 0u32..100 {
        map.put(&i.to_be_bytes(), b"value").unwrap();
    }
    let s1 = map.snapshot();
    map.put(&5u32.to_be_bytes(), b"changed").unwrap();
    let _s2 = map.snapshot();
    let stats = map.stats();
    assert_eq!(stats["format"], "lqft-stats-v1");
    assert_eq!(stats["items"], 100);
    assert_eq!(stats["key_bytes"], 400);
    assert_eq!(stats["value_bytes"], 99 * 5 + 7);
    assert_eq!(stats["live"]["nodes"], serde_json::Value::Null);
    assert_eq!(stats["live"]["leaf_nodes"], 100);
    assert_eq!(stats["snapshots"]["retained"], 2);
    assert_eq!(stats["snapshots"]["current_id"], 2);
    // Two versions differing in one key share all but the changed path.
    let retained_leaves = stats["retained"]["nodes"]["leaf_nodes"].as_u64().unwrap();
    assert_eq!(retained_leaves, 101);
    // The live state is the current snapshot, so every live node is shared.
    let live_nodes = stats["live"]["leaf_nodes"].as_u64().unwrap()
        + stats["live"]["branch_nodes"].as_u64().unwrap();
    assert_eq!(
        stats["retained"]["shared_nodes"].as_u64().unwrap(),
        live_nodes
    );
    // One more change: only the copied path stops being shared with the snapshots.
    map.put(&7u32.to_be_bytes(), b"changed").unwrap();
    let stats = map.stats();
    let shared = stats["retained"]["shared_nodes"].as_u64().unwrap();
    let depth = stats["live"]["max_depth"].as_u64().unwrap();
    assert!(
        shared >= live_nodes - depth && shared < live_nodes,
        "{shared} of {live_nodes}"
    );
    drop(s1);
}

/// Keys of the maximum length that share all but a few bytes: every walk must reach the far
/// end of 65,535-byte keys and tell them apart there.
#[test]
fn maximum_length_keys_sharing_long_prefixes() {
    let base = vec![0xabu8; MAX_KEY_LEN];
    let mut keys = Vec::new();
    for at in [0, 1, 4096, 32_767, 32_768, MAX_KEY_LEN - 2, MAX_KEY_LEN - 1] {
        for b in [0x00u8, 0x0f, 0xf0, 0xff] {
            let mut key = base.clone();
            key[at] = b;
            keys.push(key);
        }
    }
    keys.push(base.clone());
    keys.push(base[..MAX_KEY_LEN - 1].to_vec());
    let map = Map::new();
    for (i, key) in keys.iter().enumerate() {
        map.put(key, &i.to_le_bytes()).unwrap();
    }
    let first = map.snapshot();
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(map.get(key).as_deref(), Some(&i.to_le_bytes()[..]));
    }
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    let walked: Vec<Vec<u8>> = map.iter().map(|e| e.key().to_vec()).collect();
    assert_eq!(walked, sorted);
    assert_eq!(
        map.prefix(&base[..40_000]).count(),
        sorted
            .iter()
            .filter(|k| k.starts_with(&base[..40_000]))
            .count()
    );
    for key in keys.iter().step_by(3) {
        map.delete(key).unwrap();
    }
    let second = map.snapshot();
    assert_eq!(first.diff(&second).count(), keys.iter().step_by(3).count());
    assert_eq!(second.tree().verify().unwrap(), second.root_hash());
    let mut rebuilt = Tree::new();
    for key in sorted.iter().rev() {
        if !keys.iter().step_by(3).any(|k| k == key) {
            let i = keys.iter().position(|k| k == key).unwrap();
            rebuilt.insert(key, &i.to_le_bytes()).unwrap();
        }
    }
    assert_eq!(rebuilt.root_hash(), second.root_hash());
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Map>();
    send_sync::<lqft::Snapshot>();
    send_sync::<Tree>();
    send_sync::<lqft::Value>();
    send_sync::<lqft::engine::Entries>();
    send_sync::<lqft::OwnedDiff>();
    send_sync::<lqft::ReadSession>();
}

/// Readers on snapshots see exactly their version while a writer keeps committing.
#[test]
fn snapshots_stay_consistent_under_a_concurrent_writer() {
    let map = std::sync::Arc::new(Map::new());
    for i in 0u32..1000 {
        map.put(&i.to_be_bytes(), &0u32.to_le_bytes()).unwrap();
    }
    let first = map.snapshot();
    let expected = first.root_hash();
    let writer = {
        let map = map.clone();
        std::thread::spawn(move || {
            for round in 1u32..=50 {
                for i in (0u32..1000).step_by(7) {
                    map.put(&i.to_be_bytes(), &round.to_le_bytes()).unwrap();
                }
                map.snapshot();
                map.compact(3);
            }
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let snap = first.clone();
            let map = map.clone();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    assert_eq!(snap.iter().count(), 1000);
                    assert!(snap.iter().all(|(_, v)| v == 0u32.to_le_bytes()));
                    assert_eq!(snap.root_hash(), expected);
                    let latest = map.current_snapshot().unwrap();
                    let round = latest.get(&0u32.to_be_bytes()).unwrap().to_vec();
                    // Every key the writer touches carries one round's value in one snapshot.
                    for i in (0u32..1000).step_by(7) {
                        assert_eq!(latest.get(&i.to_be_bytes()).unwrap(), &round[..]);
                    }
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for reader in readers {
        reader.join().unwrap();
    }
    assert_eq!(first.tree().verify().unwrap(), expected);
}

#[test]
fn walks_from_both_ends_meet_exactly_once() {
    let mut s = 11;
    let mut tree = Tree::new();
    let mut model = std::collections::BTreeMap::new();
    for _ in 0..20_000 {
        let key = xorshift(&mut s).to_be_bytes()[..(xorshift(&mut s) % 9) as usize].to_vec();
        tree.insert(&key, &key).unwrap();
        model.insert(key.clone(), key);
    }
    let want: Vec<&[u8]> = model.keys().map(Vec::as_slice).collect();
    // Runs of steps from either end, long enough for the walks to read ahead in both directions.
    for mut seed in 1..=20u64 {
        let mut walk = tree.iter();
        let front = walk_from_both_ends(&mut walk, &mut seed, 700);
        assert_eq!(walk.len(), 0);
        assert_eq!(front, want);
    }
    // Bounded ranges, whose ends the walks gather past, borrowed and owned.
    let map = Map::new();
    for key in &want {
        map.put(key, key).unwrap();
    }
    for (i, start) in (0..want.len()).step_by(997).enumerate() {
        let end = (start + 1 + i * 173).min(want.len() - 1);
        let expect = &want[start..end];
        let got: Vec<&[u8]> = tree.range(want[start], want[end]).map(|(k, _)| k).collect();
        assert_eq!(got, expect);
        let back: Vec<&[u8]> = tree
            .range(want[start], want[end])
            .rev()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(back, expect.iter().rev().copied().collect::<Vec<_>>());
        let owned: Vec<Vec<u8>> = map
            .range(want[start], want[end])
            .map(|e| e.key().to_vec())
            .collect();
        assert_eq!(owned, expect);
    }
}

#[test]
fn switching_ends_anywhere_yields_every_entry_once() {
    for n in [1usize, 2, 3, 8, 9, 10, 17, 127, 128, 129, 300, 1_000] {
        let mut tree = Tree::new();
        let map = Map::new();
        let mut s = n as u64;
        let mut want: Vec<Vec<u8>> = (0..n)
            .map(|_| xorshift(&mut s).to_be_bytes().to_vec())
            .collect();
        for key in &want {
            tree.insert(key, key).unwrap();
            map.put(key, key).unwrap();
        }
        want.sort();
        let step = (n / 40).max(1);
        for switch in (0..=n).step_by(step) {
            // `switch` steps from the front, then the back to the end, then the front again.
            let mut walk = tree.iter();
            let mut front: Vec<Vec<u8>> = walk
                .by_ref()
                .take(switch)
                .map(|(k, _)| k.to_vec())
                .collect();
            let back: Vec<Vec<u8>> = walk.by_ref().rev().map(|(k, _)| k.to_vec()).collect();
            front.extend(walk.map(|(k, _)| k.to_vec()));
            front.extend(back.into_iter().rev());
            assert_eq!(front, want, "n = {n}, switch after {switch}");
            let mut entries = map.iter();
            let mut front: Vec<Vec<u8>> = entries
                .by_ref()
                .take(switch)
                .map(|e| e.key().to_vec())
                .collect();
            let back: Vec<Vec<u8>> = entries.by_ref().rev().map(|e| e.key().to_vec()).collect();
            front.extend(entries.map(|e| e.key().to_vec()));
            front.extend(back.into_iter().rev());
            assert_eq!(front, want, "owned, n = {n}, switch after {switch}");
        }
    }
}

#[test]
fn ranges_with_any_bounds_walked_from_both_ends_match_a_btreemap() {
    use std::collections::BTreeMap;
    use std::ops::Bound;
    let mut s = 0x1234_5678_9abc_def1u64;
    // Keys over a few nibble values, so that branches of every shape and depth occur.
    let key = |s: &mut u64| -> Vec<u8> {
        const ALPHABET: [u8; 6] = [0, 1, 0x10, 0x11, 0xf0, 0xff];
        let len = (xorshift(s) % 7) as usize;
        (0..len)
            .map(|_| ALPHABET[(xorshift(s) % 6) as usize])
            .collect()
    };
    for n in [1usize, 5, 50, 300, 2_000, 1, 5, 50, 300, 2_000] {
        let mut tree = Tree::new();
        let mut model = BTreeMap::new();
        for _ in 0..n {
            let mut k = key(&mut s);
            k.extend_from_slice(&xorshift(&mut s).to_be_bytes()[..(xorshift(&mut s) % 3) as usize]);
            tree.insert(&k, &k).unwrap();
            model.insert(k.clone(), ());
        }
        for _ in 0..20 {
            let bound = |s: &mut u64| match xorshift(s) % 3 {
                0 => Bound::Unbounded,
                1 => Bound::Included(key(s)),
                _ => Bound::Excluded(key(s)),
            };
            let (start, end) = (bound(&mut s), bound(&mut s));
            let ordered = match (&start, &end) {
                (Bound::Included(a), Bound::Included(b)) => a <= b,
                (
                    Bound::Included(a) | Bound::Excluded(a),
                    Bound::Included(b) | Bound::Excluded(b),
                ) => a < b,
                _ => true,
            };
            if !ordered {
                continue;
            }
            let want: Vec<&[u8]> = model
                .range::<Vec<u8>, _>((start.clone(), end.clone()))
                .map(|(k, _)| k.as_slice())
                .collect();
            let walk = tree.range_bounds(
                start.as_ref().map(Vec::as_slice),
                end.as_ref().map(Vec::as_slice),
            );
            let front = walk_from_both_ends(walk, &mut s, 300);
            assert_eq!(front, want, "{n} keys, range {start:?}..{end:?}");
        }
    }
}

/// A node shared by two versions can sit deeper in the second than in the first: the retained
/// depth is the longest path of any version, however the walk first met the shared node.
#[test]
fn retained_max_depth_counts_a_shared_node_at_its_deepest() {
    let map = Map::new();
    for key in [&b"a1x"[..], b"a1y", b"a1z", b"b", b"a2"] {
        map.put(key, b"v").unwrap();
    }
    // Under "a" a branch splits "a1" from "a2"; the branch over a1x, a1y, a1z sits below it.
    let deep = map.snapshot();
    map.delete(b"a2").unwrap();
    // The live state still holds the a1 branch, one level up: the walk meets it there first.
    let stats = map.stats();
    assert_eq!(stats["live"]["max_depth"], 3);
    assert_eq!(stats["retained"]["versions"], 2);
    assert_eq!(stats["retained"]["nodes"]["max_depth"], 4);
    drop(deep);
}
