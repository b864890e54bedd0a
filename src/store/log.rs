//! The write-ahead log of a store: segments in `wal/`, recovery, and commits in every
//! durability mode.
//!
//! Segments are named by their first sequence number (`wal/<20 digits>.wal`). A writer starts
//! a segment of its own at open and appends to its last one; past
//! [`LogOptions::segment_bytes`] it syncs it and starts the next, so only the last segment can
//! ever have a torn tail. Recovery reads every segment of the log from the one holding
//! `wal_start` on, checks they are contiguous, cuts a torn tail of the last one, and returns
//! the records to replay.
//!
//! Every segment's header names the epoch of the writer that started it ([`Writer`]), which is
//! above every epoch before it: the segments alone say which writer is the newest, so a stale
//! writer that the lock did not stop is fenced. Its segments after a newer one are superseded,
//! its records from the newer writer's first seq on are cut, and it finds the newer writer's
//! segment (and fails with [`Error::Locked`]) when it next starts a segment, publishes a
//! manifest or retires segments (`docs/FORMAT.md`, "Writer epochs").
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
use super::wal::{
    RECORD_HEADER_LEN, SEGMENT_HEADER_LEN, SegmentHeader, WalAppender, decode_segment_until,
};

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

/// A writer of the log: its epoch and the newest manifest it knows, recorded in the header of
/// every segment it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer {
    /// The writer's epoch: above every epoch in the store when it opened.
    pub epoch: u64,
    /// The number of the newest manifest the writer knows (0: none).
    pub manifest: u64,
}

/// A segment in `wal/`: its first sequence number (from its name) and its header, `None` when
/// the header does not validate (a segment whose creation a crash cut short, or one being
/// created now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The first sequence number its name gives.
    pub first: u64,
    /// Its header.
    pub header: Option<SegmentHeader>,
}

/// The header of every segment in `wal/`, ascending by first sequence number. Reads only the
/// headers; a segment listed and gone when opened (retired meanwhile by the writer) is left
/// out. Fails on a header of a newer format.
pub fn segment_headers(fs: &dyn FileSystem) -> Result<Vec<SegmentInfo>> {
    let mut out = Vec::new();
    for first in list_segments(fs)? {
        let path = segment_path(first);
        let io = |e: std::io::Error| Error::io(format!("read {path}"), &e);
        let file = match fs.open(&path, OpenMode::Read) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(e)),
        };
        let size = file.size().map_err(io)?;
        let mut bytes = vec![0; size.min(SEGMENT_HEADER_LEN as u64) as usize];
        file.read_exact_at(&mut bytes, 0).map_err(io)?;
        let header =
            SegmentHeader::decode(&bytes).map_err(|e| Error::Corrupt(format!("{path}: {e}")))?;
        out.push(SegmentInfo { first, header });
    }
    Ok(out)
}

/// The segments of the log's chain, in order: without those **superseded** (started by a
/// writer whose epoch is below that of a segment before them: a fenced writer's, never part
/// of the log). Segments whose header does not validate stay; the scan decides about them.
fn chain(segments: Vec<SegmentInfo>) -> Vec<SegmentInfo> {
    let mut newest = 0;
    segments
        .into_iter()
        .filter(|s| match s.header {
            Some(h) if h.epoch < newest => false,
            Some(h) => {
                newest = h.epoch;
                true
            }
            None => true,
        })
        .collect()
}

/// The writer that opens the log next: an epoch above the manifest's (`manifest_epoch`) and
/// every segment's, and the number of the manifest it opened on.
pub fn claim(fs: &dyn FileSystem, manifest_epoch: u64, manifest: u64) -> Result<Writer> {
    let newest = segment_headers(fs)?
        .iter()
        .filter_map(|s| s.header.map(|h| h.epoch))
        .fold(manifest_epoch, u64::max);
    Ok(Writer {
        epoch: newest + 1,
        manifest,
    })
}

