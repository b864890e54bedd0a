//! Simulated power loss on whole stores: at every sync point of sync commits, group commits
//! from several threads, explicit syncs and checkpoints (pack sync, manifest sync and publish,
//! WAL retirement; explicit and size-triggered in the background), crash images that drop,
//! keep, tear and reorder the unsynced writes are recovered and compared with the history of
//! states the writes went through.
//!
//! Every recovered state must be one of the history's states at or after the last write
//! acknowledged before the sync began: 0 acknowledged writes lost, 0 states that are not the
//! acknowledged history plus a prefix of the unacknowledged rest, 0 recoveries refused.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{crash_hows, xorshift};
use lqft::store::log::{Durability, read_tail};
use lqft::store::record::{LogOp, LogRecord};
use lqft::store::sim::{Crash, SimFs, SyncPoint};
use lqft::store::{FileSystem, Store, StoreOptions};

type Contents = BTreeMap<Vec<u8>, Vec<u8>>;

fn contents(store: &Store) -> lqft::Result<Contents> {
    store
        .view()
        .try_iter()
        .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect()
}

fn options() -> StoreOptions {
    StoreOptions {
        segment_bytes: 1500,
        ..StoreOptions::default()
    }
}

/// The states a store went through, in commit order: `states[n]` after `n` writes.
struct History {
    /// Where each state occurs (a state can recur).
    index: HashMap<Contents, Vec<usize>>,
}

impl History {
    fn new(states: Vec<Contents>) -> History {
        let mut index: HashMap<Contents, Vec<usize>> = HashMap::new();
        for (n, state) in states.iter().enumerate() {
            index.entry(state.clone()).or_default().push(n);
        }
        History { index }
    }

    /// The states after each of `records`, applied in order to an empty store.
    fn replay(records: &[LogRecord]) -> History {
        let mut state = Contents::new();
        let mut states = vec![state.clone()];
        for record in records {
            let LogRecord::Batch(ops) = record else {
                panic!("the store logs batches only");
            };
            for op in ops {
                match op {
                    LogOp::Put(k, v) => {
                        state.insert(k.clone(), v.clone());
                    }
                    LogOp::Delete(k) => {
                        state.remove(k);
                    }
                    LogOp::Clear => state.clear(),
                }
            }
            states.push(state.clone());
        }
        History::new(states)
    }

    /// Recovers `image` and checks it holds a state at or after `states[acked]`.
    fn check(&self, image: SimFs, acked: usize, what: &str) {
        let store = Store::open_with(Arc::new(image), options())
            .unwrap_or_else(|e| panic!("{what}: recovery refused a crash image: {e}"));
        let got = contents(&store).unwrap_or_else(|e| panic!("{what}: read failed: {e}"));
        let at = self.index.get(&got).unwrap_or_else(|| {
            panic!(
                "{what}: a state the writes never went through ({} keys)",
                got.len()
            )
        });
        assert!(
            at.iter().any(|&n| n >= acked),
            "{what}: state {at:?} of the history, but {acked} writes were acknowledged"
        );
    }
}

