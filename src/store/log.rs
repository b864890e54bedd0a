//! The write-ahead log of a store: segments in `wal/`, recovery, and commits in every
//! durability mode.
//!
//! Segments are named by their first sequence number (`wal/<20 digits>.wal`). Appending goes to
//! the last one; past [`LogOptions::segment_bytes`] the writer syncs it and starts the next, so
//! only the last segment can ever have a torn tail. Recovery reads every segment from the one
//! holding `wal_start` on, checks they are contiguous, cuts a torn tail of the last one, and
//! returns the records to replay.
//!
//! Before the writer appends after what it recovered, that must be durable: the new records
//! say so in their `synced` watermark, and acknowledged ones are applied on top of it. Syncing
//! is not enough — the bytes read may be in the page cache only because an earlier writer's
//! fsync failed, and a later fsync does not write pages a failed one dropped — so recovery
//! writes the last segment's unproven part again (the records from the last record's watermark
//! on, with the header if no record proves it), syncs it and syncs the directory (the
//! segment's name may not be durable either).
//!
//! # Commits
//!
//! [`Log::append`] frames a record and, by its [`Durability`]:
//! - `Sync`: writes and `fdatasync`s before returning; one sync per commit.
//! - `Group`: the first committer without a sync in flight becomes the leader: it writes every
//!   record buffered so far in one write and syncs once for all of them, while later committers
//!   buffer theirs and wait; a committer returns when a sync covering its record has succeeded.
//! - `Async`: writes and returns; [`Log::sync`] (called every N ms by the store's background
//!   thread) makes it durable.
//! - `None`: writes and returns; durable at the next sync of any kind.
//!
//! Any failed write or sync poisons the log: every later append fails with
//! [`Error::Poisoned`] (a failed fsync is never retried — the kernel may have dropped the pages
//! it failed to write). Reopening recovers every record whose commit was acknowledged.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};

use super::fs::{FileSystem, FsFile, OpenMode};
use super::record::LogRecord;
use super::wal::{RECORD_HEADER_LEN, SEGMENT_HEADER_LEN, WalAppender, decode_segment};

/// When a commit is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// After its own `fdatasync`.
    Sync,
    /// After an `fdatasync` shared with the commits that arrived while the previous one ran.
    Group,
    /// After the write; a background sync every `interval` makes it durable.
    Async {
        /// How often the background sync runs.
        interval: Duration,
    },
    /// After the write; durable only at the next sync of any kind.
    None,
}

impl Durability {
    fn waits_for_sync(self) -> bool {
        matches!(self, Durability::Sync | Durability::Group)
    }
}

/// Tuning of a [`Log`].
#[derive(Debug, Clone, Copy)]
pub struct LogOptions {
    /// Bytes past which the writer starts a new segment.
    pub segment_bytes: u64,
}

impl LogOptions {
    /// Zero bytes a write that reaches a segment's end writes ahead (see [`WalAppender`]): a
    /// quarter of a segment, at most 1 MiB, so a full segment is extended a few times and a
    /// commit's `fdatasync` seldom has a file size to flush.
    fn preallocate(&self) -> usize {
        usize::try_from(self.segment_bytes / 4).map_or(1 << 20, |n| n.clamp(1, 1 << 20))
    }
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            segment_bytes: 16 << 20,
        }
    }
}

/// Counters of a log (reported in the store's stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Records appended.
    pub records: u64,
    /// Payload and framing bytes written.
    pub bytes: u64,
    /// Positioned writes issued.
    pub writes: u64,
    /// `fdatasync` calls on segments.
    pub syncs: u64,
    /// Segments started.
    pub segments_started: u64,
}

/// The WAL directory.
pub const WAL_DIR: &str = "wal";

/// The path of the segment whose first record is `first_seq`.
pub fn segment_path(first_seq: u64) -> String {
    format!("{WAL_DIR}/{first_seq:020}.wal")
}