/// A segment with a valid header of an epoch above `epoch`: a newer writer's, which fences
/// the writer of `epoch`.
pub fn newer_writer(segments: &[SegmentInfo], epoch: u64) -> Option<&SegmentInfo> {
    segments
        .iter()
        .find(|s| s.header.is_some_and(|h| h.epoch > epoch))
}

/// The error of a writer fenced by a newer writer's file at `path`: the store is open for
/// writing elsewhere (the lock did not keep the other writer out).
fn fenced(path: String) -> Error {
    Error::Locked { path }
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
    /// The last segment of the log with a valid header.
    last: Option<LastSegment>,
    /// A last segment whose header never became valid (an interrupted rollover).
    headless: Option<u64>,
}

/// The last segment read, which recovery makes durable.
struct LastSegment {
    first: u64,
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
    let segments = chain(segment_headers(fs)?);
    // The segment holding wal_start is the last one starting at or before it.
    let from = segments
        .iter()
        .rposition(|s| s.first <= wal_start)
        .unwrap_or(0);
    let mut out = Scan {
        records: Vec::new(),
        next_seq: wal_start,
        wal_bytes: 0,
        last: None,
        headless: None,
    };
    let live = &segments[from..];
    for (i, info) in live.iter().enumerate() {
        let first = info.first;
        let path = segment_path(first);
        let is_last = i + 1 == live.len();
        // A newer writer's segment ends this one: the records from its first on are a fenced
        // writer's.
        let epoch = info.header.map_or(0, |h| h.epoch);
        let end_seq = live[i + 1..]
            .iter()
            .find(|s| s.header.is_some_and(|h| h.epoch > epoch))
            .map_or(u64::MAX, |s| s.first);
        let (file, bytes) = read_all(fs, &path, mode)?;
        let segment = decode_segment_until(&bytes, end_seq)
            .map_err(|e| Error::Corrupt(format!("{path}: {e}")))?;
        let Some(header) = segment.header else {
            // A segment's header is synced before any record is written to it, so only a
            // segment no longer than a header can have lost its header to a crash.
            if is_last && bytes.len() <= SEGMENT_HEADER_LEN {
                out.headless = Some(first);
                break;
            }
            // One starting inside the records before it is not part of the log: a fenced
            // writer's, cut short.
            if i > 0 && first < out.next_seq {
                continue;
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
        let next_seq = segment.next_seq().expect("header present");
        if !is_last && next_seq != end_seq && segment.has_torn_tail(bytes.len()) {
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
        out.next_seq = next_seq;
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
            file,
            valid: segment.valid_len,
            len: bytes.len(),
            unproven_at,
            unproven: bytes[unproven_at..segment.valid_len].to_vec(),
            first,
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
    /// The writer appending, named by the segments it starts.
    writer: Writer,
    /// Records below this are durable.
    synced: u64,
    /// Records below this have been written.
    written: u64,
    /// A group leader is syncing.
    syncing: bool,
    poisoned: Option<Error>,
    stats: LogStats,
    /// Record bytes past the manifest's `wal_start` at open, plus those written since (reset
    /// by a retire).
    wal_bytes: u64,
}

/// The writer's log.
pub struct Log {
    fs: Arc<dyn FileSystem>,
    options: LogOptions,
    inner: Mutex<Inner>,
    synced_changed: Condvar,
}

impl Log {
    /// Recovers the log for `writer`: reads every record from `wal_start` on, cuts a torn
    /// tail of the last segment, writes its unproven part again and syncs it and the directory
    /// (what was read is durable from then on), removes a last segment whose header never
    /// landed, and starts the writer's first segment at the next sequence number (replacing
    /// an empty last segment of an earlier writer there). That segment names the writer's
    /// epoch, which fences every older writer from then on (`docs/FORMAT.md`).
    ///
    /// Fails with [`Error::Locked`] when a writer of an epoch at or above `writer.epoch`
    /// started that segment first.
    pub fn open(
        fs: Arc<dyn FileSystem>,
        wal_start: u64,
        options: LogOptions,
        writer: Writer,
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
        if let Some(LastSegment {
            first,
            file,
            valid,
            len,
            unproven_at,
            unproven,
        }) = scan.last
        {
            let path = segment_path(first);
            let io = |e: std::io::Error| Error::io(format!("recover {path}"), &e);
            if valid < len {
                file.set_len(valid as u64).map_err(io)?;
            }
            // What this process read may be only in the page cache: after kill -9, or after a
            // failed fsync that dropped the pages (see the module docs).
            file.write_all_at(&unproven, unproven_at as u64)
                .map_err(io)?;
            file.sync_data().map_err(io)?;
            stats.syncs += 1;
            fs.sync_dir(WAL_DIR)
                .map_err(|e| Error::io(format!("fsync {WAL_DIR}"), &e))?;
        }
        let (appender, file) = start_segment(&*fs, scan.next_seq, writer, &mut stats)?;
        let next = appender.next_seq();
        let log = Log {
            fs,
            options,
            inner: Mutex::new(Inner {
                appender,
                file,
                segment_first: next,
                writer,
                synced: next,
                written: next,
                syncing: false,
                poisoned: None,
                stats,
                wal_bytes: scan.wal_bytes,
            }),
            synced_changed: Condvar::new(),
        };
        Ok((log, scan.records))
    }

    /// The writer this log appends for.
    pub fn writer(&self) -> Writer {
        self.inner.lock().writer
    }

    /// Records that the writer published manifest `number` (named by the segments it starts
    /// from now on).
    pub fn set_manifest(&self, number: u64) {
        let mut inner = self.inner.lock();
        inner.writer.manifest = inner.writer.manifest.max(number);
    }

    /// Fails with [`Error::Locked`] (and poisons the log) when a newer writer has started a
    /// segment: this writer is fenced and must publish nothing more.
    pub fn check_fence(&self) -> Result<()> {
        let mut inner = self.inner.lock();
        if let Some(cause) = &inner.poisoned {
            return Err(poisoned(cause));
        }
        let segments = segment_headers(&*self.fs)?;
        if let Some(newer) = newer_writer(&segments, inner.writer.epoch) {
            let error = fenced(segment_path(newer.first));
            inner.poisoned = Some(error.clone());
            self.synced_changed.notify_all();
            return Err(error);
        }
        Ok(())
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
            inner.wal_bytes += added;
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

    /// Writes and syncs what is buffered, then starts the segment of the next record, unless
    /// a newer writer has started a segment (then the log is fenced: poisoned with
    /// [`Error::Locked`]).
    fn start_next_segment(&self, inner: &mut Inner) -> Result<()> {
        self.write(inner)?;
        if inner.synced < inner.written {
            self.sync_locked(inner)?;
        }
        let next = inner.appender.next_seq();
        let started = segment_headers(&*self.fs).and_then(|segments| {
            match newer_writer(&segments, inner.writer.epoch) {
                Some(newer) => Err(fenced(segment_path(newer.first))),
                None => start_segment(&*self.fs, next, inner.writer, &mut inner.stats),
            }
        });
        match started {
            Ok((appender, file)) => {
                inner.appender = appender;
                inner.file = file;
                inner.segment_first = next;
                Ok(())
            }
            Err(error) => {
                inner.poisoned = Some(error.clone());
                self.synced_changed.notify_all();
                Err(error)
            }
        }
    }

    /// The sequence number the next record gets; every record before it is written.
    pub fn next_seq(&self) -> u64 {
        self.inner.lock().appender.next_seq()
    }

    /// Record bytes the last manifest does not cover: those past `wal_start` found at open
    /// plus those written since, restarted by [`retire`](Log::retire) (what the checkpoint
    /// trigger compares with its threshold).
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

    /// Records that a published manifest covers every record before `start`: removes the
    /// segments of the log wholly before it (the segment holding `start` stays) and the
    /// superseded segments (a fenced writer's) before it, and restarts the byte count. Never
    /// removes a segment of a newer writer: one existing fences this writer instead
    /// ([`Error::Locked`]). A failed listing or removal poisons nothing (it costs only space)
    /// and is retried at the next checkpoint; a failed directory sync poisons.
    pub fn retire(&self, start: u64) -> Result<()> {
        let mut inner = self.inner.lock();
        if let Some(cause) = &inner.poisoned {
            return Err(poisoned(cause));
        }
        // Listing or reading failing costs only space: the next checkpoint retries.
        let Ok(segments) = segment_headers(&*self.fs) else {
            return Ok(());
        };
        if let Some(newer) = newer_writer(&segments, inner.writer.epoch) {
            let error = fenced(segment_path(newer.first));
            inner.poisoned = Some(error.clone());
            self.synced_changed.notify_all();
            return Err(error);
        }
        let kept = chain(segments.clone());
        let superseded = segments
            .iter()
            .filter(|s| s.first < start && !kept.contains(s))
            .map(|s| s.first);
        // Only segments with a valid header are the log's; a torn one stays where it is.
        let logged: Vec<u64> = kept
            .iter()
            .filter(|s| s.header.is_some())
            .map(|s| s.first)
            .collect();
        let before = logged
            .windows(2)
            .filter(|pair| pair[1] <= start)
            .map(|pair| pair[0]);
        let mut removed = false;
        for first in superseded.chain(before).collect::<Vec<_>>() {
            if self.fs.remove(&segment_path(first)).is_ok() {
                removed = true;
            }
        }
        if removed && let Err(e) = self.fs.sync_dir(WAL_DIR) {
            let error = Error::io(format!("fsync {WAL_DIR}"), &e);
            inner.poisoned = Some(error.clone());
            return Err(error);
        }
        inner.wal_bytes = 0;
        Ok(())
    }
}

fn poisoned(cause: &Error) -> Error {
    Error::Poisoned {
        cause: Box::new(cause.clone()),
    }
}

/// Creates `writer`'s segment starting at `first_seq`: header written and synced, name
/// synced. A segment of that name from an older writer (one whose records, if any, were all
/// read before it, or a fenced writer's) is replaced; one of a writer at or above
/// `writer.epoch`, or one whose header does not validate (being created now), fences this
/// writer: [`Error::Locked`].
fn start_segment(
    fs: &dyn FileSystem,
    first_seq: u64,
    writer: Writer,
    stats: &mut LogStats,
) -> Result<(WalAppender, Arc<dyn FsFile>)> {
    let path = segment_path(first_seq);
    let io = |what: &str, e: std::io::Error| Error::io(format!("{what} {path}"), &e);
    let create = || fs.open(&path, OpenMode::CreateNew);
    let file = match create() {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let there = segment_headers(fs)?
                .into_iter()
                .find(|s| s.first == first_seq)
                .and_then(|s| s.header);
            if there.is_none_or(|h| h.epoch >= writer.epoch) {
                return Err(fenced(path));
            }
            fs.remove(&path).map_err(|e| io("remove", e))?;
            match create() {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(fenced(path));
                }
                Err(e) => return Err(io("create", e)),
            }
        }
        Err(e) => return Err(io("create", e)),
    };
    let header = SegmentHeader::new(random_salt(), first_seq, writer.epoch, writer.manifest);
    let appender = WalAppender::create(Arc::clone(&file), path.clone(), header)?;
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
    fn a_reopened_log_counts_only_the_bytes_past_the_manifests_start() {
        let fs = Arc::new(SimFs::new());
        fs.create_dir_all(WAL_DIR).unwrap();
        let open = |start| {
            let writer = claim(&*fs, 0, 0).unwrap();
            Log::open(fs.clone(), start, LogOptions::default(), writer).unwrap()
        };
        let (log, _) = open(1);
        for i in 0..100 {
            log.append(&put(i), Durability::Sync).unwrap();
        }
        let all = log.wal_bytes();
        drop(log);
        let (reopened, _) = open(1);
        assert_eq!(
            reopened.wal_bytes(),
            all,
            "nothing covered: every record counts"
        );
        drop(reopened);
        // A manifest covering records 1 ..= 90: only the last 10 records are the tail (the
        // records are of one size).
        let (reopened, records) = open(91);
        assert_eq!(records.len(), 10);
        assert_eq!(reopened.wal_bytes(), all / 10);
    }
}
