//! Writer epochs fence a stale writer that the lock did not stop (two writers on one
//! directory, as on a shared or object file system where `flock` does not reach): whatever
//! the older writer does after a newer one opened, reopening the store finds every write the
//! newer writer acknowledged.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use lqft::Error;
use lqft::store::sim::{Crash, SimFs};
use lqft::store::{FileSystem, FsFile, FsLock, OpenMode, Store, StoreOptions};

/// A simulated file system whose writer lock every opener gets: the lock does not see the
/// other writers.
struct NoLock(SimFs);

struct Unlocked;

impl FsLock for Unlocked {}

impl FileSystem for NoLock {
    fn create_dir_all(&self, dir: &str) -> io::Result<()> {
        self.0.create_dir_all(dir)
    }
    fn open(&self, path: &str, mode: OpenMode) -> io::Result<Arc<dyn FsFile>> {
        self.0.open(path, mode)
    }
    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        self.0.list(dir)
    }
    fn publish(&self, from: &str, to: &str) -> io::Result<()> {
        self.0.publish(from, to)
    }
    fn remove(&self, path: &str) -> io::Result<()> {
        self.0.remove(path)
    }
    fn sync_dir(&self, dir: &str) -> io::Result<()> {
        self.0.sync_dir(dir)
    }
    fn try_lock(&self, _path: &str) -> io::Result<Option<Box<dyn FsLock>>> {
        Ok(Some(Box::new(Unlocked)))
    }
}

fn options() -> StoreOptions {
    StoreOptions {
        segment_bytes: 4096,
        checkpoint_bytes: u64::MAX,
        ..StoreOptions::default()
    }
}

fn open(sim: &SimFs) -> Store {
    Store::open_with(Arc::new(NoLock(sim.clone())), options()).unwrap()
}

fn contents(store: &Store) -> BTreeMap<Vec<u8>, Vec<u8>> {
    store
        .map()
        .try_iter()
        .map(|entry| entry.map(|e| (e.key().to_vec(), e.value().to_vec())))
        .collect::<lqft::Result<_>>()
        .unwrap()
}

fn entries(pairs: &[(&str, &str)]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

#[test]
fn a_stale_writer_cannot_lose_the_acknowledged_writes_of_a_newer_one() {
    let sim = SimFs::new();
    let stale = open(&sim);
    stale.put(b"a1", b"1").unwrap();
    stale.put(b"a2", b"2").unwrap();
    // The lock does not stop a second writer; it sees everything acknowledged so far.
    let newer = open(&sim);
    assert_eq!(contents(&newer), entries(&[("a1", "1"), ("a2", "2")]));
    newer.put(b"b1", b"1").unwrap();
    // The stale writer goes on appending to its own segment: those records come after the
    // newer writer's segment began, so they are not the store's.
    stale.put(b"a3", b"3").unwrap();
    // Its next segment finds the newer writer's: it is fenced, and poisoned from then on.
    let fenced = (0..200u32)
        .map(|i| stale.put(&i.to_be_bytes(), &[7; 100]))
        .find_map(Result::err)
        .expect("the stale writer starts a segment");
    assert!(matches!(fenced, Error::Locked { .. }), "{fenced}");
    assert!(matches!(
        stale.put(b"late", b"1"),
        Err(Error::Poisoned { .. })
    ));
    assert!(
        stale.checkpoint().is_err(),
        "a fenced writer publishes nothing"
    );
    newer.put(b"b2", b"2").unwrap();
    newer.checkpoint().unwrap();
    newer.put(b"b3", b"3").unwrap();
    drop(stale);
    let expected = entries(&[
        ("a1", "1"),
        ("a2", "2"),
        ("b1", "1"),
        ("b2", "2"),
        ("b3", "3"),
    ]);
    // After power loss with the newer writer still open, and after it closed.
    let crashed = sim.crash(Crash::DropAll);
    assert_eq!(contents(&open(&crashed)), expected);
    drop(newer);
    assert_eq!(contents(&open(&sim)), expected);
}

#[test]
fn a_stale_writers_checkpoint_published_after_a_newer_writer_began_is_not_the_state() {
    let world = SimFs::new();
    let stale = open(&world);
    stale.put(b"a1", b"1").unwrap();
    stale.put(b"a2", b"2").unwrap();
    // Where the newer writer runs: the same disk, from here on (a copy, so that the stale
    // writer's checkpoint can be made to land in it at a chosen moment).
    let shared = world.crash(Crash::KeepAll);
    let newer = open(&shared);
    newer.put(b"b1", b"1").unwrap();
    // The stale writer writes and checkpoints as if no other writer existed (its check ran
    // before the newer writer's segment appeared) ...
    stale.put(b"a3", b"3").unwrap();
    stale.checkpoint().unwrap();
    // ... and its pack and manifest land on the shared disk after the newer writer began.
    let fs = NoLock(shared.clone());
    for dir in ["packs", "manifest"] {
        for name in world.list(dir).unwrap() {
            let path = format!("{dir}/{name}");
            if shared.read_file(&path).is_some() {
                continue;
            }
            let file = fs.open(&path, OpenMode::CreateNew).unwrap();
            file.write_all_at(&world.read_file(&path).unwrap(), 0)
                .unwrap();
            file.sync_data().unwrap();
            fs.sync_dir(dir).unwrap();
        }
    }
    let expected = entries(&[("a1", "1"), ("a2", "2"), ("b1", "1")]);
    // The stale manifest claims the records from the newer writer's first on as its own:
    // taking it would lose b1. It is fenced by the newer writer's segment.
    assert_eq!(contents(&open(&shared.crash(Crash::DropAll))), expected);
    // The newer writer publishes above it (replacing the stale writer's pack of the same id).
    newer.checkpoint().unwrap();
    newer.put(b"b2", b"2").unwrap();
    drop(newer);
    let mut expected = expected;
    expected.insert(b"b2".to_vec(), b"2".to_vec());
    assert_eq!(contents(&open(&shared)), expected);
    drop(stale);
}

#[test]
fn a_writer_opening_after_another_fences_it_from_publishing() {
    let sim = SimFs::new();
    let stale = open(&sim);
    stale.put(b"a", b"1").unwrap();
    let newer = open(&sim);
    newer.put(b"b", b"1").unwrap();
    let error = stale.checkpoint().unwrap_err();
    assert!(matches!(error, Error::Locked { .. }), "{error}");
    assert!(matches!(stale.put(b"c", b"1"), Err(Error::Poisoned { .. })));
    drop(stale);
    drop(newer);
    assert_eq!(contents(&open(&sim)), entries(&[("a", "1"), ("b", "1")]));
}
