//! Trees whose nodes live in a node source: written with `store_new_nodes`, attached with
//! `Tree::from_stored`, loaded on demand, verified by hash.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use lqft::tree::{Location, NodeSource};
use lqft::{DiffKind, Error, MAX_KEY_LEN, Result, Tree, TryEntries};

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

const PACK: u32 = 7;

/// Records in memory, one pack; counts reads and can be told to fail them.
#[derive(Default)]
struct MemSource {
    records: Mutex<Vec<Vec<u8>>>,
    reads: AtomicUsize,
    /// Reads left before every read fails (`usize::MAX`: never).
    fail_in: AtomicUsize,
}

impl MemSource {
    fn new() -> Arc<MemSource> {
        Arc::new(MemSource {
            fail_in: AtomicUsize::new(usize::MAX),
            ..MemSource::default()
        })
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    fn len(&self) -> usize {
        self.records.lock().unwrap().len()
    }

    /// Writes `tree`'s new nodes; returns the root's location and how many records it wrote.
    fn store(&self, tree: &Tree) -> (Option<Location>, usize) {
        let before = self.len();
        let root = tree
            .store_new_nodes(&mut |record| {
                let mut records = self.records.lock().unwrap();
                records.push(record.to_vec());
                Ok(Location {
                    pack: PACK,
                    ordinal: records.len() as u32 - 1,
                })
            })
            .unwrap();
        (root, self.len() - before)
    }
}

impl NodeSource for MemSource {
    fn read(&self, at: Location) -> Result<Vec<u8>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let left = self.fail_in.load(Ordering::Relaxed);
        if left == 0 {
            return Err(Error::InvalidArgument("injected read failure".into()));
        }
        if left != usize::MAX {
            self.fail_in.store(left - 1, Ordering::Relaxed);
        }
        let records = self.records.lock().unwrap();
        match records.get(at.ordinal as usize) {
            Some(record) if at.pack == PACK => Ok(record.clone()),
            _ => Err(Error::InvalidArgument(format!("no record at {at:?}"))),
        }
    }
}

/// `tree` stored into `source` and attached again, loading nothing.
fn reattach(tree: &Tree, source: &Arc<MemSource>) -> Tree {
    let (root, _) = source.store(tree);
    let Some(root) = root else {
        return Tree::new();
    };
    Tree::from_stored(
        root,
        tree.root_hash(),
        tree.len(),
        tree.key_bytes(),
        tree.value_bytes(),
        source.clone(),
    )
}

fn random_tree(n: usize, seed: u64) -> (Tree, BTreeMap<Vec<u8>, Vec<u8>>) {
    let mut s = seed;
    let mut tree = Tree::new();
    let mut model = BTreeMap::new();
    for i in 0..n {
        // Mixed lengths, shared prefixes and the empty key: every node shape.
        let len = (xorshift(&mut s) % 9) as usize;
        let key: Vec<u8> = (0..len)
            .map(|_| (xorshift(&mut s) % 7) as u8 * 0x25)
            .collect();
        let value = format!("v{i}").into_bytes();
        tree.insert(&key, &value).unwrap();
        model.insert(key, value);
    }
    (tree, model)
}

fn entries(walk: impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    walk.collect::<Result<Vec<_>>>().unwrap()
}

fn owned<'a>(
    walk: impl Iterator<Item = Result<(&'a [u8], &'a [u8])>>,
) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> {
    walk.map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())))
}

fn bound(key: &Option<Vec<u8>>, inclusive: bool) -> Bound<&[u8]> {
    match key {
        None => Bound::Unbounded,
        Some(key) if inclusive => Bound::Included(key),
        Some(key) => Bound::Excluded(key),
    }
}