fn segment_first_seq(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The segments in `wal/`, ascending by first sequence number.
fn list_segments(fs: &dyn FileSystem) -> Result<Vec<u64>> {
    let names = fs
        .list(WAL_DIR)
        .map_err(|e| Error::io(format!("list {WAL_DIR}"), &e))?;
    let mut firsts: Vec<u64> = names.iter().filter_map(|n| segment_first_seq(n)).collect();
    firsts.sort_unstable();
    Ok(firsts)
}

fn read_all(fs: &dyn FileSystem, path: &str, mode: OpenMode) -> Result<(Arc<dyn FsFile>, Vec<u8>)> {
    let io = |e: std::io::Error| Error::io(format!("read {path}"), &e);
    let file = fs.open(path, mode).map_err(io)?;
    let size = file.size().map_err(io)?;
    let mut bytes =
        vec![0; usize::try_from(size).map_err(|_| Error::Corrupt(format!("{path} is too large")))?];
    file.read_exact_at(&mut bytes, 0).map_err(io)?;
    Ok((file, bytes))
}

/// What recovery found: the records to replay and where appending resumes.
pub struct Recovered {
    /// Records with `seq >= wal_start`, in order.
    pub records: Vec<(u64, LogRecord)>,
    /// The sequence number the next record gets.
    pub next_seq: u64,
    /// Bytes (headers and payloads) of the records at or after `wal_start`: what the manifest
    /// does not cover, and so what counts toward the checkpoint trigger.
    pub wal_bytes: u64,
}

/// The log from `wal_start` on, read without changing any file (what read-only openers and the
/// writer's recovery share).
struct Scan {
    records: Vec<(u64, LogRecord)>,
    next_seq: u64,
    wal_bytes: u64,
    /// The last segment with a valid header.
    last: Option<LastSegment>,
    /// A last segment whose header never became valid (an interrupted rollover).
    headless: Option<u64>,
}

/// The segment appending resumes in.
struct LastSegment {
    first: u64,
    salt: u64,
    file: Arc<dyn FsFile>,
    /// Bytes through the last valid record.
    valid: usize,
    /// Bytes of the file.
    len: usize,
    /// Where the part no record's watermark proves durable starts.
    unproven_at: usize,
    /// That part's bytes, through the last valid record.
    unproven: Vec<u8>,
}

fn scan(fs: &dyn FileSystem, wal_start: u64, mode: OpenMode) -> Result<Scan> {
    let firsts = list_segments(fs)?;
    // The segment holding wal_start is the last one starting at or before it.
    let from = firsts.iter().rposition(|&f| f <= wal_start).unwrap_or(0);
    let mut out = Scan {
        records: Vec::new(),
        next_seq: wal_start,
        wal_bytes: 0,
        last: None,
        headless: None,
    };
    let live = &firsts[from..];
    for (i, &first) in live.iter().enumerate() {
        let path = segment_path(first);
        let is_last = i + 1 == live.len();
        let (file, bytes) = read_all(fs, &path, mode)?;
        let segment = decode_segment(&bytes).map_err(|e| Error::Corrupt(format!("{path}: {e}")))?;
        let Some(header) = segment.header else {
            // A segment's header is synced before any record is written to it, so only a
            // segment no longer than a header can have lost its header to a crash.
            if is_last && bytes.len() <= SEGMENT_HEADER_LEN {
                out.headless = Some(first);
                break;
            }
            return Err(Error::Corrupt(format!(
                "{path} has no valid header but later segments exist"
            )));
        };
        if header.first_seq != first {
            return Err(Error::Corrupt(format!(
                "{path} starts at record {}",
                header.first_seq
            )));
        }
        if i == 0 && first > wal_start {
            return Err(Error::Corrupt(format!(
                "the WAL starts at record {first}, after the manifest's start {wal_start}: \
                 records are missing"
            )));
        }
        if i > 0 && first != out.next_seq {
            return Err(Error::Corrupt(format!(
                "{path} starts at record {first}; record {} was expected",
                out.next_seq
            )));
        }
        // Zeros past an earlier segment's records are its space written ahead, whose cut did
        // not reach the disk; a missing record there shows as a gap before the next segment.
        if !is_last && bytes[segment.valid_len..].iter().any(|&b| b != 0) {
            return Err(Error::Corrupt(format!(
                "{path} ends in a damaged record but later segments exist"
            )));
        }
        for record in &segment.records {
            if record.seq >= wal_start {
                let payload = &bytes[record.offset..record.offset + record.len];
                let decoded = LogRecord::decode(record.kind, payload)
                    .map_err(|e| Error::Corrupt(format!("{path} record {}: {e}", record.seq)))?;
                out.records.push((record.seq, decoded));
            }
        }
        out.next_seq = segment.next_seq().expect("header present");
        if out.next_seq < wal_start {
            return Err(Error::Corrupt(format!(
                "the WAL ends at record {}, before the manifest's start {wal_start}",
                out.next_seq
            )));
        }
        // Records before `wal_start` are the manifest's already: they do not count toward
        // the next checkpoint.
        let tail = segment
            .records
            .iter()
            .find(|r| r.seq >= wal_start)
            .map_or(segment.valid_len, |r| r.offset - RECORD_HEADER_LEN);
        out.wal_bytes += (segment.valid_len - tail) as u64;
        // Records below the last record's watermark had been synced; the header was synced
        // before the first record was.
        let proven = segment.records.last().map_or(first, |r| r.synced);
        let unproven_at = if proven <= first {
            0
        } else {
            segment
                .records
                .iter()
                .find(|r| r.seq >= proven)
                .map_or(segment.valid_len, |r| r.offset - RECORD_HEADER_LEN)
        };
        out.last = Some(LastSegment {
            first,
            salt: header.salt,
            file,
            valid: segment.valid_len,
            len: bytes.len(),
            unproven_at,
            unproven: bytes[unproven_at..segment.valid_len].to_vec(),
        });
    }
    Ok(out)
}

/// Reads the records from `wal_start` on, for a read-only opener: no file is changed.
pub fn read_tail(fs: &dyn FileSystem, wal_start: u64) -> Result<Recovered> {
    let scan = scan(fs, wal_start, OpenMode::Read)?;
    Ok(Recovered {
        records: scan.records,
        next_seq: scan.next_seq,
        wal_bytes: scan.wal_bytes,
    })
}

struct Inner {
    appender: WalAppender,
    /// The file the appender writes (synced outside the lock by a group leader).
    file: Arc<dyn FsFile>,
    /// The current segment's first seq.
    segment_first: u64,
    /// Records below this are durable.
    synced: u64,
    /// Records below this have been written.
    written: u64,
    /// A group leader is syncing.
    syncing: bool,
    poisoned: Option<Error>,
    stats: LogStats,
    /// Record bytes past the manifest's `wal_start` at open, plus those pushed since; a retire
    /// leaves those pushed after its mark.
    wal_bytes: u64,
    /// Record bytes pushed since open.
    pushed: u64,
}

/// A position in the log: the sequence number of the next record and the record bytes pushed
/// before it, taken together (what a checkpoint's manifest covers, for [`Log::retire`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogMark {
    /// The sequence number of the first record after the mark.
    pub seq: u64,
    pushed: u64,
}

