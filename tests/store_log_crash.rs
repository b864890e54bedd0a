//! Simulated power loss on the write-ahead log: at every sync point of sync commits, group
//! commits (concurrent writers) and explicit syncs, crash images that drop, tear and reorder
//! the unsynced writes are recovered and compared with the acknowledged history.
//!
//! Every recovered log must be a prefix of the appended records (same sequence numbers, same
//! payloads) that holds every record acknowledged before the sync point began: 0 acknowledged
//! records lost, 0 records that were never appended, 0 recoveries refused as corrupt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lqft::store::log::{Durability, Log, LogOptions};
use lqft::store::record::{LogOp, LogRecord};
use lqft::store::sim::{Crash, SimFs, SyncPoint};

/// Small segments, so rollovers happen at many points.
const OPTIONS: LogOptions = LogOptions { segment_bytes: 700 };

fn record(writer: u64, i: u64) -> LogRecord {
    let key = format!("w{writer}-k{i}").into_bytes();
    let value = vec![b'a' + (i % 26) as u8; (i % 90) as usize];
    if i % 7 == 3 {
        LogRecord::Batch(vec![LogOp::Delete(key), LogOp::Put(b"x".to_vec(), value)])
    } else {
        LogRecord::Batch(vec![LogOp::Put(key, value)])
    }
}

/// Recovers `image` and checks it against what was appended; returns the records recovered.
fn check_image(image: SimFs, acked: u64, appended: &HashMap<u64, LogRecord>, what: &str) -> usize {
    let (log, records) = match Log::open(Arc::new(image.clone()), 1, OPTIONS) {
        Ok(opened) => opened,
        Err(error) => panic!("{what}: recovery refused a crash image: {error}"),
    };
    for (i, (seq, record)) in records.iter().enumerate() {
        assert_eq!(*seq, 1 + i as u64, "{what}: sequence gap");
        assert_eq!(
            Some(record),
            appended.get(seq),
            "{what}: record {seq} never appended"
        );
    }
    let recovered = records.len() as u64;
    assert!(
        recovered + 1 >= acked,
        "{what}: {recovered} recovered, {} acknowledged",
        acked - 1
    );
    // The recovered log takes new records after the old ones.
    let extra = record(99, 0);
    assert_eq!(
        log.append(&extra, Durability::Sync).unwrap(),
        recovered + 1,
        "{what}"
    );
    drop(log);
    let (_, again) = Log::open(Arc::new(image), 1, OPTIONS).unwrap();
    assert_eq!(
        again.len() as u64,
        recovered + 1,
        "{what}: reopen after append"
    );
    records.len()
}

/// Crash images of every sync point: none, all and each prefix of the unsynced operations kept,
/// plus `randoms` random ones. Returns how many images were checked.
fn check_points(points: &[SyncPoint], randoms: u64, appended: &HashMap<u64, LogRecord>) -> u64 {
    let mut images = 0;
    for (n, point) in points.iter().enumerate() {
        let mut hows = vec![Crash::DropAll, Crash::KeepAll];
        hows.extend((1..point.unsynced()).map(Crash::KeepPrefix));
        hows.extend((0..randoms).map(|r| Crash::Random(n as u64 * 1_000_003 + r)));
        for how in hows {
            let what = format!("sync point {n} (acked below {}), {how:?}", point.mark);
            check_image(point.crash(how), point.mark, appended, &what);
            images += 1;
        }
    }
    images
}

#[test]
fn sync_commits_lose_nothing_acknowledged_at_any_power_loss() {
    let fs = SimFs::new();
    fs.record_sync_points(true);
    let (log, replay) = Log::open(Arc::new(fs.clone()), 1, OPTIONS).unwrap();
    assert!(replay.is_empty());
    let mut appended = HashMap::new();
    for i in 0..120 {
        let record = record(0, i);
        let seq = log.append(&record, Durability::Sync).unwrap();
        appended.insert(seq, record);
        fs.set_mark(seq + 1);
    }
    assert!(
        log.stats().segments_started > 10,
        "segments should roll over"
    );
    let images = check_points(&fs.take_sync_points(), 200, &appended);
    eprintln!("sync commits: {images} crash images recovered and checked");
    assert!(images >= 25_000);
}

#[test]
fn group_commits_from_concurrent_writers_lose_nothing_acknowledged() {
    let fs = SimFs::new();
    fs.record_sync_points(true);
    fs.set_sync_delay(std::time::Duration::from_millis(2));
    let (log, _) = Log::open(Arc::new(fs.clone()), 1, OPTIONS).unwrap();
    let log = Arc::new(log);
    let appended = Arc::new(Mutex::new(HashMap::new()));
    let threads: Vec<_> = (0..6)
        .map(|writer| {
            let (log, fs, appended) = (Arc::clone(&log), fs.clone(), Arc::clone(&appended));
            std::thread::spawn(move || {
                for i in 0..40 {
                    let record = record(writer, i);
                    let seq = log.append(&record, Durability::Group).unwrap();
                    // A synced watermark is a prefix: seq acknowledged means all before it are
                    // durable too.
                    fs.raise_mark(seq + 1);
                    appended.lock().unwrap().insert(seq, record);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let stats = log.stats();
    assert_eq!(stats.records, 240);
    let appended = appended.lock().unwrap().clone();
    let images = check_points(&fs.take_sync_points(), 150, &appended);
    eprintln!(
        "group commits: {} syncs for 240 commits, {images} crash images",
        stats.syncs
    );
    // How many syncs the commits share depends on scheduling; at most 6 share one.
    assert!(images >= 40 * 150);
}

#[test]
fn unsynced_commits_recover_as_a_prefix_and_explicit_syncs_keep_them() {
    for durability in [
        Durability::None,
        Durability::Async {
            interval: std::time::Duration::from_millis(5),
        },
    ] {
        let fs = SimFs::new();
        fs.record_sync_points(true);
        let (log, _) = Log::open(Arc::new(fs.clone()), 1, OPTIONS).unwrap();
        let mut appended = HashMap::new();
        for i in 0..150 {
            let record = record(1, i);
            let seq = log.append(&record, durability).unwrap();
            appended.insert(seq, record);
            if i % 10 == 9 {
                log.sync().unwrap();
                fs.set_mark(seq + 1);
            }
        }
        let images = check_points(&fs.take_sync_points(), 30, &appended);
        eprintln!("{durability:?}: {images} crash images");
        // Between syncs, a crash right now keeps a prefix of what was written.
        for seed in 0..200 {
            check_image(fs.crash(Crash::Random(seed)), 151, &appended, "final");
        }
    }
}