#[test]
fn a_stored_tree_reads_exactly_as_the_tree_it_came_from() {
    for (n, seed) in [(0, 1), (1, 2), (2, 3), (3, 4), (40, 5), (3000, 6)] {
        let (tree, model) = random_tree(n, seed);
        let source = MemSource::new();
        let stored = reattach(&tree, &source);
        // Attaching and asking for the root hash and counts read nothing.
        assert_eq!(stored.root_hash(), tree.root_hash());
        assert_eq!(
            (stored.len(), stored.key_bytes(), stored.value_bytes()),
            (tree.len(), tree.key_bytes(), tree.value_bytes())
        );
        assert_eq!(source.reads(), 0);
        let mut s = seed;
        for key in model.keys() {
            assert_eq!(stored.try_get(key).unwrap(), tree.get(key));
            let mut miss = key.clone();
            miss.push((xorshift(&mut s) % 256) as u8);
            assert_eq!(stored.try_get(&miss).unwrap(), tree.get(&miss));
        }
        let expected: Vec<(Vec<u8>, Vec<u8>)> = model.clone().into_iter().collect();
        assert_eq!(entries(owned(stored.try_iter())), expected);
        for _ in 0..200 {
            let pick = |s: &mut u64| {
                let len = (xorshift(s) % 5) as usize;
                let key: Vec<u8> = (0..len).map(|_| (xorshift(s) % 7) as u8 * 0x25).collect();
                (!xorshift(s).is_multiple_of(4)).then_some(key)
            };
            let (start, end) = (pick(&mut s), pick(&mut s));
            let (si, ei) = (
                xorshift(&mut s).is_multiple_of(2),
                xorshift(&mut s).is_multiple_of(2),
            );
            let (start, end) = (bound(&start, si), bound(&end, ei));
            let walked = entries(owned(stored.try_range(start, end)));
            let want: Vec<(Vec<u8>, Vec<u8>)> = tree
                .range_bounds(start, end)
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
            assert_eq!(walked, want, "range {start:?}..{end:?}");
            let mut back = entries(owned(stored.try_range(start, end).rev()));
            back.reverse();
            assert_eq!(back, want, "backwards {start:?}..{end:?}");
            // An owned walk taking from both ends by turns meets in the middle.
            let mut walk = TryEntries::new(&stored, start, end);
            let (mut front, mut rear) = (Vec::new(), Vec::new());
            for turn in 0.. {
                let (step, side) = if turn % 3 == 2 {
                    (walk.try_next_back(), &mut rear)
                } else {
                    (walk.try_next(), &mut front)
                };
                let Some(entry) = step.unwrap() else { break };
                side.push((entry.key().to_vec(), entry.value().to_vec()));
            }
            assert!(walk.try_next().unwrap().is_none() && walk.try_next_back().unwrap().is_none());
            front.extend(rear.into_iter().rev());
            assert_eq!(front, want, "both ends {start:?}..{end:?}");
        }
        let prefix = [0x25u8];
        let want: Vec<_> = tree
            .prefix(&prefix)
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(entries(owned(stored.try_prefix(&prefix))), want);
        // The infallible reads work on a loaded tree too.
        assert!(stored.iter().eq(tree.iter()));
        assert_eq!(stored.verify().unwrap(), tree.root_hash());
    }
}

#[test]
fn diffs_of_stored_versions_match_in_memory_diffs() {
    let (mut old, _) = random_tree(2000, 11);
    let source = MemSource::new();
    let stored_old = reattach(&old, &source);
    let mut new = old.clone();
    let mut s = 12u64;
    for i in 0..60 {
        let key: Vec<u8> = (0..(xorshift(&mut s) % 9))
            .map(|_| (xorshift(&mut s) % 7) as u8 * 0x25)
            .collect();
        if i % 3 == 0 {
            new.remove(&key).unwrap();
        } else {
            new.insert(&key, format!("n{i}").as_bytes()).unwrap();
        }
    }
    let stored_new = reattach(&new, &source);
    let want: Vec<_> = old
        .diff(&new)
        .map(|e| {
            (
                e.kind(),
                e.key().to_vec(),
                e.old_value().map(<[u8]>::to_vec),
            )
        })
        .collect();
    for (a, b) in [
        (&stored_old, &stored_new),
        (&stored_old, &new),
        (&old, &stored_new),
    ] {
        let got: Vec<_> = a
            .try_diff(b)
            .map(|e| {
                let e = e.unwrap();
                (
                    e.kind(),
                    e.key().to_vec(),
                    e.old_value().map(<[u8]>::to_vec),
                )
            })
            .collect();
        assert_eq!(got, want);
    }
    old.insert(b"x", b"y").unwrap();
    assert_eq!(stored_old.try_diff(&stored_old).count(), 0);
}

