//! Model test of a store-backed `Map` with reopening and crashes, against a `BTreeMap` model:
//! random puts, deletes, batches, compare-and-swaps, clears, snapshots, rollbacks, retention
//! changes, compactions, imports, checkpoints and syncs, with clean reopens and simulated
//! power loss at random points. After every reopen the live entries, the registry (ids and
//! each snapshot's entries and metadata), the current snapshot, the retention policy and the
//! next id must be the model's: after a clean reopen exactly, after a crash one of the states
//! since the last durable point (acknowledged history plus possibly a prefix of what was not
//! yet durable).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use common::xorshift;
use lqft::store::log::Durability;
use lqft::store::sim::{Crash, SimFs};
use lqft::store::{Store, StoreOptions};
use lqft::{
    Batch, Error, ImportOptions, Map, ReadSession, RollbackPolicy, SnapshotIds, SnapshotMeta, Tree,
};

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

/// What the store must hold.
#[derive(Clone, Debug, PartialEq)]
struct Model {
    live: Entries,
    registry: BTreeMap<u64, Arc<Entries>>,
    current: Option<u64>,
    next_id: u64,
    retention: Option<usize>,
}

impl Model {
    fn new() -> Model {
        Model {
            live: Entries::new(),
            registry: BTreeMap::new(),
            current: None,
            next_id: 1,
            retention: None,
        }
    }

    /// Prunes to the newest `keep` snapshots plus the current one and the pinned ones.
    fn prune(&mut self, keep: usize, pinned: &BTreeSet<u64>) -> Vec<u64> {
        let excess = self.registry.len().saturating_sub(keep);
        let pruned: Vec<u64> = self
            .registry
            .keys()
            .take(excess)
            .copied()
            .filter(|id| Some(*id) != self.current && !pinned.contains(id))
            .collect();
        for id in &pruned {
            self.registry.remove(id);
        }
        pruned
    }
}

fn entries(tree: &Tree) -> Entries {
    tree.try_iter()
        .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<lqft::Result<_>>()
        .unwrap()
}

/// The store's state in the model's terms.
fn observe(map: &Map) -> Model {
    Model {
        live: common::pairs(map.try_iter()).unwrap(),
        registry: map
            .snapshots()
            .iter()
            .map(|s| (s.id(), Arc::new(entries(s.tree()))))
            .collect(),
        current: map.current_snapshot().map(|s| s.id()),
        next_id: map.next_snapshot_id(),
        retention: map.retention(),
    }
}

struct Run {
    fs: SimFs,
    store: Option<Store>,
    model: Model,
    /// Model states since the last point where everything was durable, oldest first: a crash
    /// may recover any of them.
    window: Vec<Model>,
    /// Every snapshot's metadata as taken or imported.
    metas: HashMap<u64, SnapshotMeta>,
    /// Read sessions held now (in-memory: a reopen or crash ends them).
    sessions: Vec<ReadSession>,
    rng: u64,
    durability: Durability,
    ops: u64,
    reopens: u64,
    crashes: u64,
}

fn options(durability: Durability) -> StoreOptions {
    StoreOptions {
        durability,
        segment_bytes: 16 << 10,
        checkpoint_bytes: 96 << 10,
        ..StoreOptions::default()
    }
}

impl Run {
    fn rand(&mut self, n: u64) -> u64 {
        xorshift(&mut self.rng) % n
    }

    fn key(&mut self) -> Vec<u8> {
        format!("key-{:03}", self.rand(300)).into_bytes()
    }

    fn value(&mut self) -> Vec<u8> {
        let len = self.rand(24) as usize;
        let byte = self.rand(256) as u8;
        vec![byte; len]
    }

    fn pinned(&self) -> BTreeSet<u64> {
        self.sessions.iter().map(|s| s.id()).collect()
    }

    fn map(&self) -> &Arc<Map> {
        self.store.as_ref().unwrap().map()
    }

    /// The model changed by an acknowledged operation.
    fn acknowledged(&mut self) {
        if self.durability != Durability::None {
            self.window.clear();
        }
        self.window.push(self.model.clone());
    }

    /// Everything so far is durable.
    fn durable(&mut self) {
        self.window.clear();
        self.window.push(self.model.clone());
    }

