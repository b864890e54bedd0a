//! Node packs: immutable files of node records, addressed by ordinal.
//!
//! ```text
//! header  magic "LQFTPACK" | version u32 | reserved u32 | pack id u32 | generation u32
//!         | writer epoch u64                                                     (32 bytes)
//! records back to back, in ordinal order (each at least one byte)
//! table   each record's offset as a u40, in ordinal order (a record ends where the next
//!         starts; the last where the table starts)
//! footer  table offset u64 | record count u32 | reserved u32 | blake3 (32) | "LQFTPEND"
//!                                                                                (56 bytes)
//! ```
//!
//! The blake3 covers every byte before it. A pack is written once, synced, and only then named
//! by a manifest; it never changes afterwards. Records are opaque here: the tree writes them and
//! verifies what it reads against the hash its parent holds, so reading one record needs neither
//! the footer hash nor any other record.

use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};

use super::fs::FsFile;

/// The first 8 bytes of every pack.
pub const PACK_MAGIC: [u8; 8] = *b"LQFTPACK";
/// The last 8 bytes of every complete pack.
pub const PACK_END: [u8; 8] = *b"LQFTPEND";
/// The pack format this build writes and the newest it reads.
pub const PACK_VERSION: u32 = 2;
/// Bytes of the header.
pub const PACK_HEADER_LEN: usize = 32;
/// Bytes of the footer.
pub const PACK_FOOTER_LEN: usize = 56;
/// Largest record a pack holds.
pub const MAX_RECORD: usize = 1 << 30;
/// Largest pack (offsets are stored in 40 bits).
pub const MAX_PACK_BYTES: u64 = 1 << 40;
/// Bytes of an ordinal table entry.
pub const PACK_TABLE_ENTRY: usize = 5;
const ENTRY: usize = PACK_TABLE_ENTRY;

/// What identifies and authenticates a finished pack (what a manifest records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackInfo {
    /// The pack's id (the `pack` of a node location).
    pub id: u32,
    /// Rewrites of the same id by garbage collection (same ordinals); 0 when first written.
    pub generation: u32,
    /// Bytes of the file.
    pub size: u64,
    /// Records in the pack.
    pub records: u32,
    /// blake3 of the file up to the hash itself.
    pub hash: [u8; 32],
}

/// The header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackHeader {
    /// The pack's id.
    pub id: u32,
    /// Its generation.
    pub generation: u32,
    /// The epoch of the writer that wrote it.
    pub epoch: u64,
}

impl PackHeader {
    /// The 32 header bytes.
    pub fn encode(&self) -> [u8; PACK_HEADER_LEN] {
        let mut out = [0; PACK_HEADER_LEN];
        out[0..8].copy_from_slice(&PACK_MAGIC);
        out[8..12].copy_from_slice(&PACK_VERSION.to_le_bytes());
        out[16..20].copy_from_slice(&self.id.to_le_bytes());
        out[20..24].copy_from_slice(&self.generation.to_le_bytes());
        out[24..32].copy_from_slice(&self.epoch.to_le_bytes());
        out
    }

    /// Reads a header, refusing other magic, newer versions and a non-zero reserved field.
    pub fn decode(bytes: &[u8]) -> Result<PackHeader> {
        let bytes = bytes
            .get(..PACK_HEADER_LEN)
            .ok_or_else(|| corrupt("shorter than its header"))?;
        if bytes[0..8] != PACK_MAGIC {
            return Err(corrupt("not a pack (wrong magic)"));
        }
        let version = u32_at(bytes, 8);
        if version != PACK_VERSION {
            return Err(Error::Corrupt(format!(
                "pack format version {version}; this build reads version {PACK_VERSION} \
                 (upgrade liblqft to open this store)"
            )));
        }
        if u32_at(bytes, 12) != 0 {
            return Err(corrupt("header's reserved field is not 0"));
        }
        Ok(PackHeader {
            id: u32_at(bytes, 16),
            generation: u32_at(bytes, 20),
            epoch: u64_at(bytes, 24),
        })
    }
}

/// The footer's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackFooter {
    /// Where the ordinal table starts.
    pub table_offset: u64,
    /// Records in the pack.
    pub records: u32,
    /// blake3 of every byte before the hash.
    pub hash: [u8; 32],
}