#[test]
fn random_edits_on_a_stored_tree_match_a_btreemap() {
    let source = MemSource::new();
    let dyn_source: Arc<dyn NodeSource> = source.clone();
    let mut tree = Tree::new();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut s = 99u64;
    for round in 0..40 {
        for op in 0..150 {
            let len = (xorshift(&mut s) % 8) as usize;
            let key: Vec<u8> = (0..len)
                .map(|_| (xorshift(&mut s) % 5) as u8 * 0x31)
                .collect();
            if xorshift(&mut s).is_multiple_of(3) {
                assert_eq!(tree.try_remove(&key).unwrap(), model.remove(&key).is_some());
            } else {
                let value = format!("{round}/{op}").into_bytes();
                let new = tree.try_insert(&key, &value).unwrap();
                assert_eq!(new, model.insert(key, value).is_none());
            }
        }
        // Every few rounds the live tree is written and attached again, unloaded; its loaded
        // nodes inlined; or its stored subtrees let go.
        match round % 4 {
            0 => tree = reattach(&tree, &source),
            1 => tree.inline_loaded(),
            2 => {
                source.store(&tree);
                tree.unload(round % 3, &dyn_source);
            }
            _ => {}
        }
        assert_eq!(tree.len(), model.len() as u64);
        for (key, value) in &model {
            assert_eq!(tree.try_get(key).unwrap(), Some(&value[..]));
        }
        let expected: Vec<_> = model.clone().into_iter().collect();
        assert_eq!(entries(owned(tree.try_iter())), expected);
        let mut fresh = Tree::new();
        for (key, value) in model.iter().rev() {
            fresh.insert(key, value).unwrap();
        }
        assert_eq!(tree.root_hash(), fresh.root_hash());
        assert_eq!(tree.verify().unwrap(), fresh.root_hash());
    }
}

#[test]
fn a_second_store_writes_only_the_changed_paths() {
    let mut s = 5u64;
    let mut tree = Tree::new();
    for i in 0..20_000u32 {
        let key = xorshift(&mut s).to_be_bytes();
        tree.insert(&key, &i.to_le_bytes()).unwrap();
    }
    let source = MemSource::new();
    let (_, first) = source.store(&tree);
    assert!(first > 20_000);
    assert_eq!(source.store(&tree).1, 0, "an unchanged tree writes nothing");
    let snapshot = tree.clone();
    for k in [1usize, 10, 100] {
        for _ in 0..k {
            let key = xorshift(&mut s).to_be_bytes();
            tree.insert(&key, b"changed").unwrap();
        }
        let (_, written) = source.store(&tree);
        // Depth at 20k random keys is about 4 levels plus a leaf.
        assert!(
            written >= k && written <= k * 6,
            "{k} edits wrote {written}"
        );
    }
    assert_eq!(
        source.store(&snapshot).1,
        0,
        "the older version is all written"
    );
    // A tree attached from the store and edited writes its changed path only.
    let mut stored = reattach(&tree, &source);
    let key = xorshift(&mut s).to_be_bytes();
    stored.try_insert(&key, b"new").unwrap();
    let (_, written) = source.store(&stored);
    assert!((1..=6).contains(&written), "wrote {written}");
}

#[test]
fn a_diff_of_stored_versions_reads_only_the_differing_paths() {
    let mut s = 8u64;
    let mut tree = Tree::new();
    for i in 0..20_000u32 {
        tree.insert(&xorshift(&mut s).to_be_bytes(), &i.to_le_bytes())
            .unwrap();
    }
    let source = MemSource::new();
    let old = reattach(&tree, &source);
    let k = 10;
    for _ in 0..k {
        tree.insert(&xorshift(&mut s).to_be_bytes(), b"changed")
            .unwrap();
    }
    let new = reattach(&tree, &source);
    let before = source.reads();
    let changes: Vec<_> = old.try_diff(&new).map(|e| e.unwrap()).collect();
    assert_eq!(changes.len(), k);
    assert!(changes.iter().all(|e| e.kind() == DiffKind::Added));
    let reads = source.reads() - before;
    // Both sides of each changed path (about 5 nodes deep), no more.
    assert!(reads <= 2 * k * 7, "{reads} reads for {k} changes");
}

