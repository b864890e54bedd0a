//! Write-ahead log segments: framing, decoding with torn-tail detection, and the appender.
//!
//! A segment is a 32-byte header followed by records (byte layout in `docs/FORMAT.md`):
//!
//! ```text
//! header  magic "LQFTWAL\0" | version u32 | header crc u32 | salt u64 | first seq u64
//! record  len u32 | crc u32 | type u8 | seq u64 | synced u64 | payload (len bytes)
//! ```
//!
//! The record CRC (crc32fast) covers the segment's salt, `len`, `type`, `seq`, `synced` and the
//! payload, so zero-filled bytes and records left over from an older segment never validate.
//! Sequence numbers are contiguous across segments. `synced` is the writer's durable watermark
//! when it framed the record: every record with a smaller sequence number had been
//! `fdatasync`ed.
//!
//! Decoding stops at the first record that does not validate. Unsynced writes may land in any
//! order and in part, so a valid record after an invalid one is not by itself damage; it is
//! when that later record says the invalid one had already been synced (`synced` greater than
//! its sequence number): bytes that were durable changed. That is reported as corruption and
//! never skipped. Otherwise the rest of the segment is a torn tail, cut by recovery.

use std::sync::Arc;

use crate::error::{Error, Result};

use super::fs::FsFile;

/// The first 8 bytes of every WAL segment.
pub const WAL_MAGIC: [u8; 8] = *b"LQFTWAL\0";
/// The segment format this build writes and the newest it reads.
pub const WAL_VERSION: u32 = 2;
/// Bytes of a segment header.
pub const SEGMENT_HEADER_LEN: usize = 32;
/// Bytes of a record header (`len`, `crc`, `type`, `seq`, `synced`).
pub const RECORD_HEADER_LEN: usize = 25;
/// Largest payload a record may carry (bounds what a damaged `len` can make a reader allocate).
pub const MAX_PAYLOAD: usize = 1 << 30;

/// The highest record type this build knows; types are defined by the logical record layer.
pub const MAX_RECORD_TYPE: u8 = 6;

/// A segment header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Random per segment; mixed into every record CRC.
    pub salt: u64,
    /// Sequence number of the segment's first record.
    pub first_seq: u64,
}

impl SegmentHeader {
    /// The 32 header bytes.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut out = [0; SEGMENT_HEADER_LEN];
        out[0..8].copy_from_slice(&WAL_MAGIC);
        out[8..12].copy_from_slice(&WAL_VERSION.to_le_bytes());
        out[16..24].copy_from_slice(&self.salt.to_le_bytes());
        out[24..32].copy_from_slice(&self.first_seq.to_le_bytes());
        let crc = header_crc(&out);
        out[12..16].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads a header; `None` if the bytes are not a valid header of a version this build reads
    /// (a newer version is an error, so it is never mistaken for a torn file).
    pub fn decode(bytes: &[u8]) -> Result<Option<SegmentHeader>> {
        let Some(bytes) = bytes.get(..SEGMENT_HEADER_LEN) else {
            return Ok(None);
        };
        if bytes[0..8] != WAL_MAGIC || u32_at(bytes, 12) != header_crc(bytes) {
            return Ok(None);
        }
        let version = u32_at(bytes, 8);
        if version > WAL_VERSION {
            return Err(Error::Corrupt(format!(
                "WAL segment format version {version}; this build reads version {WAL_VERSION} \
                 (upgrade liblqft to open this store)"
            )));
        }
        if version != WAL_VERSION {
            return Err(Error::Corrupt(format!(
                "WAL segment format version {version} is from an older liblqft, whose records \
                 this build does not read (version {WAL_VERSION}); dump the store with that \
                 version and load it into a new one"
            )));
        }
        Ok(Some(SegmentHeader {
            salt: u64_at(bytes, 16),
            first_seq: u64_at(bytes, 24),
        }))
    }
}

fn header_crc(header: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[0..12]);
    hasher.update(&header[16..32]);
    hasher.finalize()
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn record_crc(salt: u64, len: u32, kind: u8, seq: u64, synced: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&salt.to_le_bytes());
    hasher.update(&len.to_le_bytes());
    hasher.update(&[kind]);
    hasher.update(&seq.to_le_bytes());
    hasher.update(&synced.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// The fields of a record other than its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Its type (`1..=MAX_RECORD_TYPE`).
    pub kind: u8,
    /// Its sequence number.
    pub seq: u64,
    /// The writer's durable watermark when it framed the record (at most `seq`).
    pub synced: u64,
}