/// The writer's log.
pub struct Log {
    fs: Arc<dyn FileSystem>,
    options: LogOptions,
    inner: Mutex<Inner>,
    synced_changed: Condvar,
}

impl Log {
    /// Recovers the log for writing: reads every record from `wal_start` on, cuts a torn tail
    /// of the last segment, writes its unproven part again and syncs it and the directory
    /// (what was read is durable from then on), removes a last segment whose header never
    /// landed, and resumes appending (or starts the first segment at `wal_start`).
    pub fn open(
        fs: Arc<dyn FileSystem>,
        wal_start: u64,
        options: LogOptions,
    ) -> Result<(Log, Vec<(u64, LogRecord)>)> {
        fs.create_dir_all(WAL_DIR)
            .map_err(|e| Error::io(format!("create {WAL_DIR}"), &e))?;
        let scan = scan(&*fs, wal_start, OpenMode::ReadWrite)?;
        if let Some(first) = scan.headless {
            let path = segment_path(first);
            fs.remove(&path)
                .map_err(|e| Error::io(format!("remove {path}"), &e))?;
            fs.sync_dir(WAL_DIR)
                .map_err(|e| Error::io(format!("fsync {WAL_DIR}"), &e))?;
        }
        let mut stats = LogStats::default();
        let (appender, file, segment_first) = match scan.last {
            Some(LastSegment {
                first,
                salt,
                file,
                valid,
                len,
                unproven_at,
                unproven,
            }) => {
                let path = segment_path(first);
                let io = |e: std::io::Error| Error::io(format!("recover {path}"), &e);
                if valid < len {
                    file.set_len(valid as u64).map_err(io)?;
                }
                // What this process read may be only in the page cache: after kill -9, or
                // after a failed fsync that dropped the pages (see the module docs).
                file.write_all_at(&unproven, unproven_at as u64)
                    .map_err(io)?;
                file.sync_data().map_err(io)?;
                stats.syncs += 1;
                fs.sync_dir(WAL_DIR)
                    .map_err(|e| Error::io(format!("fsync {WAL_DIR}"), &e))?;
                let appender = WalAppender::resume(
                    Arc::clone(&file),
                    path,
                    salt,
                    scan.next_seq,
                    valid as u64,
                    options.preallocate(),
                );
                (appender, file, first)
            }
            None => {
                let (appender, file) = start_segment(&*fs, scan.next_seq, &options, &mut stats)?;
                (appender, file, scan.next_seq)
            }
        };
        let next = appender.next_seq();
        let log = Log {
            fs,
            options,
            inner: Mutex::new(Inner {
                appender,
                file,
                segment_first,
                synced: next,
                written: next,
                syncing: false,
                poisoned: None,
                stats,
                wal_bytes: scan.wal_bytes,
                pushed: 0,
            }),
            synced_changed: Condvar::new(),
        };
        Ok((log, scan.records))
    }

