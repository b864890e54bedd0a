//! Backups: a backup opens as the store it was taken from (registry, current, retention and
//! entries), a backup into an earlier one copies only new packs, a backup of the backup
//! restores it, writes go on during a backup, a damaged pack or a destination of another
//! store fails it, and every crash image or failed call of a backup leaves the destination at
//! its old state or at its new one.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use common::{Entries, State, TempDir, crash_hows, state};
use lqft::Error;
use lqft::store::log::Durability;
use lqft::store::sim::{Crash, SimFs};
use lqft::store::{Store, StoreOptions};

fn options() -> StoreOptions {
    StoreOptions {
        durability: Durability::None,
        ..StoreOptions::default()
    }
}

/// [`options`] for a read-only opener.
fn read_only() -> StoreOptions {
    StoreOptions {
        read_only: true,
        ..options()
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

fn value(i: u32) -> Vec<u8> {
    i.to_le_bytes().repeat(8)
}

/// Puts keys `from..to`, a snapshot after every 100th.
fn write(store: &Store, from: u32, to: u32) {
    for i in from..to {
        store.put(&key(i), &value(i)).unwrap();
        if i % 100 == 99 {
            store.map().try_snapshot().unwrap();
        }
    }
}

fn open_state(fs: SimFs) -> lqft::Result<State> {
    let store = Store::open_with(Arc::new(fs), options())?;
    Ok(state(store.map()))
}

#[test]
fn a_backup_opens_as_the_store_it_was_taken_from_and_restores_by_a_backup_of_it() {
    let (src, dest, restored) = (
        TempDir::new("backup-src"),
        TempDir::new("backup-dest"),
        TempDir::new("backup-restored"),
    );
    let store = Store::open(&src.0, options()).unwrap();
    store.map().try_set_retention(Some(5)).unwrap();
    write(&store, 0, 1_550);
    store.delete(&key(7)).unwrap();
    let taken = state(store.map());
    let root = store.root_hash();
    let report = store.backup(&dest.0).unwrap();
    assert_eq!(report.packs, report.packs_copied);
    assert!(report.packs >= 1 && report.bytes_copied > 0, "{report:?}");
    // Writes after the backup are not in it.
    write(&store, 1_550, 1_600);

    let backup = Store::open(&dest.0, options()).unwrap();
    assert!(state(backup.map()) == taken, "the backup's state differs");
    assert_eq!(backup.root_hash(), root);
    assert_eq!(backup.verify_packs().unwrap(), report.packs);
    // The backup is a store: it takes writes and keeps them.
    backup.put(b"after", b"restore").unwrap();
    backup.close().unwrap();
    drop(backup);

    // Restoring is a backup of the backup (here from a read-only opener of it).
    let reader = Store::open(&dest.0, read_only()).unwrap();
    reader.backup(&restored.0).unwrap();
    let mut expected = taken.clone();
    expected.live.insert(b"after".to_vec(), b"restore".to_vec());
    expected.pending += 1;
    let restored = Store::open(&restored.0, options()).unwrap();
    assert!(
        state(restored.map()) == expected,
        "the restored state differs"
    );
}

#[test]
fn a_backup_into_an_earlier_one_copies_only_the_packs_written_since() {
    let (src, dest) = (
        TempDir::new("backup-inc-src"),
        TempDir::new("backup-inc-dest"),
    );
    let store = Store::open(&src.0, options()).unwrap();
    write(&store, 0, 500);
    let first = store.backup(&dest.0).unwrap();
    write(&store, 500, 800);
    store.checkpoint().unwrap();
    write(&store, 800, 900);
    let second = store.backup(&dest.0).unwrap();
    // The explicit checkpoint's pack and the backup's own.
    assert_eq!(second.packs, first.packs + 2, "{first:?} {second:?}");
    assert_eq!(second.packs_copied, 2, "{second:?}");
    // Nothing new: nothing copied, no new manifest.
    let third = store.backup(&dest.0).unwrap();
    assert_eq!((third.packs_copied, third.bytes_copied), (0, 0));
    assert_eq!(third.manifest, second.manifest);
    let expected = state(store.map());
    drop(store);
    let backup = Store::open(&dest.0, options()).unwrap();
    assert!(
        state(backup.map()) == expected,
        "the backup's state differs"
    );
    // One manifest, and only the packs it names.
    let packs = std::fs::read_dir(dest.path("packs")).unwrap().count() as u64;
    assert_eq!(packs, third.packs);
    assert_eq!(std::fs::read_dir(dest.path("manifest")).unwrap().count(), 1);
}

#[test]
fn writes_go_on_during_backups_and_each_backup_holds_what_was_acknowledged_before_it() {
    let src = TempDir::new("backup-live-src");
    // Background checkpoints (every 16 KiB of WAL) run beside the backups' own.
    let busy = StoreOptions {
        checkpoint_bytes: 16 << 10,
        ..options()
    };
    let store = Arc::new(Store::open(&src.0, busy).unwrap());
    let written = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, written, stop) = (Arc::clone(&store), Arc::clone(&written), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                store.put(&key(i), &value(i)).unwrap();
                i += 1;
                written.store(i, Ordering::Release);
            }
        })
    };
    for round in 0..8 {
        let dest = TempDir::new(&format!("backup-live-{round}"));
        let acknowledged = written.load(Ordering::Acquire);
        store.backup(&dest.0).unwrap();
        let backup = Store::open(&dest.0, options()).unwrap();
        let live = state(backup.map()).live;
        // Keys 0..n for some n no less than what was acknowledged when the backup began.
        let n = live.len() as u32;
        assert!(
            n >= acknowledged,
            "round {round}: {n} keys, {acknowledged} acknowledged"
        );
        assert_eq!(
            live,
            (0..n).map(|i| (key(i), value(i))).collect::<Entries>()
        );
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(
        store.counters().checkpoints > 8,
        "background checkpoints ran: {:?}",
        store.counters()
    );
}