/// Appends one framed record to `out`.
///
/// `kind` must be in `1..=MAX_RECORD_TYPE`, `synced <= seq`, and the payload non-empty and at
/// most [`MAX_PAYLOAD`] bytes (the logical layer guarantees all three).
pub fn encode_record(out: &mut Vec<u8>, salt: u64, header: RecordHeader, payload: &[u8]) {
    let RecordHeader { kind, seq, synced } = header;
    debug_assert!((1..=MAX_RECORD_TYPE).contains(&kind) && synced <= seq);
    debug_assert!(!payload.is_empty() && payload.len() <= MAX_PAYLOAD);
    let len = u32::try_from(payload.len()).expect("payload within MAX_PAYLOAD");
    out.extend_from_slice(&len.to_le_bytes());
    let crc = record_crc(salt, len, kind, seq, synced, payload);
    out.extend_from_slice(&crc.to_le_bytes());
    out.push(kind);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&synced.to_le_bytes());
    out.extend_from_slice(payload);
}

/// One valid record of a decoded segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    /// Its sequence number.
    pub seq: u64,
    /// Its type (`1..=MAX_RECORD_TYPE`).
    pub kind: u8,
    /// The durable watermark it carries.
    pub synced: u64,
    /// Where its payload starts in the segment.
    pub offset: usize,
    /// Its payload's length.
    pub len: usize,
}

/// What [`decode_segment`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedSegment {
    /// The header; `None` when the file is shorter than a header or its header is torn (a
    /// segment whose creation a crash interrupted).
    pub header: Option<SegmentHeader>,
    /// The valid records, in order.
    pub records: Vec<WalRecord>,
    /// Bytes from the start of the file through the last valid record: where a torn tail is
    /// cut and where appending resumes.
    pub valid_len: usize,
}

impl DecodedSegment {
    /// Whether bytes past the last valid record were found (a torn tail).
    pub fn has_torn_tail(&self, file_len: usize) -> bool {
        self.valid_len < file_len
    }

    /// The sequence number the record after this segment's last one must have.
    pub fn next_seq(&self) -> Option<u64> {
        let header = self.header?;
        Some(self.records.last().map_or(header.first_seq, |r| r.seq + 1))
    }
}

/// The record at `at`, if one validates there with sequence number `seq` (or, with `seq`
/// `None`, any sequence number in `min_seq..`).
fn record_at(
    bytes: &[u8],
    at: usize,
    salt: u64,
    seq: Option<u64>,
    min_seq: u64,
) -> Option<WalRecord> {
    let head = bytes.get(at..at.checked_add(RECORD_HEADER_LEN)?)?;
    let len = u32_at(head, 0);
    let kind = head[8];
    let found = u64_at(head, 9);
    let synced = u64_at(head, 17);
    if len == 0
        || len as usize > MAX_PAYLOAD
        || kind == 0
        || kind > MAX_RECORD_TYPE
        || synced > found
        || found == u64::MAX
    {
        return None;
    }
    match seq {
        Some(seq) if found != seq => return None,
        // A later record is at most one per header's worth of bytes ahead.
        None if found < min_seq || found - min_seq > (bytes.len() / RECORD_HEADER_LEN) as u64 => {
            return None;
        }
        _ => {}
    }
    let start = at + RECORD_HEADER_LEN;
    let payload = bytes.get(start..start.checked_add(len as usize)?)?;
    (record_crc(salt, len, kind, found, synced, payload) == u32_at(head, 4)).then_some(WalRecord {
        seq: found,
        kind,
        synced,
        offset: start,
        len: len as usize,
    })
}

/// The first record at or after byte `from` that validates under `salt` and was framed after
/// record `seq` had become durable: proof that the bytes of record `seq` had been synced.
fn synced_after(bytes: &[u8], from: usize, salt: u64, seq: u64) -> Option<WalRecord> {
    let mut at = from;
    while at < bytes.len() {
        // A record's `len` is not 0, so no record starts 4 or more bytes before the next
        // non-zero byte: runs of zeros (space written ahead) are skipped.
        let zeros = bytes[at..].iter().position(|&b| b != 0)?;
        at += zeros.saturating_sub(3);
        if let Some(later) = record_at(bytes, at, salt, None, seq)
            && later.synced > seq
        {
            return Some(later);
        }
        at += 1;
    }
    None
}