impl PackFooter {
    fn encode(&self) -> [u8; PACK_FOOTER_LEN] {
        let mut out = [0; PACK_FOOTER_LEN];
        out[0..8].copy_from_slice(&self.table_offset.to_le_bytes());
        out[8..12].copy_from_slice(&self.records.to_le_bytes());
        out[16..48].copy_from_slice(&self.hash);
        out[48..56].copy_from_slice(&PACK_END);
        out
    }

    /// Reads the footer of a pack of `size` bytes from its last [`PACK_FOOTER_LEN`] bytes and
    /// checks that its reserved field is 0 and the table it describes fits between the header
    /// and the footer.
    pub fn decode(bytes: &[u8], size: u64) -> Result<PackFooter> {
        if bytes.len() != PACK_FOOTER_LEN || bytes[48..56] != PACK_END {
            return Err(corrupt("no footer (incomplete or damaged pack)"));
        }
        if u32_at(bytes, 12) != 0 {
            return Err(corrupt("footer's reserved field is not 0"));
        }
        let footer = PackFooter {
            table_offset: u64_at(bytes, 0),
            records: u32_at(bytes, 8),
            hash: bytes[16..48].try_into().expect("32 bytes"),
        };
        let table_end = footer
            .table_offset
            .checked_add(ENTRY as u64 * u64::from(footer.records));
        if footer.table_offset < PACK_HEADER_LEN as u64
            || table_end != size.checked_sub(PACK_FOOTER_LEN as u64)
        {
            return Err(corrupt("footer's table does not fit the file"));
        }
        Ok(footer)
    }
}