    fn step(&mut self) {
        self.ops += 1;
        let map = Arc::clone(self.map());
        match self.rand(100) {
            0..40 => {
                let (key, value) = (self.key(), self.value());
                map.put(&key, &value).unwrap();
                self.model.live.insert(key, value);
            }
            40..52 => {
                let key = self.key();
                let existed = map.delete(&key).unwrap();
                assert_eq!(existed, self.model.live.remove(&key).is_some());
            }
            52..60 => {
                let mut batch = Batch::new();
                for _ in 0..=self.rand(8) {
                    let key = self.key();
                    if self.rand(4) == 0 {
                        batch.delete(&key).unwrap();
                        self.model.live.remove(&key);
                    } else {
                        let value = self.value();
                        batch.put(&key, &value).unwrap();
                        self.model.live.insert(key, value);
                    }
                }
                map.try_write_batch(&batch).unwrap();
            }
            60..64 => {
                let key = self.key();
                let expected = self.model.live.get(&key).cloned();
                let value = self.value();
                assert!(
                    map.compare_and_swap(&key, expected.as_deref(), Some(&value))
                        .unwrap()
                );
                self.model.live.insert(key, value);
            }
            64 => {
                let removed = map.try_clear().unwrap();
                assert_eq!(removed, self.model.live.len() as u64);
                self.model.live.clear();
            }
            65..76 => {
                let snapshot = map.try_snapshot().unwrap();
                assert_eq!(snapshot.id(), self.model.next_id);
                self.metas.insert(snapshot.id(), snapshot.meta().clone());
                let id = self.model.next_id;
                self.model
                    .registry
                    .insert(id, Arc::new(self.model.live.clone()));
                self.model.current = Some(id);
                self.model.next_id += 1;
                if let Some(keep) = self.model.retention {
                    let pinned = self.pinned();
                    self.model.prune(keep, &pinned);
                }
            }
            76..82 => {
                let ids: Vec<u64> = self.model.registry.keys().copied().collect();
                if ids.is_empty() {
                    return;
                }
                let id = ids[self.rand(ids.len() as u64) as usize];
                let policy = if self.rand(2) == 0 {
                    RollbackPolicy::Fail
                } else {
                    RollbackPolicy::Discard
                };
                match map.rollback_to(id, policy) {
                    Ok(_) => {
                        self.model.live = (*self.model.registry[&id]).clone();
                        self.model.current = Some(id);
                    }
                    Err(Error::PendingChanges { .. }) if policy == RollbackPolicy::Fail => {
                        return;
                    }
                    Err(e) => panic!("rollback to {id}: {e}"),
                }
            }
            82..84 => {
                let keep = match self.rand(4) {
                    0 => None,
                    n => Some(n as usize + 1),
                };
                let pruned = map.try_set_retention(keep).unwrap();
                self.model.retention = keep;
                let pinned = self.pinned();
                let model_pruned = keep.map_or(Vec::new(), |n| self.model.prune(n, &pinned));
                assert_eq!(pruned, model_pruned);
            }
            84..86 => {
                let keep = self.rand(5) as usize;
                let report = map.try_compact(keep).unwrap();
                let pinned = self.pinned();
                assert_eq!(report.pruned, self.model.prune(keep, &pinned));
            }
            86 => {
                let mut tree = Tree::new();
                let mut contents = Entries::new();
                for _ in 0..self.rand(5) {
                    let (key, value) = (self.key(), self.value());
                    tree.insert(&key, &value).unwrap();
                    contents.insert(key, value);
                }
                let meta = SnapshotMeta {
                    id: 0,
                    generation: 0,
                    parent_id: None,
                    created_at_ns: 42,
                    mutation_count: 0,
                    delta_size: 0,
                    size: tree.len(),
                };
                let imported = map
                    .import_snapshots(
                        vec![(meta, tree)],
                        &ImportOptions {
                            ids: SnapshotIds::Fresh,
                            ..ImportOptions::default()
                        },
                    )
                    .unwrap();
                let snapshot = &imported.snapshots[0];
                assert_eq!(snapshot.id(), self.model.next_id);
                self.metas.insert(snapshot.id(), snapshot.meta().clone());
                self.model
                    .registry
                    .insert(snapshot.id(), Arc::new(contents));
                self.model.next_id += 1;
            }
            87 => {
                self.store.as_ref().unwrap().checkpoint().unwrap();
                self.durable();
                return;
            }
            88 => {
                self.store.as_ref().unwrap().sync().unwrap();
                self.durable();
                return;
            }
            89 | 90 => {
                // Pin a registered snapshot, or end a session (pins are not changes).
                if self.rand(2) == 0 && !self.sessions.is_empty() {
                    let at = self.rand(self.sessions.len() as u64) as usize;
                    self.sessions.swap_remove(at);
                } else if let Some(snapshot) = map.snapshot_at(self.rand(8) as usize) {
                    self.sessions.push(map.pin(&snapshot).unwrap());
                }
                return;
            }
            _ => {
                let (key, value) = (self.key(), self.value());
                map.put(&key, &value).unwrap();
                self.model.live.insert(key, value);
            }
        }
        self.acknowledged();
    }