#[test]
fn a_backup_is_refused_by_a_store_and_by_another_stores_backup() {
    let (src, other) = (
        TempDir::new("backup-refused-src"),
        TempDir::new("backup-refused-other"),
    );
    let (store_dir, dest) = (
        TempDir::new("backup-refused-store"),
        TempDir::new("backup-refused-dest"),
    );
    let store = Store::open(&src.0, options()).unwrap();
    write(&store, 0, 300);
    // A store is open on the destination: locked; once closed, it has a WAL whose records
    // would replay over the backup.
    let open = Store::open(&store_dir.0, options()).unwrap();
    open.put(b"own", b"write").unwrap();
    assert!(matches!(
        store.backup(&store_dir.0),
        Err(Error::Locked { .. })
    ));
    drop(open);
    let refused = store.backup(&store_dir.0).unwrap_err();
    assert!(refused.to_string().contains("has a WAL"), "{refused}");
    let kept = Store::open(&store_dir.0, options()).unwrap();
    assert_eq!(kept.get(b"own").unwrap().as_deref(), Some(&b"write"[..]));
    drop(kept);
    // The destination is a backup of another store (whose first pack has the same name as
    // this store's), refused by this store and by an empty one.
    let another = Store::open(&other.0, options()).unwrap();
    another.put(b"other", b"store").unwrap();
    another.backup(&dest.0).unwrap();
    let before = open_dir_state(&dest);
    let empty = Store::open_with(Arc::new(SimFs::new()), options()).unwrap();
    for source in [&store, &empty] {
        let refused = source.backup(&dest.0).unwrap_err();
        assert!(matches!(refused, Error::InvalidArgument(_)), "{refused}");
        assert!(refused.to_string().contains("another store"), "{refused}");
        assert!(
            open_dir_state(&dest) == before,
            "the refused backup changed the destination"
        );
    }
    // A read-only opener that has not seen the newest checkpoint does not take a backup of
    // this store back to its older state.
    let newer = TempDir::new("backup-refused-newer");
    let reader = Store::open(&src.0, read_only()).unwrap();
    write(&store, 300, 320);
    store.backup(&newer.0).unwrap();
    let newest = open_dir_state(&newer);
    let refused = reader.backup(&newer.0).unwrap_err();
    assert!(refused.to_string().contains("a later state"), "{refused}");
    assert!(
        open_dir_state(&newer) == newest,
        "the older state replaced the newer"
    );
}

/// The state of the backup in `dir`, read by a read-only opener (which leaves it a backup).
fn open_dir_state(dir: &TempDir) -> State {
    state(Store::open(&dir.0, read_only()).unwrap().map())
}