fn corrupt(why: &str) -> Error {
    Error::Corrupt(format!("pack: {why}"))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// The table entry at `at`: a little-endian u40.
fn entry_at(bytes: &[u8], at: usize) -> u64 {
    let mut entry = [0; 8];
    entry[..ENTRY].copy_from_slice(&bytes[at..at + ENTRY]);
    u64::from_le_bytes(entry)
}

/// Reads the whole pack image `bytes` and checks everything: header, footer, the blake3 and the
/// table (the first record right after the header, every record at least one byte, the last
/// ending where the table starts). Returns the header, the footer and each record's byte
/// range, in ordinal order.
pub fn decode_pack(bytes: &[u8]) -> Result<(PackHeader, PackFooter, Vec<std::ops::Range<usize>>)> {
    let header = PackHeader::decode(bytes)?;
    let size = bytes.len();
    if size < PACK_HEADER_LEN + PACK_FOOTER_LEN {
        return Err(corrupt("shorter than a header and a footer"));
    }
    let footer = PackFooter::decode(&bytes[size - PACK_FOOTER_LEN..], size as u64)?;
    if *blake3::hash(&bytes[..size - 40]).as_bytes() != footer.hash {
        return Err(corrupt("blake3 does not match the contents"));
    }
    // The footer checked that the table ends where the footer starts, so every table entry
    // is inside `bytes`; offsets are computed in u64 and converted, so nothing wraps on a
    // 32-bit target.
    let table_start = usize::try_from(footer.table_offset).map_err(|_| corrupt("table offset"))?;
    let records = footer.records as usize;
    let mut ranges = Vec::with_capacity(records);
    let offset = |ordinal: usize| -> Result<usize> {
        if ordinal == records {
            return Ok(table_start);
        }
        usize::try_from(entry_at(bytes, table_start + ENTRY * ordinal))
            .map_err(|_| corrupt(&format!("record {ordinal}: out of bounds")))
    };
    let mut start = PACK_HEADER_LEN;
    if records > 0 && offset(0)? != start {
        return Err(corrupt("the first record does not follow the header"));
    }
    for ordinal in 0..records {
        let end = offset(ordinal + 1)?;
        if end <= start || end > table_start {
            return Err(corrupt(&format!(
                "record {ordinal}: table out of order or out of bounds"
            )));
        }
        ranges.push(start..end);
        start = end;
    }
    if start != table_start {
        return Err(corrupt("bytes between the header and the table"));
    }
    Ok((header, footer, ranges))
}

/// Writes a new pack, record by record; [`PackWriter::finish`] completes and syncs it.
pub struct PackWriter {
    file: Arc<dyn FsFile>,
    path: String,
    header: PackHeader,
    hasher: blake3::Hasher,
    offsets: Vec<u64>,
    /// Bytes written to the file.
    written: u64,
    /// Record bytes not yet written.
    buffer: Vec<u8>,
}

/// How many record bytes a writer gathers before one positioned write.
const WRITE_CHUNK: usize = 1 << 20;

impl PackWriter {
    /// A writer on the new, empty file `path`.
    pub fn new(file: Arc<dyn FsFile>, path: String, header: PackHeader) -> PackWriter {
        let mut writer = PackWriter {
            file,
            path,
            header,
            hasher: blake3::Hasher::new(),
            offsets: Vec::new(),
            written: 0,
            buffer: Vec::with_capacity(WRITE_CHUNK),
        };
        writer.buffer.extend_from_slice(&header.encode());
        writer
    }

    /// Appends a record and returns its ordinal.
    pub fn add(&mut self, record: &[u8]) -> Result<u32> {
        let offset = self.written + self.buffer.len() as u64;
        if record.is_empty()
            || record.len() > MAX_RECORD
            || offset + record.len() as u64 > MAX_PACK_BYTES
        {
            return Err(Error::InvalidArgument(format!(
                "a pack record of {} bytes does not fit pack {}",
                record.len(),
                self.header.id
            )));
        }
        let ordinal = u32::try_from(self.offsets.len())
            .map_err(|_| Error::InvalidArgument("too many records for one pack".into()))?;
        self.offsets.push(offset);
        self.buffer.extend_from_slice(record);
        if self.buffer.len() >= WRITE_CHUNK {
            self.flush()?;
        }
        Ok(ordinal)
    }

    /// Records added so far.
    pub fn records(&self) -> u32 {
        u32::try_from(self.offsets.len()).expect("add keeps the count within u32")
    }

    fn flush(&mut self) -> Result<()> {
        self.hasher.update(&self.buffer);
        self.file
            .write_all_at(&self.buffer, self.written)
            .map_err(|e| Error::io(format!("write {}", self.path), &e))?;
        self.written += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Writes the table and footer and `fdatasync`s the pack.
    pub fn finish(mut self) -> Result<PackInfo> {
        let table_offset = self.written + self.buffer.len() as u64;
        let count = self.records();
        for offset in std::mem::take(&mut self.offsets) {
            self.buffer
                .extend_from_slice(&offset.to_le_bytes()[..ENTRY]);
        }
        let mut footer = PackFooter {
            table_offset,
            records: count,
            hash: [0; 32],
        }
        .encode();
        self.buffer.extend_from_slice(&footer[..16]);
        self.hasher.update(&self.buffer);
        let hash = *self.hasher.finalize().as_bytes();
        footer[16..48].copy_from_slice(&hash);
        self.buffer.extend_from_slice(&footer[16..]);
        self.file
            .write_all_at(&self.buffer, self.written)
            .map_err(|e| Error::io(format!("write {}", self.path), &e))?;
        let size = self.written + self.buffer.len() as u64;
        self.file
            .sync_data()
            .map_err(|e| Error::io(format!("fdatasync {}", self.path), &e))?;
        Ok(PackInfo {
            id: self.header.id,
            generation: self.header.generation,
            size,
            records: count,
            hash,
        })
    }
}

/// Reads records of one published pack by ordinal.
///
/// Opening reads only the footer; the ordinal table is read on the first record read, so
/// opening a store touches no pack contents.
pub struct PackReader {
    file: Arc<dyn FsFile>,
    path: String,
    info: PackInfo,
    /// The ordinal table's bytes.
    table: OnceLock<Vec<u8>>,
    table_offset: u64,
}

impl PackReader {
    /// A reader of the pack `info` describes, in `file`: checks the size and the footer.
    pub fn open(file: Arc<dyn FsFile>, path: String, info: PackInfo) -> Result<PackReader> {
        let io = |e: std::io::Error| Error::io(format!("read {path}"), &e);
        let size = file.size().map_err(io)?;
        if size != info.size || size < (PACK_HEADER_LEN + PACK_FOOTER_LEN) as u64 {
            return Err(Error::Corrupt(format!(
                "{path} is {size} bytes; the manifest says {}",
                info.size
            )));
        }
        let mut bytes = [0; PACK_FOOTER_LEN];
        file.read_exact_at(&mut bytes, size - PACK_FOOTER_LEN as u64)
            .map_err(io)?;
        let footer =
            PackFooter::decode(&bytes, size).map_err(|e| Error::Corrupt(format!("{path}: {e}")))?;
        if footer.records != info.records || footer.hash != info.hash {
            return Err(Error::Corrupt(format!(
                "{path} does not match the manifest's record count and hash"
            )));
        }
        Ok(PackReader {
            file,
            path,
            info,
            table: OnceLock::new(),
            table_offset: footer.table_offset,
        })
    }

    /// Reads the whole pack and checks its header and its blake3 against the manifest's, so
    /// every byte of the file is covered (opening checked the footer). Record reads do not need
    /// this; it finds damage in bytes no read reaches.
    pub fn verify(&self) -> Result<()> {
        self.read_whole(|_, _| Ok(()))
    }

    /// Writes the whole pack into `dest` (at the same offsets) and checks it as
    /// [`verify`](PackReader::verify) does, so a damaged pack fails the copy instead of
    /// spreading to it; returns the bytes copied. `dest` is not synced.
    pub fn copy_to(&self, dest: &dyn FsFile) -> Result<u64> {
        let io = |e: std::io::Error| Error::io(format!("write the copy of {}", self.path), &e);
        self.read_whole(|at, bytes| dest.write_all_at(bytes, at).map_err(io))?;
        Ok(self.info.size)
    }

    /// Reads the file from start to end in chunks, handing each to `each` with its offset, and
    /// checks the header against the manifest's entry and the blake3 of every byte before the
    /// hash against the manifest's (after the last chunk).
    fn read_whole(&self, mut each: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let path = &self.path;
        let io = |e: std::io::Error| Error::io(format!("read {path}"), &e);
        let mut header = [0; PACK_HEADER_LEN];
        self.file.read_exact_at(&mut header, 0).map_err(io)?;
        let header =
            PackHeader::decode(&header).map_err(|e| Error::Corrupt(format!("{path}: {e}")))?;
        if header.id != self.info.id || header.generation != self.info.generation {
            return Err(Error::Corrupt(format!(
                "{path} holds pack {} generation {}",
                header.id, header.generation
            )));
        }
        let size = self.info.size;
        let hashed = size - 40;
        let mut hasher = blake3::Hasher::new();
        let mut buffer = vec![0; 1 << 20];
        let mut at = 0;
        while at < size {
            let n = (size - at).min(buffer.len() as u64) as usize;
            let chunk = &mut buffer[..n];
            self.file.read_exact_at(chunk, at).map_err(io)?;
            let covered = hashed.saturating_sub(at).min(n as u64) as usize;
            hasher.update(&chunk[..covered]);
            each(at, chunk)?;
            at += n as u64;
        }
        if *hasher.finalize().as_bytes() != self.info.hash {
            return Err(Error::Corrupt(format!(
                "{path}: blake3 does not match the manifest's (the file is damaged)"
            )));
        }
        Ok(())
    }

    /// What the manifest says about this pack.
    pub fn info(&self) -> &PackInfo {
        &self.info
    }

    /// The ordinal table, read (with the header, which is checked against the manifest's
    /// entry) on the first record read.
    fn table(&self) -> Result<&[u8]> {
        if let Some(table) = self.table.get() {
            return Ok(table);
        }
        let io = |e: std::io::Error| Error::io(format!("read {}", self.path), &e);
        let mut head = [0; PACK_HEADER_LEN];
        self.file.read_exact_at(&mut head, 0).map_err(io)?;
        let header =
            PackHeader::decode(&head).map_err(|e| Error::Corrupt(format!("{}: {e}", self.path)))?;
        if (header.id, header.generation) != (self.info.id, self.info.generation) {
            return Err(Error::Corrupt(format!(
                "{} holds pack {} generation {}; the manifest names pack {} generation {}",
                self.path, header.id, header.generation, self.info.id, self.info.generation
            )));
        }
        // The footer checked that the table fits the file, whose size the manifest gave.
        let len = usize::try_from(ENTRY as u64 * u64::from(self.info.records))
            .map_err(|_| Error::Corrupt(format!("{}: table too large to read", self.path)))?;
        let mut bytes = vec![0; len];
        self.file
            .read_exact_at(&mut bytes, self.table_offset)
            .map_err(io)?;
        Ok(self.table.get_or_init(|| bytes))
    }

    /// The record with this ordinal. Fails with [`Error::Corrupt`] if the table or record is
    /// out of bounds; the caller verifies the record's hash.
    pub fn read(&self, ordinal: u32) -> Result<Vec<u8>> {
        let table = self.table()?;
        let bad = |why: &str| Error::Corrupt(format!("{} record {ordinal}: {why}", self.path));
        let index = ordinal as usize;
        if index >= table.len() / ENTRY {
            return Err(bad("no such ordinal"));
        }
        let start = entry_at(table, ENTRY * index);
        let end = if index + 1 < table.len() / ENTRY {
            entry_at(table, ENTRY * (index + 1))
        } else {
            self.table_offset
        };
        if start < PACK_HEADER_LEN as u64 || end > self.table_offset || end <= start {
            return Err(bad("record out of bounds"));
        }
        let len = usize::try_from(end - start).map_err(|_| bad("record too large"))?;
        let mut record = vec![0; len];
        self.file
            .read_exact_at(&mut record, start)
            .map_err(|e| Error::io(format!("read {}", self.path), &e))?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::{FileSystem, OpenMode};
    use crate::store::sim::SimFs;

    fn records() -> Vec<Vec<u8>> {
        (0..300u32)
            .map(|i| (0..(i % 37 + 1)).map(|b| (b ^ i) as u8).collect())
            .collect()
    }

    fn write_pack(fs: &SimFs, records: &[Vec<u8>]) -> PackInfo {
        let file = fs.open("p.pack", OpenMode::CreateNew).unwrap();
        let header = PackHeader {
            id: 7,
            generation: 0,
            epoch: 3,
        };
        let mut writer = PackWriter::new(file, "p.pack".into(), header);
        for (i, record) in records.iter().enumerate() {
            assert_eq!(writer.add(record).unwrap(), i as u32);
        }
        writer.finish().unwrap()
    }

    #[test]
    fn open_then_verify_reports_a_flip_in_every_byte() {
        let fs = SimFs::new();
        let info = write_pack(&fs, &records());
        let good = fs.read_file("p.pack").unwrap();
        let open = |fs: &SimFs| {
            let file = fs.open("p.pack", OpenMode::Read).unwrap();
            PackReader::open(file, "p.pack".into(), info)
        };
        open(&fs).unwrap().verify().unwrap();
        for at in 0..good.len() {
            let mut bytes = good.clone();
            bytes[at] ^= 0x01;
            assert!(fs.write_file("p.pack", &bytes));
            let result = open(&fs).and_then(|reader| reader.verify());
            assert!(
                matches!(result, Err(Error::Corrupt(_))),
                "byte {at}: {result:?}"
            );
        }
    }

    #[test]
    fn records_round_trip_by_ordinal_and_the_whole_pack_verifies() {
        let fs = SimFs::new();
        let records = records();
        let info = write_pack(&fs, &records);
        let bytes = fs.read_file("p.pack").unwrap();
        assert_eq!(info.size, bytes.len() as u64);
        let (header, footer, ranges) = decode_pack(&bytes).unwrap();
        assert_eq!((header.id, header.epoch, footer.records), (7, 3, 300));
        for (range, record) in ranges.iter().zip(&records) {
            assert_eq!(&bytes[range.clone()], &record[..]);
        }
        let file = fs.open("p.pack", OpenMode::Read).unwrap();
        let reader = PackReader::open(file, "p.pack".into(), info).unwrap();
        for (i, record) in records.iter().enumerate().rev() {
            assert_eq!(&reader.read(i as u32).unwrap(), record);
        }
        assert!(matches!(reader.read(300), Err(Error::Corrupt(_))));
    }

    #[test]
    fn every_flipped_byte_fails_verification_and_every_truncation_fails_open() {
        let fs = SimFs::new();
        let records: Vec<Vec<u8>> = records().into_iter().take(5).collect();
        let info = write_pack(&fs, &records);
        let bytes = fs.read_file("p.pack").unwrap();
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            assert!(
                decode_pack(&damaged).is_err(),
                "flip at {at} went unnoticed"
            );
        }
        for cut in 0..bytes.len() {
            assert!(decode_pack(&bytes[..cut]).is_err());
            fs.write_file("p.pack", &bytes[..cut]);
            let file = fs.open("p.pack", OpenMode::Read).unwrap();
            assert!(PackReader::open(file, "p.pack".into(), info).is_err());
        }
    }

    /// Rewrites `bytes` (a whole pack) with `edit` applied and its blake3 recomputed, so only
    /// the edited field is wrong; returns the new manifest entry.
    fn edited(fs: &SimFs, info: PackInfo, bytes: &[u8], edit: impl Fn(&mut Vec<u8>)) -> PackInfo {
        let mut bytes = bytes.to_vec();
        edit(&mut bytes);
        let len = bytes.len();
        let hash = *blake3::hash(&bytes[..len - 40]).as_bytes();
        bytes[len - 40..len - 8].copy_from_slice(&hash);
        fs.write_file("p.pack", &bytes);
        PackInfo { hash, ..info }
    }

    #[test]
    fn the_lazy_reader_checks_reserved_fields_and_the_header_against_the_manifest() {
        let fs = SimFs::new();
        let info = write_pack(&fs, &records()[..3]);
        let bytes = fs.read_file("p.pack").unwrap();
        let footer_at = bytes.len() - PACK_FOOTER_LEN;
        let open = |info| {
            let file = fs.open("p.pack", OpenMode::Read).unwrap();
            PackReader::open(file, "p.pack".into(), info)
        };
        // The footer's reserved field: refused at open.
        let info2 = edited(&fs, info, &bytes, |b| b[footer_at + 12] = 1);
        assert!(decode_pack(&fs.read_file("p.pack").unwrap()).is_err());
        let error = open(info2).err().expect("reserved footer field");
        assert!(error.to_string().contains("reserved"), "{error}");
        // The header's reserved field, id and generation: refused at the first read.
        for (at, what) in [
            (12, "reserved"),
            (16, "holds pack 1 "),
            (20, "generation 1;"),
        ] {
            let info2 = edited(&fs, info, &bytes, |b| b[at] = 1);
            let reader = open(info2).unwrap();
            let error = reader.read(0).unwrap_err();
            assert!(
                matches!(&error, Error::Corrupt(m) if m.contains(what)),
                "{at}: {error}"
            );
        }
        fs.write_file("p.pack", &bytes);
        assert_eq!(open(info).unwrap().read(2).unwrap(), records()[2]);
    }

    #[test]
    fn crafted_table_entries_and_lengths_are_refused_without_overflow() {
        let fs = SimFs::new();
        let info = write_pack(&fs, &records()[..3]);
        let bytes = fs.read_file("p.pack").unwrap();
        let table_at = bytes.len() - PACK_FOOTER_LEN - 3 * ENTRY;
        for entry in [(1u64 << 40) - 1, 1 << 39, 31, 0] {
            for ordinal in 0..3 {
                let at = table_at + ENTRY * ordinal;
                let info2 = edited(&fs, info, &bytes, |b| {
                    b[at..at + ENTRY].copy_from_slice(&entry.to_le_bytes()[..ENTRY])
                });
                assert!(decode_pack(&fs.read_file("p.pack").unwrap()).is_err());
                let file = fs.open("p.pack", OpenMode::Read).unwrap();
                let reader = PackReader::open(file, "p.pack".into(), info2).unwrap();
                let results: Vec<_> = (0..3).map(|o| reader.read(o)).collect();
                assert!(results.iter().any(|r| matches!(r, Err(Error::Corrupt(_)))));
            }
        }
        // A footer whose table offset and count overflow when added.
        let mut footer = bytes[bytes.len() - PACK_FOOTER_LEN..].to_vec();
        footer[0..8].copy_from_slice(&u64::MAX.to_le_bytes());
        footer[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(PackFooter::decode(&footer, bytes.len() as u64).is_err());
        assert!(PackFooter::decode(&footer, u64::MAX).is_err());
    }

    #[test]
    fn a_newer_pack_version_is_refused_with_a_clear_error() {
        let mut header = PackHeader {
            id: 1,
            generation: 0,
            epoch: 1,
        }
        .encode();
        header[8] = 3;
        let error = PackHeader::decode(&header).unwrap_err();
        assert!(error.to_string().contains("version 3"), "{error}");
    }
}