    /// Closes and reopens the store; everything must be as it was, pending count and
    /// snapshot metadata included.
    fn reopen(&mut self) {
        let map = self.map();
        let pending = map.pending_mutations();
        let metas: Vec<SnapshotMeta> = map.snapshots().iter().map(|s| s.meta().clone()).collect();
        self.sessions.clear();
        self.store = None;
        self.durability = self.pick_durability();
        let store = Store::open_with(Arc::new(self.fs.clone()), options(self.durability))
            .unwrap_or_else(|e| panic!("reopen after {} ops: {e}", self.ops));
        let map = store.map();
        assert_eq!(
            observe(map),
            self.model,
            "after a clean reopen at op {}",
            self.ops
        );
        assert_eq!(map.pending_mutations(), pending);
        let after: Vec<SnapshotMeta> = map.snapshots().iter().map(|s| s.meta().clone()).collect();
        assert_eq!(after, metas);
        self.store = Some(store);
        self.reopens += 1;
        self.durable();
    }

    /// Simulated power loss now: the recovered state is one of the window's.
    fn crash(&mut self) {
        let image = self.fs.crash(Crash::Random(self.rng));
        self.sessions.clear();
        self.store = None;
        self.fs = image;
        self.durability = self.pick_durability();
        let store = Store::open_with(Arc::new(self.fs.clone()), options(self.durability))
            .unwrap_or_else(|e| panic!("recovery after {} ops: {e}", self.ops));
        let got = observe(store.map());
        if !self.window.contains(&got) {
            panic!(
                "after a crash at op {} the state is none of the {} since the last durable \
                 point: {got:?}\nexpected the last of {:?}",
                self.ops,
                self.window.len(),
                self.window.last()
            );
        }
        for snapshot in store.map().snapshots() {
            assert_eq!(Some(snapshot.meta()), self.metas.get(&snapshot.id()));
        }
        self.model = got;
        self.store = Some(store);
        self.crashes += 1;
        self.durable();
    }

    fn pick_durability(&mut self) -> Durability {
        match self.rand(3) {
            0 => Durability::Sync,
            1 => Durability::Group,
            _ => Durability::None,
        }
    }
}

fn run(seed: u64, ops: u64) -> (u64, u64, u64) {
    let fs = SimFs::new();
    let store = Store::open_with(Arc::new(fs.clone()), options(Durability::None)).unwrap();
    let mut run = Run {
        fs,
        store: Some(store),
        model: Model::new(),
        window: vec![Model::new()],
        metas: HashMap::new(),
        sessions: Vec::new(),
        rng: seed,
        durability: Durability::None,
        ops: 0,
        reopens: 0,
        crashes: 0,
    };
    while run.ops < ops {
        run.step();
        match run.rand(1000) {
            0 | 1 => run.reopen(),
            2 | 3 => run.crash(),
            _ => {}
        }
    }
    run.reopen();
    (run.ops, run.reopens, run.crashes)
}

#[test]
fn a_store_backed_map_matches_the_model_across_reopens_and_crashes() {
    let started = Instant::now();
    let mut total = (0, 0, 0);
    for seed in 1..=8u64 {
        let (ops, reopens, crashes) = run(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), 25_000);
        total = (total.0 + ops, total.1 + reopens, total.2 + crashes);
    }
    eprintln!(
        "{} operations, {} reopens, {} crashes in {:?}",
        total.0,
        total.1,
        total.2,
        started.elapsed()
    );
    assert!(total.0 >= 200_000);
    assert!(total.1 >= 100 && total.2 >= 100);
}