#[test]
fn flipped_bytes_in_records_give_errors_never_wrong_data() {
    let (tree, model) = random_tree(300, 21);
    let source = MemSource::new();
    let (root, _) = source.store(&tree);
    let root = root.unwrap();
    let records = source.records.lock().unwrap().clone();
    let mut s = 3u64;
    let mut caught = 0;
    for trial in 0..400 {
        let mut bad = records.clone();
        let r = (xorshift(&mut s) % bad.len() as u64) as usize;
        let at = (xorshift(&mut s) % bad[r].len() as u64) as usize;
        bad[r][at] ^= 1 << (trial % 8);
        let corrupt = MemSource::new();
        *corrupt.records.lock().unwrap() = bad;
        let stored = Tree::from_stored(
            root,
            tree.root_hash(),
            tree.len(),
            tree.key_bytes(),
            tree.value_bytes(),
            corrupt.clone(),
        );
        let mut failed = false;
        for (key, value) in &model {
            match stored.try_get(key) {
                Ok(found) => assert_eq!(found, Some(&value[..]), "wrong data, trial {trial}"),
                Err(_) => failed = true,
            }
        }
        let mut walked = Vec::new();
        for entry in stored.try_iter() {
            match entry {
                Ok((k, v)) => walked.push((k.to_vec(), v.to_vec())),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        let expected: Vec<_> = model.clone().into_iter().collect();
        assert_eq!(walked[..], expected[..walked.len()], "trial {trial}");
        // Edits and verification fail cleanly too; a tree that read back whole verifies.
        let mut edited = stored.clone();
        let _ = edited.try_insert(b"\x25\x25", b"new");
        let _ = edited.try_remove(model.keys().nth(trial % model.len()).unwrap());
        assert!(failed || stored.verify().is_ok(), "trial {trial}");
        caught += usize::from(failed);
    }
    // Every record is read by the full walk, so every flipped byte is caught.
    assert_eq!(caught, 400);
}

#[test]
fn wrong_locations_and_failed_reads_are_errors() {
    let (tree, model) = random_tree(500, 31);
    let source = MemSource::new();
    let (root, _) = source.store(&tree);
    let root = root.unwrap();
    let attach = |at: Location, source: Arc<MemSource>| {
        Tree::from_stored(
            at,
            tree.root_hash(),
            tree.len(),
            tree.key_bytes(),
            tree.value_bytes(),
            source,
        )
    };
    // A root location that holds another record, or none.
    for at in [
        Location {
            pack: PACK,
            ordinal: 0,
        },
        Location {
            pack: PACK,
            ordinal: 1 << 30,
        },
        Location {
            pack: 1,
            ordinal: root.ordinal,
        },
    ] {
        let stored = attach(at, source.clone());
        assert!(stored.try_get(b"").is_err());
        assert!(stored.try_iter().next().unwrap().is_err());
        assert!(stored.verify().is_err());
    }
    // Records swapped between locations fail their hash checks.
    let swapped = MemSource::new();
    {
        let mut records = source.records.lock().unwrap().clone();
        let n = records.len();
        records.swap(n / 3, n / 2);
        *swapped.records.lock().unwrap() = records;
    }
    let stored = attach(root, swapped);
    assert!(stored.verify().is_err());
    // Reads that fail after any number of successes.
    for fail_in in [0, 1, 2, 5, 20, 100] {
        let flaky = MemSource::new();
        *flaky.records.lock().unwrap() = source.records.lock().unwrap().clone();
        let stored = attach(root, flaky.clone());
        flaky.fail_in.store(fail_in, Ordering::Relaxed);
        let gets: Vec<_> = model.keys().map(|key| stored.try_get(key)).collect();
        assert!(gets.iter().any(|g| g.is_err()));
        for (got, (_, value)) in gets.iter().zip(&model) {
            if let Ok(got) = got {
                assert_eq!(*got, Some(&value[..]));
            }
        }
        let mut edited = attach(root, flaky.clone());
        let len = edited.len();
        if edited.try_insert(b"\x25new", b"v").is_err() {
            assert_eq!(edited.len(), len, "a failed insert changes nothing");
        }
        let ends_in_error = stored.try_iter().any(|entry| entry.is_err());
        assert!(ends_in_error || fail_in > 0);
    }
}

/// A copy of `source`'s records that fails every read after `fail_in` more.
fn flaky_copy(source: &MemSource, fail_in: usize) -> Arc<MemSource> {
    let flaky = MemSource::new();
    *flaky.records.lock().unwrap() = source.records.lock().unwrap().clone();
    flaky.fail_in.store(fail_in, Ordering::Relaxed);
    flaky
}

#[test]
fn an_owned_walk_or_diff_whose_load_fails_stays_put_and_resumes_once_loads_work() {
    let (tree, model) = random_tree(3000, 41);
    let mut edited = tree.clone();
    let mut s = 42u64;
    for i in 0..80 {
        let key: Vec<u8> = (0..(xorshift(&mut s) % 9))
            .map(|_| (xorshift(&mut s) % 7) as u8 * 0x25)
            .collect();
        if i % 3 == 0 {
            edited.remove(&key).unwrap();
        } else {
            edited.insert(&key, format!("n{i}").as_bytes()).unwrap();
        }
    }
    let source = MemSource::new();
    let (old_root, _) = source.store(&tree);
    let (new_root, _) = source.store(&edited);
    let attach = |at: Option<Location>, like: &Tree, source: Arc<MemSource>| {
        Tree::from_stored(
            at.unwrap(),
            like.root_hash(),
            like.len(),
            like.key_bytes(),
            like.value_bytes(),
            source,
        )
    };
    let expected: Vec<(Vec<u8>, Vec<u8>)> = model.into_iter().collect();
    let want_changes: Vec<_> = tree
        .diff(&edited)
        .map(|e| {
            (
                e.kind(),
                e.key().to_vec(),
                e.new_value().map(<[u8]>::to_vec),
            )
        })
        .collect();
    for fail_in in [0, 1, 3, 10, 50] {
        for back in [false, true] {
            let flaky = flaky_copy(&source, fail_in);
            let stored = attach(old_root, &tree, flaky.clone());
            let mut walk = TryEntries::new(&stored, Bound::Unbounded, Bound::Unbounded);
            let (mut got, mut failures) = (Vec::new(), 0);
            loop {
                let step = if back {
                    walk.try_next_back()
                } else {
                    walk.try_next()
                };
                match step {
                    Ok(Some(e)) => got.push((e.key().to_vec(), e.value().to_vec())),
                    Ok(None) => break,
                    // Tried again, the same load fails again until the source works.
                    Err(_) => {
                        failures += 1;
                        if failures == 2 {
                            flaky.fail_in.store(usize::MAX, Ordering::Relaxed);
                        }
                    }
                }
            }
            if back {
                got.reverse();
            }
            assert_eq!(failures, 2, "fail_in {fail_in}");
            assert_eq!(got, expected, "fail_in {fail_in}, backwards {back}");
        }
        let flaky = flaky_copy(&source, fail_in);
        let old = attach(old_root, &tree, flaky.clone());
        let new = attach(new_root, &edited, flaky.clone());
        let mut diff = old.try_diff_owned(&new);
        let (mut got, mut failures) = (Vec::new(), 0);
        loop {
            match diff.try_next() {
                Ok(Some(e)) => got.push((
                    e.kind(),
                    e.key().to_vec(),
                    e.new_value().map(<[u8]>::to_vec),
                )),
                Ok(None) => break,
                Err(_) => {
                    failures += 1;
                    if failures == 2 {
                        flaky.fail_in.store(usize::MAX, Ordering::Relaxed);
                    }
                }
            }
        }
        assert_eq!(failures, 2, "diff, fail_in {fail_in}");
        assert_eq!(got, want_changes, "diff, fail_in {fail_in}");
    }
    // As iterators, the walks end at their first error.
    let flaky = flaky_copy(&source, 20);
    let stored = attach(old_root, &tree, flaky.clone());
    let walked: Vec<_> = TryEntries::new(&stored, Bound::Unbounded, Bound::Unbounded).collect();
    assert!(walked.last().unwrap().is_err());
    assert_eq!(walked.iter().filter(|e| e.is_err()).count(), 1);
    let new = attach(new_root, &edited, flaky);
    let diffed: Vec<_> = stored.try_diff_owned(&new).collect();
    assert!(diffed.last().unwrap().is_err());
    assert_eq!(diffed.iter().filter(|e| e.is_err()).count(), 1);
}

/// The deepest shape keys can take, stored and read back on a thread with a small stack.
#[test]
fn the_deepest_stored_trees_need_no_call_stack() {
    let worker = std::thread::Builder::new().stack_size(256 * 1024);
    worker
        .spawn(|| {
            let depth = 3000usize;
            let key = |i: usize| [vec![0u8; i], vec![0x10]].concat();
            let mut tree = Tree::new();
            for i in (0..depth).rev() {
                tree.insert(&key(i), &i.to_le_bytes()).unwrap();
            }
            tree.insert(&vec![0u8; MAX_KEY_LEN], b"deepest").unwrap();
            let source = MemSource::new();
            let stored = reattach(&tree, &source);
            assert_eq!(
                stored.try_get(&key(depth - 1)).unwrap(),
                Some(&(depth - 1).to_le_bytes()[..])
            );
            assert_eq!(stored.try_iter().count(), depth + 1);
            assert_eq!(stored.verify().unwrap(), tree.root_hash());
            let mut edited = stored.clone();
            edited.try_remove(&key(depth - 1)).unwrap();
            edited.try_insert(&vec![0u8; 1500], b"mid").unwrap();
            let changes: Result<Vec<_>> = stored.try_diff(&edited).collect();
            assert_eq!(changes.unwrap().len(), 2);
            let mut again = reattach(&edited, &source);
            assert_eq!(again.try_diff(&stored).count(), 2);
            let dyn_source: Arc<dyn NodeSource> = source.clone();
            assert_eq!(again.try_iter().count(), depth + 1);
            again.inline_loaded();
            again.unload(2, &dyn_source);
            assert_eq!(again.try_iter().count(), depth + 1);
            drop(again);
            drop(edited);
            drop(stored);
            drop(tree);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn inlined_loaded_nodes_read_without_the_source() {
    let (tree, model) = random_tree(3000, 41);
    let source = MemSource::new();
    let mut stored = reattach(&tree, &source);
    let snapshot = stored.clone();
    // Half the keys loaded, then inlined: those read with every source read failing.
    let loaded: Vec<_> = model.keys().step_by(2).cloned().collect();
    for key in &loaded {
        stored.try_get(key).unwrap();
    }
    stored.inline_loaded();
    source.fail_in.store(0, Ordering::Relaxed);
    for key in &loaded {
        assert_eq!(stored.try_get(key).unwrap(), Some(&model[key][..]));
        assert_eq!(stored.get(key), Some(&model[key][..]));
    }
    source.fail_in.store(usize::MAX, Ordering::Relaxed);
    assert_eq!(stored.root_hash(), tree.root_hash());
    assert_eq!(
        source.store(&stored).1,
        0,
        "inlined nodes keep their locations"
    );
    let expected: Vec<_> = model.clone().into_iter().collect();
    assert_eq!(entries(owned(stored.try_iter())), expected);
    assert_eq!(stored.try_diff(&snapshot).count(), 0);
    stored.inline_loaded();
    assert_eq!(stored.verify().unwrap(), tree.root_hash());
    // Edits on an inlined tree write their paths only.
    stored.try_insert(b"\x25\x4a", b"new").unwrap();
    let (_, written) = source.store(&stored);
    assert!((1..=12).contains(&written), "wrote {written}");
}

#[test]
fn unloaded_subtrees_read_again_from_the_source() {
    let (tree, model) = random_tree(3000, 43);
    let source = MemSource::new();
    let dyn_source: Arc<dyn NodeSource> = source.clone();
    let mut stored = reattach(&tree, &source);
    assert_eq!(stored.try_iter().count(), model.len());
    stored.inline_loaded();
    // New nodes written since stay; everything stored below the top level is let go.
    stored.try_insert(b"\x25\x25\x25", b"unwritten").unwrap();
    stored.unload(1, &dyn_source);
    let before = source.reads();
    source.fail_in.store(0, Ordering::Relaxed);
    assert_eq!(
        stored.try_get(b"\x25\x25\x25").unwrap(),
        Some(&b"unwritten"[..])
    );
    let key = model.keys().next().unwrap();
    assert!(
        stored.try_get(key).is_err(),
        "an unloaded node is read again"
    );
    source.fail_in.store(usize::MAX, Ordering::Relaxed);
    assert!(source.reads() > before);
    let mut expected = model.clone();
    expected.insert(b"\x25\x25\x25".to_vec(), b"unwritten".to_vec());
    let expected: Vec<_> = expected.into_iter().collect();
    assert_eq!(entries(owned(stored.try_iter())), expected);
    let (_, written) = source.store(&stored);
    assert!((1..=6).contains(&written), "wrote {written}");
    // Unloading everything leaves one reference to the stored root.
    stored.unload(0, &dyn_source);
    let reads = source.reads();
    assert_eq!(stored.root_hash(), reattach(&stored, &source).root_hash());
    assert_eq!(source.reads(), reads);
    assert_eq!(entries(owned(stored.try_iter())), expected);
}

#[test]
fn an_owned_diff_of_stored_versions_outlives_them() {
    let (tree, _) = random_tree(1000, 51);
    let source = MemSource::new();
    let old = reattach(&tree, &source);
    let mut new = old.clone();
    new.try_insert(b"\x25\x25\x25\x25", b"added").unwrap();
    new.try_remove(b"").unwrap_or(false);
    let want: Vec<_> = old
        .try_diff(&new)
        .map(|e| e.unwrap().key().to_vec())
        .collect();
    let diff = old.try_diff_owned(&new);
    drop((old, new));
    let got: Vec<_> = diff.map(|e| e.unwrap().key().to_vec()).collect();
    assert_eq!(got, want);
    assert!(!got.is_empty());
}

/// A version built in memory reads and edits with walks that skip the stored case, so every
/// way a version comes to hold stored references must mark it: attached (`from_stored`) or
/// partly let go (`unload`), and every version made from those.
#[test]
fn plain_reads_and_edits_of_stored_and_unloaded_versions_see_every_entry() {
    let (tree, model) = random_tree(2000, 47);
    let source = MemSource::new();
    let dyn_source: Arc<dyn NodeSource> = source.clone();
    let attached = reattach(&tree, &source);
    let mut unloaded = tree.clone();
    unloaded.unload(1, &dyn_source);
    for version in [attached, unloaded] {
        for (key, value) in &model {
            assert_eq!(version.get(key), Some(&value[..]));
        }
        assert_eq!(version.get(b"\x01absent"), None);
        let mut edited = version.clone();
        let mut expected = model.clone();
        for (i, key) in model.keys().enumerate().step_by(7) {
            if i % 2 == 0 {
                assert!(edited.remove(key).unwrap());
                expected.remove(key);
            } else {
                assert!(!edited.insert(key, b"changed").unwrap());
                expected.insert(key.clone(), b"changed".to_vec());
            }
        }
        assert!(edited.insert(b"\x01new", b"added").unwrap());
        expected.insert(b"\x01new".to_vec(), b"added".to_vec());
        let walked: Vec<_> = edited
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(walked, expected.clone().into_iter().collect::<Vec<_>>());
        let mut fresh = Tree::new();
        for (key, value) in &expected {
            fresh.insert(key, value).unwrap();
        }
        assert_eq!(edited.root_hash(), fresh.root_hash());
        assert_eq!(version.diff(&edited).count(), tree.diff(&fresh).count());
    }
}