    /// Appends `record` and returns its sequence number once `durability` is met.
    pub fn append(&self, record: &LogRecord, durability: Durability) -> Result<u64> {
        let seq = self.push(record)?;
        self.commit(seq, durability)?;
        Ok(seq)
    }

    /// Frames `record` into the log's buffer and returns its sequence number; nothing is
    /// written yet. For callers that order records under a lock of their own and wait for
    /// durability ([`Log::commit`]) outside it, so concurrent commits can share a sync.
    pub fn push(&self, record: &LogRecord) -> Result<u64> {
        self.push_encoded(record.kind(), &record.encode())
    }

    /// [`push`](Log::push) of a record already encoded: its type and its payload.
    pub fn push_encoded(&self, kind: u8, payload: &[u8]) -> Result<u64> {
        let mut inner = self.inner.lock();
        if let Some(cause) = &inner.poisoned {
            return Err(poisoned(cause));
        }
        // A record too large to frame is refused before anything is written: not a poison.
        let seq = inner.appender.push(kind, payload)?;
        inner.stats.records += 1;
        let framed = (RECORD_HEADER_LEN + payload.len()) as u64;
        inner.pushed += framed;
        inner.wal_bytes += framed;
        Ok(seq)
    }

    /// Returns once the record `seq` (pushed earlier) meets `durability`.
    pub fn commit(&self, seq: u64, durability: Durability) -> Result<()> {
        let mut inner = self.inner.lock();
        match durability {
            Durability::Sync => {
                if let Some(cause) = &inner.poisoned {
                    return Err(poisoned(cause));
                }
                if inner.synced <= seq {
                    self.write(&mut inner)?;
                    self.sync_locked(&mut inner)?;
                }
            }
            Durability::Group => self.wait_group(&mut inner, seq)?,
            Durability::Async { .. } | Durability::None => {
                if let Some(cause) = &inner.poisoned {
                    return Err(poisoned(cause));
                }
                if inner.written <= seq {
                    self.write(&mut inner)?;
                }
            }
        }
        debug_assert!(!durability.waits_for_sync() || inner.synced > seq);
        self.maybe_roll(&mut inner)
    }