/// Recovers every crash image of every sync point (`randoms` random ones each) and checks it
/// against `history`, with `acked(mark)` the writes acknowledged when a sync began. Returns the
/// number of images checked.
fn check_points(
    points: &[SyncPoint],
    randoms: u64,
    history: &History,
    acked: impl Fn(u64) -> usize + Sync,
) -> u64 {
    // Two checkers: the images are independent.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let images = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(point) = points.get(n) else { break };
                    let acked = acked(point.mark);
                    for how in crash_hows(point.unsynced(), randoms, n as u64) {
                        let what = format!("sync point {n} ({acked} acknowledged), {how:?}");
                        history.check(point.crash(how), acked, &what);
                        images.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    images.into_inner()
}

/// One random write (or checkpoint) on the store; returns the write's record, for the history.
fn step(store: &Store, rng: &mut u64, keys: u64, durability: Durability) -> Option<LogRecord> {
    let key = format!("k{}", xorshift(rng) % keys).into_bytes();
    match xorshift(rng) % 24 {
        0 => {
            store.checkpoint().unwrap();
            None
        }
        1..=4 => {
            store.delete_with(&key, durability).unwrap();
            Some(LogRecord::Batch(vec![LogOp::Delete(key)]))
        }
        5 if xorshift(rng).is_multiple_of(5) => {
            store.clear().unwrap();
            Some(LogRecord::Batch(vec![LogOp::Clear]))
        }
        _ => {
            let value = vec![b'a' + (xorshift(rng) % 26) as u8; (xorshift(rng) % 60) as usize];
            store.put_with(&key, &value, durability).unwrap();
            Some(LogRecord::Batch(vec![LogOp::Put(key, value)]))
        }
    }
}

#[test]
fn power_loss_at_every_sync_point_of_sync_commits_and_checkpoints_loses_nothing_acknowledged() {
    let fs = SimFs::new();
    fs.record_sync_points(true);
    let store = Store::open_with(Arc::new(fs.clone()), options()).unwrap();
    let mut rng = 0x5eed_u64;
    let mut records = Vec::new();
    for _ in 0..500 {
        if let Some(record) = step(&store, &mut rng, 40, Durability::Sync) {
            records.push(record);
            fs.set_mark(records.len() as u64);
        }
    }
    assert!(store.counters().checkpoints >= 15);
    drop(store);
    let points = fs.take_sync_points();
    let images = check_points(&points, 40, &History::replay(&records), |m| m as usize);
    eprintln!(
        "sync commits and checkpoints: {} sync points, {images} crash images recovered",
        points.len()
    );
    assert!(images >= 25_000, "{images}");
}

#[test]
fn power_loss_around_background_checkpoints_and_explicit_syncs_keeps_every_synced_write() {
    // Unsynced commits acknowledged at each explicit sync; checkpoints started by WAL size run
    // in the background while the writes go on.
    let fs = SimFs::new();
    fs.record_sync_points(true);
    let options = StoreOptions {
        checkpoint_bytes: 2_500,
        durability: Durability::None,
        ..options()
    };
    let store = Store::open_with(Arc::new(fs.clone()), options).unwrap();
    let mut rng = 0xfeed_u64;
    let mut records = Vec::new();
    while records.len() < 700 {
        if let Some(record) = step(&store, &mut rng, 30, Durability::None) {
            records.push(record);
            if records.len().is_multiple_of(7) {
                store.sync().unwrap();
                fs.set_mark(records.len() as u64);
            }
        }
    }
    drop(store);
    let reopened = Store::open_with(Arc::new(fs.clone()), options).unwrap();
    assert!(reopened.counters().manifest >= 20, "too few checkpoints");
    drop(reopened);
    let points = fs.take_sync_points();
    let images = check_points(&points, 30, &History::replay(&records), |m| m as usize);
    eprintln!(
        "background checkpoints and syncs: {} sync points, {images} crash images recovered",
        points.len()
    );
    assert!(images >= 10_000, "{images}");
}

/// Every record the log held at any sync point (and at the end), in sequence order: the order
/// in which concurrent commits were applied.
fn logged_records(points: &[SyncPoint], fs: &SimFs) -> Vec<LogRecord> {
    let mut seen = BTreeMap::new();
    let images = points.iter().map(|p| p.crash(Crash::KeepAll));
    for image in images.chain([fs.clone()]) {
        let first = image
            .list("wal")
            .unwrap()
            .iter()
            .filter_map(|n| n.strip_suffix(".wal")?.parse::<u64>().ok())
            .min();
        if let Some(first) = first {
            for (seq, record) in read_tail(&image, first).unwrap().records {
                seen.insert(seq, record);
            }
        }
    }
    let seqs: Vec<u64> = seen.keys().copied().collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "a gap in the log"
    );
    seen.into_values().collect()
}