#[test]
fn a_damaged_pack_fails_the_backup_and_the_destination_keeps_its_state() {
    let (src, dest) = (
        TempDir::new("backup-damaged-src"),
        TempDir::new("backup-damaged-dest"),
    );
    {
        let store = Store::open(&src.0, options()).unwrap();
        write(&store, 0, 400);
        store.close().unwrap();
    }
    let pack = std::fs::read_dir(src.path("packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&pack, bytes).unwrap();
    let store = Store::open(&src.0, options()).unwrap();
    let failed = store.backup(&dest.0).unwrap_err();
    assert!(matches!(failed, Error::Corrupt(_)), "{failed}");
    let backup = Store::open(&dest.0, options()).unwrap();
    assert_eq!(backup.len(), 0, "the destination opens as it was: empty");
    assert_eq!(std::fs::read_dir(dest.path("packs")).unwrap().count(), 0);
}

/// A source store on a simulated disk with `n` keys, a checkpoint (so a pack) per 200.
fn source(n: u32) -> Store {
    let store = Store::open_with(Arc::new(SimFs::new()), options()).unwrap();
    for from in (0..n).step_by(200) {
        write(&store, from, (from + 200).min(n));
        store.checkpoint().unwrap();
    }
    store
}

/// Recovers every crash image of every sync point `dest` recorded, and of its state now; each
/// must open at `old` (`None`: as an empty store) or at `new`. Returns how many opened at
/// each.
fn check_images(dest: &SimFs, old: Option<&State>, new: &State, seed: u64) -> (usize, usize) {
    let (mut at_old_count, mut at_new_count) = (0, 0);
    let mut points: Vec<_> = dest
        .take_sync_points()
        .into_iter()
        .map(|p| (p.unsynced(), Some(p)))
        .collect();
    points.push((dest.unsynced(), None));
    for (n, (unsynced, point)) in points.into_iter().enumerate() {
        for how in crash_hows(unsynced, 8, seed + n as u64) {
            let image = match &point {
                Some(point) => point.crash(how),
                None => dest.crash(how),
            };
            let got = open_state(image).unwrap_or_else(|e| panic!("image {n} {how:?}: {e}"));
            let at_old = match old {
                Some(old) => got == *old,
                None => got.live.is_empty() && got.snapshots.is_empty(),
            };
            let at_new = got == *new;
            assert!(at_old || at_new, "image {n} {how:?}: neither state");
            if at_new {
                at_new_count += 1;
            } else {
                at_old_count += 1;
            }
        }
    }
    (at_old_count, at_new_count)
}

#[test]
fn every_crash_image_of_a_backup_opens_at_the_old_state_or_the_new() {
    let store = source(600);
    let dest = SimFs::new();
    dest.record_sync_points(true);
    store.backup_to(&dest).unwrap();
    let first = state(store.map());
    let (old, new) = check_images(&dest, None, &first, 1);
    assert!(
        old > 0 && new > 0,
        "first backup: {old} images at the old state, {new} at the new"
    );
    let mut images = old + new;
    // An incremental backup over the first.
    write(&store, 600, 900);
    dest.record_sync_points(true);
    store.backup_to(&dest).unwrap();
    let second = state(store.map());
    let (old, new) = check_images(&dest, Some(&first), &second, 100);
    assert!(
        old > 0 && new > 0,
        "second backup: {old} images at the old state, {new} at the new"
    );
    images += old + new;
    println!("backup crash images recovered: {images}");
    assert!(images >= 40, "{images} images");
}

#[test]
fn every_failed_call_of_a_backup_leaves_the_old_state_or_the_new() {
    let store = source(600);
    let first = state(store.map());
    // The calls a first backup makes; the destination it leaves serves the second round.
    let backed_up = SimFs::new();
    store.backup_to(&backed_up).unwrap();
    let first_calls = backed_up.calls();
    let mut failures = 0;
    for call in 1..=first_calls {
        let dest = SimFs::new();
        dest.fail_call(call, libc::EIO, false);
        failures += usize::from(store.backup_to(&dest).is_err());
        dest.clear_faults();
        let got = open_state(dest.crash(Crash::KeepAll)).unwrap();
        assert!(
            got == first || got.live.is_empty(),
            "first backup, call {call}"
        );
        // A retry completes it durably: power loss right after it keeps the backup whole
        // (what the failed attempt published but did not sync included).
        store.backup_to(&dest).unwrap();
        let after_loss = open_state(dest.crash(Crash::DropAll))
            .unwrap_or_else(|e| panic!("first backup, call {call}: power loss after a retry: {e}"));
        assert!(
            after_loss == first,
            "first backup, call {call}: lost after a retry"
        );
    }
    // An incremental backup over the first: every call of it fails once in turn.
    write(&store, 600, 700);
    let second = state(store.map());
    let probe = backed_up.crash(Crash::KeepAll);
    let base = probe.calls();
    store.backup_to(&probe).unwrap();
    let second_calls = probe.calls() - base;
    for call in 1..=second_calls {
        let dest = backed_up.crash(Crash::KeepAll);
        dest.fail_call(dest.calls() + call, libc::EIO, false);
        failures += usize::from(store.backup_to(&dest).is_err());
        dest.clear_faults();
        let got = open_state(dest.crash(Crash::KeepAll)).unwrap();
        assert!(got == first || got == second, "second backup, call {call}");
        // A backup after the failure completes it.
        store.backup_to(&dest).unwrap();
        let done = open_state(dest.crash(Crash::DropAll)).unwrap_or_else(|e| {
            panic!("second backup, call {call}: power loss after a retry: {e}")
        });
        assert!(
            done == second,
            "second backup, call {call}: the retry did not complete it durably"
        );
    }
    println!("backup calls failed: {first_calls} + {second_calls}, {failures} backups failed");
    assert!(
        failures as u64 >= (first_calls + second_calls) / 2,
        "{failures} failures"
    );
}
