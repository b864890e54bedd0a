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
    store.close().unwrap();
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
    // The close wrote one manifest; the trigger at least one before it.
    assert!(
        store.counters().manifest > 1,
        "a checkpoint should have run"
    );
    let wal: u64 = std::fs::read_dir(dir.0.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(wal < 2000 * 80, "WAL of {wal} bytes was not retired");
}

/// The WAL segments of the store in `dir`, with their sizes.
fn wal_segments(dir: &TempDir) -> Vec<(String, u64)> {
    let mut segments: Vec<(String, u64)> = std::fs::read_dir(dir.path("wal"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, e.metadata().unwrap().len())
        })
        .collect();
    segments.sort();
    segments
}

/// The size of a WAL segment's header (`docs/FORMAT.md`).
const SEGMENT_HEADER: u64 = 32;

#[test]
fn a_clean_close_or_drop_checkpoints_and_leaves_a_wal_of_one_empty_segment() {
    for close in [true, false] {
        let dir = TempDir::new("store-close-checkpoint");
        let store = Store::open(&dir.0, small()).unwrap();
        for i in 0..500u32 {
            store.put(&i.to_be_bytes(), &[3; 40]).unwrap();
        }
        store.map().try_snapshot().unwrap();
        store.put(b"after", b"x").unwrap();
        assert!(wal_segments(&dir).len() > 1, "the WAL should span segments");
        if close {
            store.close().unwrap();
            assert_eq!(store.counters().checkpoints, 1);
        }
        let map = Arc::clone(store.map());
        drop(store);
        // The map handle keeps the store open: nothing is checkpointed until it goes.
        assert_eq!(wal_segments(&dir).len() > 1, !close, "close {close}");
        drop(map);
        let segments = wal_segments(&dir);
        assert_eq!(segments.len(), 1, "close {close}: {segments:?}");
        assert_eq!(segments[0].1, SEGMENT_HEADER, "close {close}");
        let store = Store::open(&dir.0, small()).unwrap();
        assert_eq!(store.counters().manifest, 1, "close {close}");
        // Nothing replayed: a replayed put would have loaded the nodes on its path.
        assert_eq!(store.counters().node_loads, 0, "close {close}");
        assert_eq!(store.len(), 501);
        assert_eq!(store.map().snapshot_count(), 1);
        assert_eq!(store.get(b"after").unwrap().as_deref(), Some(&b"x"[..]));
        assert_eq!(store.get(&7u32.to_be_bytes()).unwrap(), Some(vec![3; 40]));
    }
}

#[test]
fn closing_a_store_with_nothing_new_writes_no_manifest_and_empties_the_wal() {
    let dir = TempDir::new("store-close-idle");
    let store = Store::open(&dir.0, small()).unwrap();
    for i in 0..200u32 {
        store.put(&i.to_be_bytes(), &[5; 40]).unwrap();
    }
    store.checkpoint().unwrap();
    assert_eq!(
        wal_segments(&dir),
        [(format!("{:020}.wal", 201), SEGMENT_HEADER)]
    );
    drop(store);
    let store = Store::open(&dir.0, small()).unwrap();
    assert_eq!(store.counters().manifest, 1);
    assert_eq!(store.len(), 200);
    store.close().unwrap();
    assert_eq!(store.counters().checkpoints, 0);
    assert_eq!(wal_segments(&dir).len(), 1);
}

#[test]
fn a_read_only_opener_closes_without_writing() {
    let dir = TempDir::new("store-close-reader");
    let writer = Store::open(&dir.0, small()).unwrap();
    writer.put(b"k", b"v").unwrap();
    let reader = Store::open(
        &dir.0,
        StoreOptions {
            read_only: true,
            ..small()
        },
    )
    .unwrap();
    reader.close().unwrap();
    drop(reader);
    assert_eq!(writer.counters().manifest, 0);
    assert!(
        std::fs::read_dir(dir.path("manifest"))
            .unwrap()
            .next()
            .is_none()
    );
}