/// Fails when a header that does not validate is followed by a record proving the segment's
/// first record (so the header written before it) had been synced: damage, not a segment
/// whose creation a crash cut short. The salt is taken from the header's bytes (a torn header
/// has no salt that validates anything), the first seq from the record right after the header
/// (the header's own first seq may be torn, and a wrong one could make any record look like
/// proof).
fn damaged_header(bytes: &[u8]) -> Result<()> {
    let (Some(head), Some(first)) = (
        bytes.get(..SEGMENT_HEADER_LEN),
        bytes.get(SEGMENT_HEADER_LEN + 9..SEGMENT_HEADER_LEN + 17),
    ) else {
        return Ok(());
    };
    let (salt, first) = (u64_at(head, 16), u64_at(first, 0));
    if record_at(bytes, SEGMENT_HEADER_LEN, salt, Some(first), first).is_some()
        && let Some(later) = synced_after(bytes, SEGMENT_HEADER_LEN, salt, first)
    {
        return Err(Error::Corrupt(format!(
            "WAL segment header does not validate but record {} at byte {} says the \
                 segment's first record had been synced; the log is damaged (restore from a \
                 backup, or run `lqft store verify`)",
            later.seq,
            later.offset - RECORD_HEADER_LEN
        )));
    }
    Ok(())
}

/// Decodes a whole segment file.
///
/// Fails with [`Error::Corrupt`] when a record that does not validate is followed by one that
/// does and says the first had been synced (damage, not a torn tail), or the header names a
/// newer format. A torn tail is not an error: [`DecodedSegment::valid_len`] says where the
/// valid part ends.
pub fn decode_segment(bytes: &[u8]) -> Result<DecodedSegment> {
    let Some(header) = SegmentHeader::decode(bytes)? else {
        damaged_header(bytes)?;
        return Ok(DecodedSegment {
            header: None,
            records: Vec::new(),
            valid_len: 0,
        });
    };
    let mut records = Vec::new();
    let mut at = SEGMENT_HEADER_LEN;
    let mut seq = header.first_seq;
    while let Some(record) = record_at(bytes, at, header.salt, Some(seq), seq) {
        at = record.offset + record.len;
        seq += 1;
        records.push(record);
    }
    if let Some(later) = synced_after(bytes, at + 1, header.salt, seq) {
        return Err(Error::Corrupt(format!(
            "WAL record {seq} at byte {at} does not validate but the later record {} at byte {} \
             says it had been synced; \
             the log is damaged (restore from a backup, or run `lqft store verify`)",
            later.seq,
            later.offset - RECORD_HEADER_LEN
        )));
    }
    Ok(DecodedSegment {
        header: Some(header),
        records,
        valid_len: at,
    })
}

/// Appends records to the last segment of the log.
///
/// The appender only frames and writes; when a write is durable is the caller's choice
/// ([`WalAppender::sync`]). A failed write or sync leaves the appender unusable: the caller
/// poisons the writer.
///
/// Space is written ahead: a write that reaches past the file's end also writes `preallocate`
/// zero bytes after its records (in the same positioned write), so most commits overwrite
/// blocks the file already has and their `fdatasync` flushes data only — no size or extent
/// change for the file system to journal. Zeros never validate as a record (a record's `len`
/// is not 0), so decoding stops there as at a torn tail. [`WalAppender::trim`] cuts the zeros
/// off before a segment is closed, so that only the last segment has bytes past its records.
pub struct WalAppender {
    file: Arc<dyn FsFile>,
    path: String,
    salt: u64,
    next_seq: u64,
    /// Every record before this one is durable.
    synced: u64,
    /// Sequence number the buffered and written records end before.
    written_seq: u64,
    /// Where the next record is written.
    end: u64,
    /// The file's length: `end` plus the zeros written ahead.
    allocated: u64,
    /// Zero bytes written ahead past the records when a write reaches the file's end.
    preallocate: usize,
    /// Framed records not yet written.
    buffer: Vec<u8>,
}