#[test]
fn power_loss_during_group_commits_from_threads_and_concurrent_checkpoints_loses_nothing() {
    const THREADS: u64 = 5;
    const WRITES: u64 = 60;
    let fs = SimFs::new();
    fs.record_sync_points(true);
    fs.set_sync_delay(Duration::from_micros(500));
    let options = StoreOptions {
        durability: Durability::Group,
        ..options()
    };
    let store = Arc::new(Store::open_with(Arc::new(fs.clone()), options).unwrap());
    // Acknowledged writes in the order their acknowledgements were seen; a sync point's mark
    // is how many of them had been recorded when it began.
    let acks = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checkpointer = {
        let (store, done) = (Arc::clone(&store), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                store.checkpoint().unwrap();
                std::thread::sleep(Duration::from_millis(3));
            }
        })
    };
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, fs, acks) = (Arc::clone(&store), fs.clone(), Arc::clone(&acks));
            std::thread::spawn(move || {
                for i in 0..WRITES {
                    let key = format!("t{t}-k{}", i % 9).into_bytes();
                    if i % 5 == 4 {
                        store.delete(&key).unwrap();
                    } else {
                        store.put(&key, format!("t{t}-i{i}").as_bytes()).unwrap();
                    }
                    let mut acks = acks.lock().unwrap();
                    acks.push((t, i));
                    fs.raise_mark(acks.len() as u64);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    checkpointer.join().unwrap();
    let counters = store.counters();
    assert!(counters.checkpoints >= 3, "{counters:?}");
    drop(store);
    let points = fs.take_sync_points();
    // The commit order is the log's; each thread's writes are in it in the thread's order.
    let records = logged_records(&points, &fs);
    assert_eq!(records.len() as u64, THREADS * WRITES);
    let mut seq_of = HashMap::new();
    let mut per_thread = vec![0; THREADS as usize];
    for (n, record) in records.iter().enumerate() {
        let LogRecord::Batch(ops) = record else {
            unreachable!()
        };
        let (LogOp::Put(key, _) | LogOp::Delete(key)) = &ops[0] else {
            unreachable!()
        };
        let t = (key[1] - b'0') as usize;
        seq_of.insert((t as u64, per_thread[t]), n + 1);
        per_thread[t] += 1;
    }
    let acks = acks.lock().unwrap().clone();
    // The state must include every write acknowledged when the sync began.
    let needed: Vec<usize> = std::iter::once(0)
        .chain(acks.iter().scan(0, |max, ack| {
            *max = (*max).max(seq_of[ack]);
            Some(*max)
        }))
        .collect();
    let images = check_points(&points, 30, &History::replay(&records), |m| {
        needed[m as usize]
    });
    eprintln!(
        "group commits from {THREADS} threads: {} syncs for {} writes, {} checkpoints, {} sync \
         points, {images} crash images recovered",
        counters.wal_syncs,
        THREADS * WRITES,
        counters.checkpoints,
        points.len()
    );
    // How many commits share a sync depends on the scheduler: at least one sync point for
    // every 3 commits.
    assert!(
        points.len() as u64 >= THREADS * WRITES / 3,
        "{}",
        points.len()
    );
    assert!(images >= 32 * points.len() as u64, "{images}");
}

#[test]
fn power_loss_at_every_sync_point_of_bulk_loads_gives_the_state_before_or_after_each_load() {
    // Unsynced writes before each load (the load makes them durable with it), sync commits
    // after it, checkpoints among them: every image holds an acknowledged state or a later
    // one, and never part of a load.
    let fs = SimFs::new();
    fs.record_sync_points(true);
    let store = Store::open_with(Arc::new(fs.clone()), options()).unwrap();
    let mut rng = 0x10ad_u64;
    let mut records = Vec::new();
    for _ in 0..8 {
        for _ in 0..6 {
            records.extend(step(&store, &mut rng, 50, Durability::None));
        }
        let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..30)
            .map(|_| {
                let key = format!("k{}", xorshift(&mut rng) % 50).into_bytes();
                let value = vec![b'A' + (xorshift(&mut rng) % 26) as u8; 20];
                (key, value)
            })
            .collect();
        store
            .load(entries.iter().map(|(k, v)| (&k[..], &v[..])))
            .unwrap();
        // One state of the history: a key given twice ends with its last value.
        let ops = entries.into_iter().map(|(k, v)| LogOp::Put(k, v)).collect();
        records.push(LogRecord::Batch(ops));
        fs.set_mark(records.len() as u64);
        for _ in 0..6 {
            if let Some(record) = step(&store, &mut rng, 50, Durability::Sync) {
                records.push(record);
                fs.set_mark(records.len() as u64);
            }
        }
    }
    assert!(store.counters().checkpoints >= 8);
    drop(store);
    let points = fs.take_sync_points();
    let images = check_points(&points, 40, &History::replay(&records), |m| m as usize);
    eprintln!(
        "bulk loads: {} sync points, {images} crash images recovered",
        points.len()
    );
    assert!(images >= 5_000, "{images}");
}