    /// Group commit: lead a write + sync of everything buffered, or wait for the leader whose
    /// sync covers `seq`.
    fn wait_group(&self, inner: &mut parking_lot::MutexGuard<'_, Inner>, seq: u64) -> Result<()> {
        loop {
            if let Some(cause) = &inner.poisoned {
                return Err(poisoned(cause));
            }
            if inner.synced > seq {
                return Ok(());
            }
            if inner.syncing {
                self.synced_changed.wait(inner);
                continue;
            }
            // Lead: write everything buffered, then sync without holding the lock so later
            // committers can buffer behind this sync.
            self.write(inner)?;
            let target = inner.written;
            let file = Arc::clone(&inner.file);
            inner.syncing = true;
            let result = parking_lot::MutexGuard::unlocked(inner, || file.sync_data());
            inner.syncing = false;
            inner.stats.syncs += 1;
            match result {
                Ok(()) => {
                    inner.synced = inner.synced.max(target);
                    inner.appender.mark_synced(target);
                }
                Err(e) => {
                    let path = segment_path(inner.segment_first);
                    let error = Error::io(format!("fdatasync {path}"), &e);
                    inner.poisoned = Some(error.clone());
                    self.synced_changed.notify_all();
                    return Err(error);
                }
            }
            self.synced_changed.notify_all();
        }
    }

    fn write(&self, inner: &mut Inner) -> Result<()> {
        let before = inner.appender.written();
        if let Err(error) = inner.appender.write() {
            inner.poisoned = Some(error.clone());
            self.synced_changed.notify_all();
            return Err(error);
        }
        let added = inner.appender.written() - before;
        if added > 0 {
            inner.stats.writes += 1;
            inner.stats.bytes += added;
        }
        inner.written = inner.appender.next_seq();
        Ok(())
    }

    fn sync_locked(&self, inner: &mut Inner) -> Result<()> {
        // A group leader may be syncing outside the lock; its sync covers less than ours will.
        inner.stats.syncs += 1;
        if let Err(error) = inner.appender.sync() {
            inner.poisoned = Some(error.clone());
            self.synced_changed.notify_all();
            return Err(error);
        }
        inner.synced = inner.written;
        self.synced_changed.notify_all();
        Ok(())
    }

    /// Makes every written record durable (the async mode's background sync, and an explicit
    /// sync of the store).
    pub fn sync(&self) -> Result<()> {
        let mut inner = self.inner.lock();
        if let Some(cause) = &inner.poisoned {
            return Err(poisoned(cause));
        }
        self.write(&mut inner)?;
        if inner.synced < inner.written {
            self.sync_locked(&mut inner)?;
        }
        Ok(())
    }

    /// Starts a new segment once the current one is past its size, after syncing it (so no
    /// segment but the last can end torn). Skipped while a group leader's sync is in flight;
    /// the next append retries.
    fn maybe_roll(&self, inner: &mut Inner) -> Result<()> {
        if inner.appender.written() < self.options.segment_bytes || inner.syncing {
            return Ok(());
        }
        self.start_next_segment(inner)
    }

    /// Moves appending to a new segment when the current one holds records, so that
    /// [`retire`](Log::retire) can remove every segment before the next record: a store that
    /// closes after its checkpoint leaves a WAL of one segment header, which is all the next
    /// open reads. Waits for a group leader's sync in flight. A failure poisons the log, as a
    /// rollover's does.
    pub fn roll(&self) -> Result<()> {
        let mut inner = self.inner.lock();
        while inner.syncing {
            self.synced_changed.wait(&mut inner);
        }
        if let Some(cause) = &inner.poisoned {
            return Err(poisoned(cause));
        }
        if inner.segment_first == inner.appender.next_seq() {
            return Ok(());
        }
        self.start_next_segment(&mut inner)
    }