impl WalAppender {
    /// An appender on a new, empty segment file `path` whose first record will be `first_seq`:
    /// writes the segment header (not yet synced). Writes that reach the file's end write
    /// `preallocate` zero bytes ahead.
    pub fn create(
        file: Arc<dyn FsFile>,
        path: String,
        salt: u64,
        first_seq: u64,
        preallocate: usize,
    ) -> Result<Self> {
        let header = SegmentHeader { salt, first_seq }.encode();
        file.write_all_at(&header, 0)
            .map_err(|e| Error::io(format!("write {path}"), &e))?;
        Ok(WalAppender {
            file,
            path,
            salt,
            next_seq: first_seq,
            synced: first_seq,
            written_seq: first_seq,
            end: SEGMENT_HEADER_LEN as u64,
            allocated: SEGMENT_HEADER_LEN as u64,
            preallocate,
            buffer: Vec::new(),
        })
    }

    /// An appender continuing an existing segment whose valid part ends at `end`, the file's
    /// length, and whose records are all durable (recovery has cut any torn tail there and
    /// synced the file).
    pub fn resume(
        file: Arc<dyn FsFile>,
        path: String,
        salt: u64,
        next_seq: u64,
        end: u64,
        preallocate: usize,
    ) -> Self {
        WalAppender {
            file,
            path,
            salt,
            next_seq,
            synced: next_seq,
            written_seq: next_seq,
            end,
            allocated: end,
            preallocate,
            buffer: Vec::new(),
        }
    }

    /// Frames a record into the buffer and returns its sequence number. A payload that is
    /// empty or over [`MAX_PAYLOAD`] bytes is refused (nothing is framed): readers would take
    /// such a record for a torn tail and drop it after it had been acknowledged.
    pub fn push(&mut self, kind: u8, payload: &[u8]) -> Result<u64> {
        if payload.is_empty() || payload.len() > MAX_PAYLOAD {
            return Err(Error::InvalidArgument(format!(
                "a WAL record of {} bytes; a record holds 1 to {MAX_PAYLOAD} bytes \
                 (split the batch)",
                payload.len()
            )));
        }
        let seq = self.next_seq;
        let header = RecordHeader {
            kind,
            seq,
            synced: self.synced,
        };
        encode_record(&mut self.buffer, self.salt, header, payload);
        self.next_seq += 1;
        Ok(seq)
    }

    /// Writes the buffered records to the file (one positioned write), with zeros ahead of
    /// them when they reach past the file's end.
    pub fn write(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let records = self.buffer.len() as u64;
        if self.end + records > self.allocated {
            self.buffer.resize(self.buffer.len() + self.preallocate, 0);
        }
        self.file
            .write_all_at(&self.buffer, self.end)
            .map_err(|e| Error::io(format!("write {}", self.path), &e))?;
        self.allocated = self.allocated.max(self.end + self.buffer.len() as u64);
        self.end += records;
        self.buffer.clear();
        self.written_seq = self.next_seq;
        Ok(())
    }

    /// Cuts the zeros written ahead off the file (not synced), so that a segment being closed
    /// ends at its last record; `true` when the file changed.
    pub fn trim(&mut self) -> Result<bool> {
        if self.allocated == self.end {
            return Ok(false);
        }
        self.file
            .set_len(self.end)
            .map_err(|e| Error::io(format!("truncate {}", self.path), &e))?;
        self.allocated = self.end;
        Ok(true)
    }