fn manifests(dir: &TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.path("manifest"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_published_manifest_replaces_the_older_ones() {
    let dir = TempDir::new("store-manifests");
    let store = Store::open(&dir.0, small()).unwrap();
    for i in 0..4u8 {
        store.put(&[i], &[i]).unwrap();
        store.checkpoint().unwrap();
        assert_eq!(store.counters().manifest, u64::from(i) + 1);
        assert_eq!(
            manifests(&dir),
            [format!("{:020}.manifest", i + 1)],
            "after checkpoint {i}"
        );
    }
    drop(store);
    // An older manifest left behind (a removal lost to a crash) goes at the next writer open;
    // what it holds is never read.
    std::fs::write(dir.path("manifest/00000000000000000002.manifest"), b"stale").unwrap();
    let store = Store::open(&dir.0, small()).unwrap();
    assert_eq!(store.counters().manifest, 4);
    assert_eq!(manifests(&dir), [format!("{:020}.manifest", 4)]);
    assert_eq!(contents(&store).len(), 4);
}

/// A file system that lists a manifest newer than any on the disk the first time the manifest
/// directory is listed: what a reader sees when a writer publishes a manifest and removes the
/// one the reader listed before the reader reads it.
struct VanishingManifest {
    fs: lqft::store::sim::SimFs,
    listed: std::sync::atomic::AtomicBool,
}

impl lqft::store::FileSystem for VanishingManifest {
    fn create_dir_all(&self, dir: &str) -> std::io::Result<()> {
        self.fs.create_dir_all(dir)
    }
    fn open(
        &self,
        path: &str,
        mode: lqft::store::OpenMode,
    ) -> std::io::Result<Arc<dyn lqft::store::FsFile>> {
        self.fs.open(path, mode)
    }
    fn list(&self, dir: &str) -> std::io::Result<Vec<String>> {
        let mut names = self.fs.list(dir)?;
        if dir == "manifest" && !self.listed.swap(true, std::sync::atomic::Ordering::Relaxed) {
            names.push(format!("{:020}.manifest", 99));
        }
        Ok(names)
    }
    fn publish(&self, from: &str, to: &str) -> std::io::Result<()> {
        self.fs.publish(from, to)
    }
    fn remove(&self, path: &str) -> std::io::Result<()> {
        self.fs.remove(path)
    }
    fn sync_dir(&self, dir: &str) -> std::io::Result<()> {
        self.fs.sync_dir(dir)
    }
    fn try_lock(&self, path: &str) -> std::io::Result<Option<Box<dyn lqft::store::FsLock>>> {
        self.fs.try_lock(path)
    }
}

#[test]
fn an_opener_whose_listed_manifest_is_gone_lists_again() {
    let fs = lqft::store::sim::SimFs::new();
    let writer = Store::open_with(Arc::new(fs.clone()), small()).unwrap();
    writer.put(b"k", b"v").unwrap();
    writer.checkpoint().unwrap();
    let vanishing = || {
        Arc::new(VanishingManifest {
            fs: fs.clone(),
            listed: false.into(),
        })
    };
    let listed = |fs: &VanishingManifest| fs.listed.load(std::sync::atomic::Ordering::Relaxed);

    let reader_fs = vanishing();
    let options = StoreOptions {
        read_only: true,
        ..small()
    };
    let reader = Store::open_with(reader_fs.clone(), options).unwrap();
    assert!(listed(&reader_fs));
    assert_eq!(reader.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    drop((reader, writer));

    let writer_fs = vanishing();
    let writer = Store::open_with(writer_fs.clone(), small()).unwrap();
    assert!(listed(&writer_fs));
    assert_eq!(writer.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn a_missing_pack_fails_the_read_that_needs_it_and_verify() {
    let dir = TempDir::new("store-missing-pack");
    let store = Store::open(&dir.0, small()).unwrap();
    for i in 0..3u8 {
        store.put(&[i], &[i; 40]).unwrap();
        store.checkpoint().unwrap();
    }
    drop(store);
    let mut packs: Vec<_> = std::fs::read_dir(dir.path("packs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    packs.sort();
    // The last checkpoint's pack holds the last key's leaf (and the path to it).
    std::fs::remove_file(packs.last().unwrap()).unwrap();
    let store = Store::open(&dir.0, small()).unwrap();
    assert!(matches!(store.get(&[2]), Err(Error::Io(_))));
    assert!(store.verify_packs().is_err());
}

/// Reads that keep going back to one pack while opening many others (a bulk-loaded pack, then
/// one small pack per checkpoint) open it once: the pack closed to stay within the bound of
/// open packs is the least recently used, not the first opened.
#[test]
fn a_pack_read_between_opens_of_many_others_stays_open() {
    let dir = TempDir::new("store-pack-reuse");
    let big = |i: u32| [&[0x00][..], &i.to_be_bytes()].concat();
    let small_key = |i: u32| [&[0xff][..], &i.to_be_bytes()].concat();
    const SMALL: u32 = 300;
    let options = || StoreOptions {
        durability: Durability::None,
        ..StoreOptions::default()
    };
    {
        let store = Store::open(&dir.0, options()).unwrap();
        for i in 0..1_000 {
            store.put(&big(i), &[1; 64]).unwrap();
        }
        store.checkpoint().unwrap();
        for i in 0..SMALL {
            store.put(&small_key(i), &[2; 64]).unwrap();
            store.checkpoint().unwrap();
        }
        store.close().unwrap();
    }
    // Opens that reading the small keys alone takes (their packs, some more than once: more
    // than 128 of them are read).
    let small_only = {
        let store = Store::open(&dir.0, options()).unwrap();
        for i in 0..SMALL {
            assert_eq!(
                store.get(&small_key(i)).unwrap().as_deref(),
                Some(&[2; 64][..])
            );
        }
        store.counters().pack_opens
    };
    assert!(small_only > 128, "{small_only} opens");
    // The same reads with a read of the big pack before each: one open more.
    let store = Store::open(&dir.0, options()).unwrap();
    for i in 0..SMALL {
        assert_eq!(
            store.get(&big(i * 3)).unwrap().as_deref(),
            Some(&[1; 64][..])
        );
        assert_eq!(
            store.get(&small_key(i)).unwrap().as_deref(),
            Some(&[2; 64][..])
        );
    }
    assert_eq!(store.counters().pack_opens, small_only + 1);
    assert_eq!(store.stats()["pack_opens"], small_only + 1);
}

/// The writer lock goes with the last handle on the store: a reopen right after a drop or a
/// close never finds it held, even while the sync timer of `Async` is in the middle of a slow
/// sync (it used to hold the store, and so the lock, until its sync returned).
#[test]
fn a_reopen_right_after_the_last_handle_goes_finds_the_lock_free() {
    let fs = Arc::new(lqft::store::sim::SimFs::new());
    fs.set_sync_delay(std::time::Duration::from_millis(4));
    let options = || StoreOptions {
        durability: Durability::Async {
            interval: std::time::Duration::from_millis(1),
        },
        ..StoreOptions::default()
    };
    // Busy threads, so that the timer is often preempted (holding whatever it holds) as the
    // last handle goes.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy: Vec<_> = (0..4)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    for round in 0..60u32 {
        let store = Store::open_with(
            Arc::clone(&fs) as Arc<dyn lqft::store::FileSystem>,
            options(),
        )
        .unwrap_or_else(|e| panic!("round {round}: {e}"));
        store.put(&round.to_be_bytes(), b"v").unwrap();
        // Let the timer start a sync of the put.
        std::thread::sleep(std::time::Duration::from_millis(u64::from(round % 3)));
        if round % 2 == 0 {
            store.close().unwrap();
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for thread in busy {
        thread.join().unwrap();
    }
    let store = Store::open_with(fs, options()).unwrap();
    assert_eq!(store.len(), 60);
}