    /// Writes what is buffered, cuts the space written ahead, syncs, then starts the segment
    /// of the next record.
    fn start_next_segment(&self, inner: &mut Inner) -> Result<()> {
        self.write(inner)?;
        let trimmed = match inner.appender.trim() {
            Ok(trimmed) => trimmed,
            Err(error) => {
                inner.poisoned = Some(error.clone());
                self.synced_changed.notify_all();
                return Err(error);
            }
        };
        if trimmed || inner.synced < inner.written {
            self.sync_locked(inner)?;
        }
        let next = inner.appender.next_seq();
        match start_segment(&*self.fs, next, &self.options, &mut inner.stats) {
            Ok((appender, file)) => {
                inner.appender = appender;
                inner.file = file;
                inner.segment_first = next;
                Ok(())
            }
            Err(error) => {
                inner.poisoned = Some(error.clone());
                Err(error)
            }
        }
    }

    /// The sequence number the next record gets; every record before it is written.
    pub fn next_seq(&self) -> u64 {
        self.inner.lock().appender.next_seq()
    }

    /// The log's position now: the next record's sequence number and the bytes before it.
    pub fn mark(&self) -> LogMark {
        let inner = self.inner.lock();
        LogMark {
            seq: inner.appender.next_seq(),
            pushed: inner.pushed,
        }
    }

    /// Record bytes the last manifest does not cover: those past `wal_start` found at open
    /// plus those pushed since, less what a [`retire`](Log::retire) covered (what the
    /// checkpoint trigger compares with its threshold).
    pub fn wal_bytes(&self) -> u64 {
        self.inner.lock().wal_bytes
    }

    /// The log's counters.
    pub fn stats(&self) -> LogStats {
        self.inner.lock().stats
    }

    /// The failure that poisoned the log, if one did.
    pub fn poisoned(&self) -> Option<Error> {
        self.inner.lock().poisoned.clone()
    }

    /// Records that a published manifest covers every record before `mark`: removes the
    /// segments wholly before it (the segment holding the mark stays) and leaves in the byte
    /// count only the records pushed after the mark. A failed listing or removal poisons
    /// nothing (it costs only space) and is retried at the next checkpoint; a failed directory
    /// sync poisons.
    pub fn retire(&self, mark: LogMark) -> Result<()> {
        let start = mark.seq;
        let mut inner = self.inner.lock();
        if let Some(cause) = &inner.poisoned {
            return Err(poisoned(cause));
        }
        // Listing or removing failing costs only space: the next checkpoint retries.
        let Ok(firsts) = list_segments(&*self.fs) else {
            return Ok(());
        };
        let mut removed = false;
        for pair in firsts.windows(2) {
            if pair[1] <= start {
                let path = segment_path(pair[0]);
                if self.fs.remove(&path).is_ok() {
                    removed = true;
                }
            }
        }
        if removed && let Err(e) = self.fs.sync_dir(WAL_DIR) {
            let error = Error::io(format!("fsync {WAL_DIR}"), &e);
            inner.poisoned = Some(error.clone());
            return Err(error);
        }
        inner.wal_bytes = inner.pushed - mark.pushed;
        Ok(())
    }
}

fn poisoned(cause: &Error) -> Error {
    Error::Poisoned {
        cause: Box::new(cause.clone()),
    }
}