    /// `fdatasync`s the segment: every written record is durable when this returns `Ok`.
    pub fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io(format!("fdatasync {}", self.path), &e))?;
        self.synced = self.written_seq;
        Ok(())
    }

    /// Every record with a smaller sequence number is durable.
    pub fn synced(&self) -> u64 {
        self.synced
    }

    /// Records that a sync of the file made elsewhere (a group commit's leader syncs outside
    /// the writer's lock) covered every record before `seq`.
    pub fn mark_synced(&mut self, seq: u64) {
        self.synced = self.synced.max(seq.min(self.written_seq));
    }

    /// The sequence number the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Bytes written to the segment so far (header included).
    pub fn written(&self) -> u64 {
        self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::{FileSystem, OpenMode};
    use crate::store::sim::{Crash, SimFs};

    const SALT: u64 = 0x5eed_0000_1234_5678;

    fn segment(first_seq: u64, payloads: &[&[u8]]) -> Vec<u8> {
        let mut bytes = SegmentHeader {
            salt: SALT,
            first_seq,
        }
        .encode()
        .to_vec();
        for (i, payload) in payloads.iter().enumerate() {
            let seq = first_seq + i as u64;
            // Each record written and synced on its own.
            let header = RecordHeader {
                kind: 1,
                seq,
                synced: seq,
            };
            encode_record(&mut bytes, SALT, header, payload);
        }
        bytes
    }

    fn payloads(bytes: &[u8], decoded: &DecodedSegment) -> Vec<Vec<u8>> {
        decoded
            .records
            .iter()
            .map(|r| bytes[r.offset..r.offset + r.len].to_vec())
            .collect()
    }

    #[test]
    fn records_round_trip_in_order() {
        let bytes = segment(41, &[b"one", b"two", b"three"]);
        let decoded = decode_segment(&bytes).unwrap();
        assert_eq!(decoded.header.unwrap().first_seq, 41);
        assert_eq!(payloads(&bytes, &decoded), [&b"one"[..], b"two", b"three"]);
        assert_eq!(decoded.records[2].seq, 43);
        assert_eq!(decoded.valid_len, bytes.len());
        assert_eq!(decoded.next_seq(), Some(44));
    }

    #[test]
    fn every_truncation_is_a_torn_tail_keeping_whole_records() {
        let bytes = segment(1, &[b"alpha", b"beta", b"gamma"]);
        let ends: Vec<usize> = decode_segment(&bytes)
            .unwrap()
            .records
            .iter()
            .map(|r| r.offset + r.len)
            .collect();
        for cut in 0..bytes.len() {
            let decoded = decode_segment(&bytes[..cut]).unwrap();
            let whole = ends.iter().filter(|&&end| end <= cut).count();
            if cut < SEGMENT_HEADER_LEN {
                assert!(decoded.header.is_none());
            } else {
                assert_eq!(decoded.records.len(), whole, "cut at {cut}");
            }
        }
    }

    #[test]
    fn zero_filled_and_stale_tails_are_torn_not_records() {
        let mut bytes = segment(1, &[b"alpha"]);
        let valid = bytes.len();
        bytes.extend_from_slice(&[0; 100]);
        let decoded = decode_segment(&bytes).unwrap();
        assert_eq!((decoded.records.len(), decoded.valid_len), (1, valid));
        // A record of another segment (other salt) with the next sequence number is stale.
        let mut bytes = segment(1, &[b"alpha"]);
        let stale = RecordHeader {
            kind: 1,
            seq: 2,
            synced: 2,
        };
        encode_record(&mut bytes, SALT ^ 1, stale, b"stale");
        let decoded = decode_segment(&bytes).unwrap();
        assert_eq!((decoded.records.len(), decoded.valid_len), (1, valid));
    }

    #[test]
    fn a_damaged_record_followed_by_valid_ones_is_corruption() {
        let bytes = segment(1, &[b"alpha", b"beta", b"gamma"]);
        let second = decode_segment(&bytes).unwrap().records[1].clone();
        for at in second.offset - RECORD_HEADER_LEN..second.offset + second.len {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            let error = decode_segment(&damaged).unwrap_err();
            assert!(matches!(error, Error::Corrupt(_)), "byte {at}: {error}");
        }
    }

    #[test]
    fn an_unsynced_record_missing_before_a_later_one_is_a_torn_tail() {
        // Two writes after the last sync; the first never landed (zeros), the second did.
        let mut bytes = segment(1, &[b"alpha"]);
        let valid = bytes.len();
        let mut unsynced = Vec::new();
        for seq in [2, 3] {
            let header = RecordHeader {
                kind: 1,
                seq,
                synced: 2,
            };
            encode_record(&mut unsynced, SALT, header, b"later");
        }
        let first_len = unsynced.len() / 2;
        unsynced[..first_len].fill(0);
        bytes.extend_from_slice(&unsynced);
        let decoded = decode_segment(&bytes).unwrap();
        assert_eq!((decoded.records.len(), decoded.valid_len), (1, valid));
    }

    #[test]
    fn damage_to_the_last_record_is_a_torn_tail() {
        let bytes = segment(1, &[b"alpha", b"beta"]);
        let last = decode_segment(&bytes).unwrap().records[1].clone();
        let mut damaged = bytes.clone();
        damaged[last.offset] ^= 1;
        let decoded = decode_segment(&damaged).unwrap();
        assert_eq!(decoded.records.len(), 1);
        assert_eq!(decoded.valid_len, last.offset - RECORD_HEADER_LEN);
    }

    #[test]
    fn invalid_lengths_types_watermarks_and_gaps_do_not_validate() {
        let cases = [
            (0u32, 1u8, 1u64, 0u64),
            (3, 0, 1, 0),
            (3, MAX_RECORD_TYPE + 1, 1, 0),
            (3, 1, 2, 0),
            (3, 1, 1, 2),
        ];
        for (len, kind, seq, synced) in cases {
            let mut bytes = segment(1, &[]);
            bytes.extend_from_slice(&len.to_le_bytes());
            let payload = &b"abc"[..len.min(3) as usize];
            let crc = record_crc(SALT, len, kind, seq, synced, payload);
            bytes.extend_from_slice(&crc.to_le_bytes());
            bytes.push(kind);
            bytes.extend_from_slice(&seq.to_le_bytes());
            bytes.extend_from_slice(&synced.to_le_bytes());
            bytes.extend_from_slice(b"abc");
            let decoded = decode_segment(&bytes).unwrap();
            assert!(decoded.records.is_empty(), "{len} {kind} {seq} {synced}");
        }
    }

    #[test]
    fn a_newer_segment_version_is_refused_with_a_clear_error() {
        let mut bytes = segment(1, &[b"x"]);
        bytes[8..12].copy_from_slice(&(WAL_VERSION + 1).to_le_bytes());
        let crc = header_crc(&bytes);
        bytes[12..16].copy_from_slice(&crc.to_le_bytes());
        let error = decode_segment(&bytes).unwrap_err();
        let newer = format!("version {}", WAL_VERSION + 1);
        assert!(error.to_string().contains(&newer), "{error}");
    }

    #[test]
    fn appender_output_decodes_and_only_synced_records_survive_power_loss() {
        let fs = SimFs::new();
        fs.create_dir_all("wal").unwrap();
        let file = fs.open("wal/1.wal", OpenMode::CreateNew).unwrap();
        let mut wal = WalAppender::create(file, "wal/1.wal".into(), SALT, 1, 16).unwrap();
        wal.push(1, b"first").unwrap();
        wal.write().unwrap();
        wal.sync().unwrap();
        fs.sync_dir("wal").unwrap();
        wal.push(2, b"second").unwrap();
        wal.write().unwrap();
        wal.push(3, b"third").unwrap();
        wal.write().unwrap();
        let now = fs.read_file("wal/1.wal").unwrap();
        let decoded = decode_segment(&now).unwrap();
        assert_eq!(decoded.records.len(), 3);
        assert_eq!(decoded.records[2].synced, 2);
        for seed in 0..200 {
            let image = fs
                .crash(Crash::Random(seed))
                .read_file("wal/1.wal")
                .unwrap();
            let decoded = decode_segment(&image).unwrap();
            assert!(
                !decoded.records.is_empty(),
                "seed {seed} lost a synced record"
            );
            assert_eq!(decoded.records[0].kind, 1);
        }
    }

    #[test]
    fn space_written_ahead_reads_as_the_end_of_the_log_and_is_trimmed() {
        let fs = SimFs::new();
        let file = fs.open("1.wal", OpenMode::CreateNew).unwrap();
        let mut wal = WalAppender::create(Arc::clone(&file), "1.wal".into(), SALT, 1, 100).unwrap();
        let size = || file.size().unwrap();
        wal.push(1, b"first").unwrap();
        wal.write().unwrap();
        let first_end = wal.written();
        assert_eq!(size(), first_end + 100, "zeros written ahead of the record");
        wal.push(1, b"second").unwrap();
        wal.write().unwrap();
        assert_eq!(
            size(),
            first_end + 100,
            "a write within the space keeps the size"
        );
        wal.push(1, &[7; 150]).unwrap();
        wal.write().unwrap();
        assert_eq!(size(), wal.written() + 100);
        let bytes = fs.read_file("1.wal").unwrap();
        let decoded = decode_segment(&bytes).unwrap();
        assert_eq!(decoded.records.len(), 3);
        assert_eq!(decoded.valid_len as u64, wal.written());
        assert!(decoded.has_torn_tail(bytes.len()));
        assert!(wal.trim().unwrap());
        assert_eq!(size(), wal.written());
        assert!(!wal.trim().unwrap());
    }

    #[test]
    fn damage_is_found_past_a_run_of_zeros() {
        // Records 1..=3, record 2 damaged, record 3 (which says 2 was synced) after zeros.
        let mut bytes = segment(1, &[b"one", b"two"]);
        let two = bytes.len() - 3;
        bytes[two] ^= 0xff;
        bytes.extend_from_slice(&[0; 4096]);
        let header = RecordHeader {
            kind: 1,
            seq: 3,
            synced: 3,
        };
        encode_record(&mut bytes, SALT, header, b"three");
        let error = decode_segment(&bytes).unwrap_err();
        assert!(error.to_string().contains("record 3"), "{error}");
    }

    #[test]
    fn a_payload_over_the_record_limit_is_refused_not_acknowledged_then_dropped() {
        // The decoder refuses `len > MAX_PAYLOAD`, so a larger record, once synced and
        // acknowledged, would be read back as a torn tail and lost.
        let fs = SimFs::new();
        let file = fs.open("1.wal", OpenMode::CreateNew).unwrap();
        let mut wal = WalAppender::create(file, "1.wal".into(), SALT, 1, 0).unwrap();
        let huge = vec![0u8; MAX_PAYLOAD + 1];
        let error = wal.push(1, &huge).unwrap_err();
        assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
        assert!(wal.push(1, b"").is_err());
        assert_eq!(wal.push(1, b"small").unwrap(), 1);
        wal.write().unwrap();
        let decoded = decode_segment(&fs.read_file("1.wal").unwrap()).unwrap();
        assert_eq!(decoded.records.len(), 1);
    }

    #[test]
    fn a_segment_at_the_end_of_the_sequence_space_decodes_without_overflow() {
        // A damaged or hostile header may start anywhere; the decoder must not overflow
        // computing the sequence number after a record numbered u64::MAX.
        for first in [u64::MAX - 1, u64::MAX] {
            let mut bytes = SegmentHeader {
                salt: SALT,
                first_seq: first,
            }
            .encode()
            .to_vec();
            for seq in first..=u64::MAX {
                let header = RecordHeader {
                    kind: 1,
                    seq,
                    synced: seq,
                };
                encode_record(&mut bytes, SALT, header, b"x");
            }
            let decoded = decode_segment(&bytes).unwrap();
            assert!(decoded.records.iter().all(|r| r.seq < u64::MAX));
            assert_eq!(decoded.next_seq(), Some(u64::MAX));
        }
    }

    #[test]
    fn a_damaged_header_before_synced_records_is_corruption() {
        let bytes = segment(1, &[b"alpha", b"beta", b"gamma"]);
        for at in 0..SEGMENT_HEADER_LEN {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            match decode_segment(&damaged) {
                Err(Error::Corrupt(_)) => {}
                // Damage to the salt leaves nothing to check the records with.
                Ok(d) if (16..24).contains(&at) => assert!(d.records.is_empty()),
                other => panic!("byte {at}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_torn_header_before_unsynced_records_is_a_segment_cut_short() {
        // The header and two records written after the last sync; the records landed, the
        // header only up to its salt (its first seq reads 0).
        let mut bytes = segment(1, &[]);
        bytes[24..32].fill(0);
        for seq in [1, 2] {
            let header = RecordHeader {
                kind: 1,
                seq,
                synced: 1,
            };
            encode_record(&mut bytes, SALT, header, b"later");
        }
        let decoded = decode_segment(&bytes).unwrap();
        assert!(decoded.header.is_none() && decoded.records.is_empty());
        // A lone record proves nothing either.
        let mut bytes = segment(5, &[b"a"]);
        bytes[0] ^= 1;
        assert!(decode_segment(&bytes).unwrap().records.is_empty());
    }
}
