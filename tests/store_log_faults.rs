//! I/O faults on the write-ahead log: every file-system call of a commit workload failed once
//! (EIO, and EIO after writing half its bytes) and failed persistently (ENOSPC). Each time: the
//! failing commit returns an error, every later commit is refused as poisoned (never retried
//! over a failed fsync), and reopening — with the disk as it is, and after power loss that
//! keeps, drops or tears the unsynced and uncertain writes — recovers every acknowledged
//! record. A writer reopened after the fault (same disk, no power loss) commits more, and power
//! loss after that still recovers everything it acknowledged: the records a failed fsync left
//! uncertain must not stay uncertain under records that say they were synced.

use std::sync::Arc;

use lqft::Error;
use lqft::store::log::{Durability, Log, LogOptions};
use lqft::store::record::{LogOp, LogRecord};
use lqft::store::sim::{Crash, SimFs};

const OPTIONS: LogOptions = LogOptions { segment_bytes: 400 };
const COMMITS: u64 = 30;

fn record(i: u64) -> LogRecord {
    LogRecord::Batch(vec![LogOp::Put(
        format!("key{i}").into_bytes(),
        vec![i as u8; 40],
    )])
}

/// Runs the workload; returns how many commits were acknowledged before the first failure.
fn workload(fs: &SimFs, durability: Durability) -> Result<u64, (u64, Error)> {
    let (log, _) = Log::open(Arc::new(fs.clone()), 1, OPTIONS).map_err(|e| (0, e))?;
    let mut acked = 0;
    let mut failed = None;
    for i in 0..COMMITS {
        match log.append(&record(i), durability) {
            Ok(seq) => {
                assert!(failed.is_none(), "commit {i} succeeded after a failure");
                assert_eq!(seq, i + 1);
                acked += 1;
            }
            Err(error) => match &failed {
                None => failed = Some(error),
                Some(_) => assert!(
                    matches!(error, Error::Poisoned { .. }),
                    "after a failure, commit {i} gave {error}"
                ),
            },
        }
    }
    match failed {
        None => Ok(acked),
        Some(error) => Err((acked, error)),
    }
}

fn recovered(fs: SimFs, what: &str) -> Vec<(u64, LogRecord)> {
    Log::open(Arc::new(fs), 1, OPTIONS)
        .unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"))
        .1
}

/// Crash images of `fs` now: the disk as it is, every unsynced or uncertain write dropped,
/// kept, kept up to each of the first prefixes, and some random tears.
fn images(fs: &SimFs, seed: u64) -> Vec<(String, SimFs)> {
    let mut hows = vec![Crash::DropAll, Crash::KeepAll];
    hows.extend((1..fs.unsynced().min(4)).map(Crash::KeepPrefix));
    hows.extend((0..4).map(|r| Crash::Random(seed * 16 + r)));
    let mut out = vec![("as is".to_owned(), fs.clone())];
    out.extend(
        hows.into_iter()
            .map(|how| (format!("{how:?}"), fs.crash(how))),
    );
    out
}

/// Checks that `records` are the workload's first records and at least `acked` of them.
fn check_prefix(records: &[(u64, LogRecord)], acked: u64, what: &str) {
    assert!(
        records.len() as u64 >= acked,
        "{what}: {} recovered, {acked} acknowledged",
        records.len()
    );
    for (i, (seq, record)) in records.iter().enumerate() {
        assert_eq!(
            (*seq, record),
            (i as u64 + 1, &self::record(i as u64)),
            "{what}"
        );
    }
}

/// Reopens the log on `fs` as it is (a new process, no power loss), commits `extra` more
/// records synchronously and returns how many records are acknowledged in all.
fn resume(fs: &SimFs, extra: u64, what: &str) -> u64 {
    let (log, records) = Log::open(Arc::new(fs.clone()), 1, OPTIONS)
        .unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
    let next = records.len() as u64;
    for i in next..next + extra {
        assert_eq!(log.append(&record(i), Durability::Sync).unwrap(), i + 1);
    }
    next + extra
}

#[test]
fn every_failed_call_poisons_and_loses_nothing_acknowledged() {
    for durability in [Durability::Sync, Durability::Group] {
        let clean = SimFs::new();
        workload(&clean, durability).unwrap();
        let calls = clean.calls();
        let (mut cases, mut images_checked) = (0, 0);
        for call in 0..calls {
            for (errno, persistent, written) in [
                (libc::EIO, false, 0),
                (libc::EIO, false, 30),
                (libc::ENOSPC, true, 0),
            ] {
                let fs = SimFs::new();
                fs.fail_write_partly(call, errno, persistent, written);
                let acked = match workload(&fs, durability) {
                    Ok(acked) => acked,
                    Err((acked, error)) => {
                        assert!(matches!(error, Error::Io(_)), "call {call}: {error}");
                        acked
                    }
                };
                fs.clear_faults();
                let what = format!("call {call} errno {errno} written {written}");
                for (how, image) in images(&fs, call) {
                    let what = format!("{what}, {how}");
                    check_prefix(&recovered(image, &what), acked, &what);
                    images_checked += 1;
                }
                let total = resume(&fs, 3, &what);
                for (how, image) in images(&fs, call + 1) {
                    let what = format!("{what}, resumed, {how}");
                    check_prefix(&recovered(image, &what), total, &what);
                    images_checked += 1;
                }
                cases += 1;
            }
        }
        eprintln!(
            "{durability:?}: {calls} calls, {cases} fault cases, {images_checked} images recovered"
        );
        assert!(cases >= 150);
    }
}

#[test]
fn flipped_bytes_in_any_segment_are_reported_or_cut_as_a_torn_tail_never_read_as_data() {
    let fs = SimFs::new();
    workload(&fs, Durability::Sync).unwrap();
    let mut segments: Vec<String> = lqft::store::FileSystem::list(&fs, "wal").unwrap();
    segments.sort();
    assert!(segments.len() > 3);
    let (mut reported, mut cut) = (0, 0);
    for (index, name) in segments.iter().enumerate() {
        let path = format!("wal/{name}");
        let bytes = fs.read_file(&path).unwrap();
        for at in 0..bytes.len() {
            let image = fs.crash(Crash::KeepAll);
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x20;
            image.write_file(&path, &damaged);
            match Log::open(Arc::new(image), 1, OPTIONS) {
                Err(Error::Corrupt(_)) => reported += 1,
                Err(other) => panic!("{path} byte {at}: {other}"),
                Ok((_, records)) => {
                    // Only damage in the last record of the last segment looks torn.
                    assert_eq!(index, segments.len() - 1, "{path} byte {at} went unnoticed");
                    // An empty last segment's header lost: nothing lost; else the last record.
                    let expected = if bytes.len() == 32 {
                        COMMITS
                    } else {
                        COMMITS - 1
                    };
                    assert_eq!(records.len() as u64, expected, "{path} byte {at}");
                    for (i, (_, record)) in records.iter().enumerate() {
                        assert_eq!(record, &self::record(i as u64));
                    }
                    cut += 1;
                }
            }
        }
    }
    eprintln!("{reported} flips reported as corruption, {cut} cut as a torn tail");
}
