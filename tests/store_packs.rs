//! A store of many packs (one per checkpoint) opens without opening them and keeps a bounded
//! number open while it reads them all. One test in a process of its own, so that counting the
//! process's open files sees no other test's.

mod common;

use common::TempDir;
use lqft::store::log::Durability;
use lqft::store::{Store, StoreOptions};

const PACKS: u32 = 300;

fn options() -> StoreOptions {
    StoreOptions {
        durability: Durability::None,
        ..StoreOptions::default()
    }
}

/// A store in `dir` where key `i` went in with checkpoint `i`, so each pack holds one leaf.
fn store_of_many_packs(dir: &TempDir) {
    let store = Store::open(&dir.0, options()).unwrap();
    for i in 0..PACKS {
        store.put(&i.to_be_bytes(), &[i as u8; 40]).unwrap();
        store.checkpoint().unwrap();
    }
    store.close().unwrap();
    let packs = std::fs::read_dir(dir.path("packs")).unwrap().count();
    assert!(packs >= PACKS as usize, "{packs} packs");
}

#[cfg(target_os = "linux")]
fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
#[cfg(target_os = "linux")]
fn a_store_of_many_packs_keeps_a_bounded_number_open() {
    let dir = TempDir::new("store-many-packs");
    store_of_many_packs(&dir);
    let before = open_files();
    let store = Store::open(&dir.0, options()).unwrap();
    let after_open = open_files();
    // The lock, the WAL segment and its directory, nothing of the packs.
    assert!(
        after_open <= before + 4,
        "{before} files open before, {after_open} after"
    );
    for i in 0..PACKS {
        assert_eq!(
            store.get(&i.to_be_bytes()).unwrap().as_deref(),
            Some(&[i as u8; 40][..])
        );
    }
    let reading = open_files();
    assert!(
        reading <= after_open + 128,
        "{reading} files open after reading {PACKS} packs ({after_open} after the open)"
    );
    assert_eq!(store.verify_packs().unwrap(), u64::from(PACKS));
    assert!(open_files() <= after_open + 128);
}
