//! I/O faults and damaged files on a whole store.
//!
//! Faults: every file-system call of a workload of commits and checkpoints (and of one with a
//! bulk load among them) failed once (EIO,
//! and EIO after writing part of its bytes) and persistently (ENOSPC): a clean error, every
//! later write refused, and reopening — as the disk is, and after power loss that keeps, drops
//! or tears the unsynced writes and those a failed fsync left uncertain — recovers every
//! acknowledged write; so does power loss after a writer reopened on the faulted disk has
//! committed and checkpointed more.
//!
//! Damage: flipped bytes in manifests and packs are reported by open or by the read that
//! reaches the node — never a panic, never wrong data.

use std::collections::BTreeMap;
use std::sync::Arc;

use lqft::Error;
use lqft::store::sim::{Crash, SimFs};
use lqft::store::{FileSystem, Store, StoreOptions};

const PUTS: u64 = 24;

fn options() -> StoreOptions {
    StoreOptions {
        segment_bytes: 600,
        ..StoreOptions::default()
    }
}

fn value(i: u64) -> Vec<u8> {
    vec![b'a' + (i % 26) as u8; 10 + (i % 30) as usize]
}

fn contents(store: &Store) -> lqft::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    store
        .view()
        .try_iter()
        .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect()
}

/// Puts 0..PUTS with a checkpoint every 8; returns how many puts were acknowledged.
fn workload(fs: &SimFs) -> u64 {
    let Ok(store) = Store::open_with(Arc::new(fs.clone()), options()) else {
        return 0;
    };
    let mut acked = 0;
    let mut failed = false;
    for i in 0..PUTS {
        match store.put(&i.to_be_bytes(), &value(i)) {
            Ok(()) => {
                assert!(!failed, "put {i} succeeded after a failed write");
                acked += 1;
            }
            Err(error) if failed => {
                assert!(matches!(error, Error::Poisoned { .. }), "put {i}: {error}");
            }
            Err(_) => failed = true,
        }
        if i % 8 == 7 && store.checkpoint().is_err() {
            failed = true;
        }
    }
    acked
}

fn check_recovers(fs: SimFs, acked: u64, what: &str) {
    let store = Store::open_with(Arc::new(fs), options())
        .unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
    let got = contents(&store).unwrap_or_else(|e| panic!("{what}: read failed: {e}"));
    assert!(
        got.len() as u64 >= acked,
        "{what}: {} of {acked} acknowledged",
        got.len()
    );
    for (i, (key, got)) in got.iter().enumerate() {
        assert_eq!(key, &(i as u64).to_be_bytes(), "{what}: not a prefix");
        assert_eq!(got, &value(i as u64), "{what}");
    }
}

/// Crash images of `fs` now: the disk as it is, every unsynced or uncertain write dropped,
/// kept, and some random tears.
fn images(fs: &SimFs, seed: u64) -> Vec<(String, SimFs)> {
    let mut out = vec![("as is".to_owned(), fs.clone())];
    for how in [Crash::DropAll, Crash::KeepAll, Crash::KeepPrefix(1)]
        .into_iter()
        .chain((0..3).map(|r| Crash::Random(seed * 8 + r)))
    {
        out.push((format!("{how:?}"), fs.crash(how)));
    }
    out
}

/// Reopens the store on `fs` as it is (a new process, no power loss), puts 3 more, checkpoints
/// and puts 2 more; returns how many puts are acknowledged in all.
fn resume(fs: &SimFs, what: &str) -> u64 {
    let store = Store::open_with(Arc::new(fs.clone()), options())
        .unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
    let next = store.len();
    for i in next..next + 5 {
        store.put(&i.to_be_bytes(), &value(i)).unwrap();
        if i == next + 2 {
            store.checkpoint().unwrap();
        }
    }
    next + 5
}

/// Fails every file-system call of `workload` in turn (once, once after writing part of its
/// bytes, persistently) and checks every crash image recovers every acknowledged put, before
/// and after a writer resumed on the disk. Returns the number of calls.
fn fail_every_call(workload: fn(&SimFs) -> u64) -> u64 {
    let clean = SimFs::new();
    assert_eq!(workload(&clean), PUTS);
    let calls = clean.calls();
    let mut checked = 0;
    for call in 0..calls {
        for (errno, persistent, written) in [
            (libc::EIO, false, 0),
            (libc::EIO, false, 20),
            (libc::ENOSPC, true, 0),
        ] {
            let fs = SimFs::new();
            fs.fail_write_partly(call, errno, persistent, written);
            let acked = workload(&fs);
            fs.clear_faults();
            let what = format!("call {call} errno {errno} written {written}");
            for (how, image) in images(&fs, call) {
                check_recovers(image, acked, &format!("{what}, {how}"));
                checked += 1;
            }
            let total = resume(&fs, &what);
            for (how, image) in images(&fs, call + 1) {
                check_recovers(image, total, &format!("{what}, resumed, {how}"));
                checked += 1;
            }
        }
    }
    eprintln!(
        "{calls} calls, each failed once, partly and persistently; {checked} images recovered"
    );
    assert!(checked >= 3 * 14 * calls);
    calls
}