/// Creates the segment starting at `first_seq`: header written and synced, name synced.
fn start_segment(
    fs: &dyn FileSystem,
    first_seq: u64,
    options: &LogOptions,
    stats: &mut LogStats,
) -> Result<(WalAppender, Arc<dyn FsFile>)> {
    let path = segment_path(first_seq);
    let io = |what: &str, e: std::io::Error| Error::io(format!("{what} {path}"), &e);
    let file = match fs.open(&path, OpenMode::CreateNew) {
        Ok(file) => file,
        // Debris of a rollover whose header never validated was removed by recovery; a file
        // here now is another writer's.
        Err(e) => return Err(io("create", e)),
    };
    let appender = WalAppender::create(
        Arc::clone(&file),
        path.clone(),
        random_salt(),
        first_seq,
        options.preallocate(),
    )?;
    file.sync_data().map_err(|e| io("fdatasync", e))?;
    fs.sync_dir(WAL_DIR)
        .map_err(|e| Error::io(format!("fsync {WAL_DIR}"), &e))?;
    stats.syncs += 1;
    stats.segments_started += 1;
    Ok((appender, file))
}

/// A salt no earlier segment is likely to have had.
fn random_salt() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::LogOp;
    use crate::store::sim::SimFs;

    fn put(i: u32) -> LogRecord {
        LogRecord::Batch(vec![LogOp::Put(i.to_be_bytes().to_vec(), vec![7; 100])])
    }

    #[test]
    fn zeros_written_ahead_past_an_earlier_segment_are_not_damage() {
        let fs = Arc::new(SimFs::new());
        let options = LogOptions { segment_bytes: 200 };
        let (log, _) = Log::open(fs.clone(), 1, options).unwrap();
        for i in 0..20 {
            log.append(&put(i), Durability::Sync).unwrap();
        }
        drop(log);
        let mut firsts = list_segments(&*fs).unwrap();
        firsts.sort_unstable();
        assert!(firsts.len() > 2);
        // The first segment as if its cut had been lost: zeros after its records.
        let path = segment_path(firsts[0]);
        let mut bytes = fs.read_file(&path).unwrap();
        bytes.extend_from_slice(&[0; 64]);
        assert!(fs.write_file(&path, &bytes));
        let (_, records) = Log::open(fs.clone(), 1, options).unwrap();
        assert_eq!(records.len(), 20);
        // A byte that is not zero there is damage.
        bytes.push(1);
        assert!(fs.write_file(&path, &bytes));
        let error = Log::open(fs, 1, options).err().expect("damage reported");
        assert!(error.to_string().contains("damaged record"), "{error}");
    }

    #[test]
    fn a_retire_leaves_the_bytes_of_the_records_after_its_mark() {
        let fs = Arc::new(SimFs::new());
        let (log, _) = Log::open(fs, 1, LogOptions::default()).unwrap();
        for i in 0..10 {
            log.append(&put(i), Durability::Sync).unwrap();
        }
        let ten = log.wal_bytes();
        // A checkpoint's mark, then records logged while it runs (of the same size).
        let mark = log.mark();
        for i in 10..15 {
            log.push(&put(i)).unwrap();
        }
        assert_eq!(log.wal_bytes(), ten * 3 / 2, "pushed records count");
        log.retire(mark).unwrap();
        assert_eq!(log.wal_bytes(), ten / 2, "the five records after the mark");
        log.retire(log.mark()).unwrap();
        assert_eq!(log.wal_bytes(), 0);
    }

    #[test]
    fn a_reopened_log_counts_only_the_bytes_past_the_manifests_start() {
        let fs = Arc::new(SimFs::new());
        let (log, _) = Log::open(fs.clone(), 1, LogOptions::default()).unwrap();
        for i in 0..100 {
            log.append(&put(i), Durability::Sync).unwrap();
        }
        let all = log.wal_bytes();
        drop(log);
        let (reopened, _) = Log::open(fs.clone(), 1, LogOptions::default()).unwrap();
        assert_eq!(
            reopened.wal_bytes(),
            all,
            "nothing covered: every record counts"
        );
        drop(reopened);
        // A manifest covering records 1 ..= 90: only the last 10 records are the tail (the
        // records are of one size).
        let (reopened, records) = Log::open(fs, 91, LogOptions::default()).unwrap();
        assert_eq!(records.len(), 10);
        assert_eq!(reopened.wal_bytes(), all / 10);
    }
}