#[test]
fn every_failed_call_leaves_a_store_that_recovers_every_acknowledged_write() {
    fail_every_call(workload);
}

/// Puts 0..8 (then a checkpoint), loads 8..16 in one [`Store::load`], puts 16..PUTS with a
/// checkpoint at the end; returns how many puts are acknowledged (the load's 8 once it
/// returned). A failed call poisons the writer: every later write is refused.
fn workload_with_load(fs: &SimFs) -> u64 {
    let Ok(store) = Store::open_with(Arc::new(fs.clone()), options()) else {
        return 0;
    };
    let mut acked = 0;
    let mut failed = false;
    let mut check = |result: lqft::Result<()>, n: u64, what: &str| match result {
        Ok(()) => {
            assert!(!failed, "{what} succeeded after a failed write");
            acked += n;
        }
        Err(error) if failed => {
            assert!(matches!(error, Error::Poisoned { .. }), "{what}: {error}");
        }
        Err(_) => failed = true,
    };
    for i in 0..8u64 {
        check(store.put(&i.to_be_bytes(), &value(i)), 1, "put");
    }
    check(store.checkpoint(), 0, "checkpoint");
    let keys: Vec<[u8; 8]> = (8..16u64).map(u64::to_be_bytes).collect();
    let values: Vec<Vec<u8>> = (8..16).map(value).collect();
    let entries = keys.iter().zip(&values).rev();
    let loaded = store.load(entries.map(|(k, v)| (&k[..], &v[..])));
    check(loaded.map(|n| assert_eq!(n, 8)), 8, "load");
    for i in 16..PUTS {
        check(store.put(&i.to_be_bytes(), &value(i)), 1, "put");
    }
    check(store.checkpoint(), 0, "checkpoint");
    acked
}

#[test]
fn every_failed_call_around_a_bulk_load_leaves_a_store_that_recovers_every_acknowledged_write() {
    let calls = fail_every_call(workload_with_load);
    assert!(calls > 20, "{calls}");
}

#[test]
fn flipped_bytes_in_manifests_and_packs_are_reported_never_read_as_data() {
    let fs = SimFs::new();
    assert_eq!(workload(&fs), PUTS);
    let model = contents(&Store::open_with(Arc::new(fs.clone()), options()).unwrap()).unwrap();
    let mut files = Vec::new();
    for dir in ["manifest", "packs"] {
        for name in fs.list(dir).unwrap() {
            files.push(format!("{dir}/{name}"));
        }
    }
    assert!(files.iter().any(|f| f.ends_with(".pack")));
    let (mut reported, mut harmless) = (0, 0);
    for path in &files {
        let bytes = fs.read_file(path).unwrap();
        for at in 0..bytes.len() {
            let image = fs.crash(Crash::KeepAll);
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x04;
            image.write_file(path, &damaged);
            let read = Store::open_with(Arc::new(image), options()).and_then(|s| contents(&s));
            match read {
                Ok(got) => {
                    assert_eq!(got, model, "{path} byte {at}: wrong data");
                    harmless += 1;
                }
                Err(Error::Corrupt(_)) => reported += 1,
                Err(other) => panic!("{path} byte {at}: {other}"),
            }
        }
    }
    eprintln!("{reported} flips reported, {harmless} in bytes no read depends on");
    assert!(reported > harmless);
}

/// Puts 0..`puts` (no checkpoint), then closes the store with call `fail` of the close (counted
/// from its first) failing as given; returns the file system and the calls the close made.
fn put_and_close(puts: u64, fail: Option<(u64, i32, bool)>) -> (SimFs, u64) {
    let fs = SimFs::new();
    let store = Store::open_with(Arc::new(fs.clone()), options()).unwrap();
    for i in 0..puts {
        store.put(&i.to_be_bytes(), &value(i)).unwrap();
    }
    let before = fs.calls();
    if let Some((call, errno, persistent)) = fail {
        fs.fail_call(before + call, errno, persistent);
    }
    let closed = store.close();
    drop(store);
    if fail.is_none() {
        closed.unwrap();
    }
    let calls = fs.calls() - before;
    (fs, calls)
}

#[test]
fn a_close_whose_checkpoint_fails_at_any_call_loses_no_acknowledged_write() {
    const PUTS: u64 = 12;
    let (_, calls) = put_and_close(PUTS, None);
    assert!(calls >= 8, "the close made only {calls} calls");
    let mut checked = 0;
    for call in 1..=calls {
        for (errno, persistent) in [(libc::EIO, false), (libc::ENOSPC, true)] {
            let (fs, _) = put_and_close(PUTS, Some((call, errno, persistent)));
            fs.clear_faults();
            let what = format!("close call {call} errno {errno}");
            for (how, image) in images(&fs, call) {
                check_recovers(image, PUTS, &format!("{what}, {how}"));
                checked += 1;
            }
        }
    }
    eprintln!("{calls} calls of a close, each failed; {checked} images recovered");
}
