//! Manifests: numbered, create-only files that each describe a whole store state.
//!
//! A manifest names the packs, the current root, the persisted snapshots and where WAL replay
//! starts. It is written to a temporary name, synced, published under its number with a
//! create-only link (so two writers can never both publish number n) and the directory synced;
//! the newest manifest that validates is the store's state. Byte layout in `docs/FORMAT.md`:
//! a 16-byte header (magic, version, body length), the body, and the blake3 of both.

use crate::error::{Error, Result};
use crate::tree::{Hash, STORED_NODE_FORMAT_VERSION};
use crate::varint::{put_varint, varint};

use super::pack::{
    MAX_PACK_BYTES, PACK_FOOTER_LEN, PACK_HEADER_LEN, PACK_TABLE_ENTRY, PACK_VERSION, PackInfo,
};
use super::wal::WAL_VERSION;

/// The first 8 bytes of every manifest.
pub const MANIFEST_MAGIC: [u8; 8] = *b"LQFTMANI";
/// The manifest format this build writes and the newest it reads.
pub const MANIFEST_VERSION: u32 = 2;
/// Largest manifest accepted (bounds what a damaged length makes a reader allocate).
pub const MAX_MANIFEST: usize = 1 << 30;

/// Where a stored version's root node is, and what the version holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRoot {
    /// Pack of the root node.
    pub pack: u32,
    /// Ordinal of the root node in its pack.
    pub ordinal: u32,
    /// The version's Merkle root hash (authenticates every node read below it).
    pub hash: Hash,
    /// Entries in the version.
    pub len: u64,
    /// Total key bytes.
    pub key_bytes: u64,
    /// Total value bytes.
    pub value_bytes: u64,
}

/// A persisted snapshot: its metadata and its root (`None`: the empty version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// The snapshot's id.
    pub id: u64,
    /// Number of snapshots on the path from the first one to this one.
    pub generation: u64,
    /// The snapshot the live state derived from when it was taken.
    pub parent_id: Option<u64>,
    /// Wall-clock time it was taken, nanoseconds since the Unix epoch.
    pub created_at_ns: u64,
    /// Mutations between its parent and it.
    pub mutation_count: u64,
    /// Keys that differ between its parent and it.
    pub delta_size: u64,
    /// Where its version is stored.
    pub root: Option<StoredRoot>,
}

/// One manifest's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest's number (also its file name); each publish uses the next one.
    pub number: u64,
    /// The epoch of the writer that published it; a writer takes a larger one when it opens.
    pub writer_epoch: u64,
    /// Node record format of the packs.
    pub node_format: u32,
    /// WAL segment format.
    pub wal_format: u32,
    /// Pack format.
    pub pack_format: u32,
    /// Sequence number of the first WAL record not reflected here: replay starts there.
    pub wal_start: u64,
    /// The id the next pack gets.
    pub next_pack_id: u32,
    /// Every live pack.
    pub packs: Vec<PackInfo>,
    /// The live state's root at `wal_start` (`None`: empty).
    pub root: Option<StoredRoot>,
    /// The id the next snapshot gets.
    pub next_snapshot_id: u64,
    /// The snapshot the live state derives from.
    pub current_snapshot: Option<u64>,
    /// How many of the newest snapshots are kept, if a retention policy is set.
    pub retention: Option<u64>,
    /// Mutations since the live state last equalled a snapshot.
    pub pending: u64,
    /// The persisted snapshots, ascending by id.
    pub snapshots: Vec<StoredSnapshot>,
}

/// The file name of manifest `number` in `manifest/`.
pub fn manifest_name(number: u64) -> String {
    format!("{number:020}.manifest")
}

/// The number in a manifest file name, if it is one.
pub fn manifest_number(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".manifest")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn too_large(len: u64) -> Error {
    Error::Corrupt(format!(
        "manifest of {len} bytes is over the {MAX_MANIFEST}-byte limit (damaged)"
    ))
}

/// Checks a manifest file's size before it is read whole: at most [`MAX_MANIFEST`] bytes, so a
/// damaged or foreign file cannot make the reader allocate without bound. Returns it as a
/// `usize`.
pub fn check_size(size: u64) -> Result<usize> {
    usize::try_from(size)
        .ok()
        .filter(|&n| n <= MAX_MANIFEST)
        .ok_or_else(|| too_large(size))
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn opt(&mut self, v: Option<u64>) {
        self.u8(u8::from(v.is_some()));
        self.u64(v.unwrap_or(0));
    }
    fn varint(&mut self, v: u64) {
        put_varint(&mut self.0, v);
    }
    /// A flag byte, then the value as a varint when present.
    fn opt_varint(&mut self, v: Option<u64>) {
        self.u8(u8::from(v.is_some()));
        if let Some(v) = v {
            self.varint(v);
        }
    }
    fn root(&mut self, root: Option<&StoredRoot>) {
        self.u8(u8::from(root.is_some()));
        if let Some(r) = root {
            self.varint(u64::from(r.pack));
            self.varint(u64::from(r.ordinal));
            self.0.extend_from_slice(&r.hash);
            self.varint(r.len);
            self.varint(r.key_bytes);
            self.varint(r.value_bytes);
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

fn truncated() -> Error {
    Error::Corrupt("manifest body ends early".into())
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let bytes = self
            .bytes
            .get(self.at..self.at.checked_add(n).ok_or_else(truncated)?)
            .ok_or_else(truncated)?;
        self.at += n;
        Ok(bytes)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
    fn flag(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(Error::Corrupt(format!("manifest flag byte {other}"))),
        }
    }
    fn opt(&mut self) -> Result<Option<u64>> {
        let present = self.flag()?;
        let value = self.u64()?;
        match (present, value) {
            (true, v) => Ok(Some(v)),
            (false, 0) => Ok(None),
            (false, _) => Err(Error::Corrupt("manifest absent value is not 0".into())),
        }
    }
    fn hash(&mut self) -> Result<Hash> {
        Ok(self.take(32)?.try_into().expect("32"))
    }
    fn varint(&mut self) -> Result<u64> {
        let mut rest = &self.bytes[self.at..];
        let value = varint(&mut rest)
            .ok_or_else(|| Error::Corrupt("manifest varint malformed or truncated".into()))?;
        self.at = self.bytes.len() - rest.len();
        Ok(value)
    }
    fn varint_u32(&mut self) -> Result<u32> {
        u32::try_from(self.varint()?)
            .map_err(|_| Error::Corrupt("manifest value out of range".into()))
    }
    fn opt_varint(&mut self) -> Result<Option<u64>> {
        Ok(match self.flag()? {
            true => Some(self.varint()?),
            false => None,
        })
    }
    fn root(&mut self) -> Result<Option<StoredRoot>> {
        if !self.flag()? {
            return Ok(None);
        }
        Ok(Some(StoredRoot {
            pack: self.varint_u32()?,
            ordinal: self.varint_u32()?,
            hash: self.hash()?,
            len: self.varint()?,
            key_bytes: self.varint()?,
            value_bytes: self.varint()?,
        }))
    }
    /// A count of items of at least `min_size` bytes each, checked against what is left.
    fn count(&mut self, min_size: usize) -> Result<usize> {
        let count = self.u32()? as usize;
        if count.saturating_mul(min_size) > self.bytes.len() - self.at {
            return Err(truncated());
        }
        Ok(count)
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

impl Manifest {
    /// The manifest's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(&MANIFEST_MAGIC);
        w.u32(MANIFEST_VERSION);
        w.u32(0); // body length, filled in below
        w.u64(self.number);
        w.u64(self.writer_epoch);
        w.u32(self.node_format);
        w.u32(self.wal_format);
        w.u32(self.pack_format);
        w.u64(self.wal_start);
        w.u32(self.next_pack_id);
        w.u32(u32::try_from(self.packs.len()).expect("pack count fits u32"));
        for pack in &self.packs {
            w.u32(pack.id);
            w.u32(pack.generation);
            w.u64(pack.size);
            w.u32(pack.records);
            w.0.extend_from_slice(&pack.hash);
        }
        w.root(self.root.as_ref());
        w.u64(self.next_snapshot_id);
        w.opt(self.current_snapshot);
        w.opt(self.retention);
        w.u64(self.pending);
        w.u32(u32::try_from(self.snapshots.len()).expect("snapshot count fits u32"));
        // Ids ascend and snapshots are taken in time order: each id and time is written as
        // its difference from the snapshot before.
        let (mut id, mut created) = (0u64, 0u64);
        for s in &self.snapshots {
            w.varint(s.id.wrapping_sub(id));
            w.varint(s.generation);
            w.opt_varint(s.parent_id);
            w.varint(zigzag(s.created_at_ns.wrapping_sub(created) as i64));
            w.varint(s.mutation_count);
            w.varint(s.delta_size);
            w.root(s.root.as_ref());
            (id, created) = (s.id, s.created_at_ns);
        }
        let body = u32::try_from(w.0.len() - 16).expect("manifest within MAX_MANIFEST");
        w.0[12..16].copy_from_slice(&body.to_le_bytes());
        let hash = blake3::hash(&w.0);
        w.0.extend_from_slice(hash.as_bytes());
        w.0
    }

    /// Reads a manifest, checking its magic, version, length (at most [`MAX_MANIFEST`]) and
    /// blake3, that the node, WAL and pack formats it names are the ones this build reads, and
    /// that every field is in its domain. A newer version is refused with a message saying so.
    pub fn decode(bytes: &[u8]) -> Result<Manifest> {
        if bytes.len() < 16 + 32 || bytes[0..8] != MANIFEST_MAGIC {
            return Err(Error::Corrupt(
                "not a manifest (wrong magic or too short)".into(),
            ));
        }
        if bytes.len() > MAX_MANIFEST {
            return Err(too_large(bytes.len() as u64));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4"));
        if version != MANIFEST_VERSION {
            return Err(Error::Corrupt(format!(
                "manifest format version {version}; this build reads version \
                 {MANIFEST_VERSION} (upgrade liblqft to open this store)"
            )));
        }
        let body = u32::from_le_bytes(bytes[12..16].try_into().expect("4"));
        // In u64: on a 32-bit target a damaged length must not wrap.
        if u64::from(body) + 16 + 32 != bytes.len() as u64 {
            return Err(Error::Corrupt(
                "manifest length disagrees with its header".into(),
            ));
        }
        let body = bytes.len() - 16 - 32;
        if blake3::hash(&bytes[..16 + body]).as_bytes() != &bytes[16 + body..] {
            return Err(Error::Corrupt("manifest blake3 does not match".into()));
        }
        let mut r = Reader {
            bytes: &bytes[..16 + body],
            at: 16,
        };
        let number = r.u64()?;
        let writer_epoch = r.u64()?;
        let node_format = r.u32()?;
        let wal_format = r.u32()?;
        let pack_format = r.u32()?;
        let wal_start = r.u64()?;
        if node_format != STORED_NODE_FORMAT_VERSION
            || wal_format != WAL_VERSION
            || pack_format != PACK_VERSION
        {
            return Err(Error::Corrupt(format!(
                "manifest names node format {node_format}, WAL format {wal_format} and pack \
                 format {pack_format}; this build reads {STORED_NODE_FORMAT_VERSION}, {WAL_VERSION} \
                 and {PACK_VERSION} (upgrade liblqft to open this store)"
            )));
        }
        if wal_start == 0 {
            return Err(Error::Corrupt(
                "manifest WAL start is 0 (records are numbered from 1)".into(),
            ));
        }
        let next_pack_id = r.u32()?;
        let mut packs = Vec::new();
        for _ in 0..r.count(52)? {
            let pack = PackInfo {
                id: r.u32()?,
                generation: r.u32()?,
                size: r.u64()?,
                records: r.u32()?,
                hash: r.take(32)?.try_into().expect("32"),
            };
            // A pack holds a header, records of at least one byte each (ending by
            // MAX_PACK_BYTES), a table entry per record and a footer.
            let records = u64::from(pack.records);
            let table_end = pack.size.checked_sub(PACK_FOOTER_LEN as u64);
            let table = PACK_TABLE_ENTRY as u64 * records;
            let ends = table_end.and_then(|end| end.checked_sub(table));
            if pack.records == 0
                || ends.is_none_or(|e| e < PACK_HEADER_LEN as u64 + records || e > MAX_PACK_BYTES)
            {
                return Err(Error::Corrupt(format!(
                    "manifest lists pack {} as {} bytes holding {} records",
                    pack.id, pack.size, pack.records
                )));
            }
            packs.push(pack);
        }
        let root = r.root()?;
        let next_snapshot_id = r.u64()?;
        let current_snapshot = r.opt()?;
        let retention = r.opt()?;
        let pending = r.u64()?;
        let mut snapshots: Vec<StoredSnapshot> = Vec::new();
        let (mut id, mut created) = (0u64, 0u64);
        for _ in 0..r.count(7)? {
            let step = r.varint()?;
            id = match id.checked_add(step) {
                Some(next) if step > 0 => next,
                _ => return Err(Error::Corrupt("manifest snapshots out of order".into())),
            };
            let generation = r.varint()?;
            let parent_id = r.opt_varint()?;
            created = created.wrapping_add(unzigzag(r.varint()?) as u64);
            let snapshot = StoredSnapshot {
                id,
                generation,
                parent_id,
                created_at_ns: created,
                mutation_count: r.varint()?,
                delta_size: r.varint()?,
                root: r.root()?,
            };
            snapshots.push(snapshot);
        }
        if r.at != r.bytes.len() {
            return Err(Error::Corrupt("manifest has bytes after its body".into()));
        }
        let manifest = Manifest {
            number,
            writer_epoch,
            node_format,
            wal_format,
            pack_format,
            wal_start,
            next_pack_id,
            packs,
            root,
            next_snapshot_id,
            current_snapshot,
            retention,
            pending,
            snapshots,
        };
        manifest.check_references()?;
        Ok(manifest)
    }

    /// Every root names a listed pack and an ordinal inside it; pack ids are unique and below
    /// `next_pack_id`.
    fn check_references(&self) -> Result<()> {
        let mut ids: Vec<u32> = self.packs.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1])
            || ids.last().is_some_and(|&id| id >= self.next_pack_id)
        {
            return Err(Error::Corrupt("manifest pack ids clash".into()));
        }
        let roots = self
            .snapshots
            .iter()
            .filter_map(|s| s.root.as_ref())
            .chain(self.root.as_ref());
        for root in roots {
            let pack = self.packs.iter().find(|p| p.id == root.pack);
            if pack.is_none_or(|p| root.ordinal >= p.records) {
                return Err(Error::Corrupt(format!(
                    "manifest root names record {} of pack {}, which it does not list",
                    root.ordinal, root.pack
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let root = |pack, ordinal, seed: u8| StoredRoot {
            pack,
            ordinal,
            hash: [seed; 32],
            len: 10 + u64::from(seed),
            key_bytes: 160,
            value_bytes: 1000,
        };
        Manifest {
            number: 12,
            writer_epoch: 3,
            node_format: STORED_NODE_FORMAT_VERSION,
            wal_format: WAL_VERSION,
            pack_format: PACK_VERSION,
            wal_start: 4096,
            next_pack_id: 5,
            packs: vec![
                PackInfo {
                    id: 2,
                    generation: 0,
                    size: 4000,
                    records: 90,
                    hash: [7; 32],
                },
                PackInfo {
                    id: 4,
                    generation: 1,
                    size: 8000,
                    records: 200,
                    hash: [8; 32],
                },
            ],
            root: Some(root(4, 199, 1)),
            next_snapshot_id: 9,
            current_snapshot: Some(8),
            retention: None,
            pending: 3,
            snapshots: vec![
                StoredSnapshot {
                    id: 3,
                    generation: 1,
                    parent_id: None,
                    created_at_ns: 1_700_000_000_000_000_000,
                    mutation_count: 5,
                    delta_size: 5,
                    root: Some(root(2, 89, 2)),
                },
                StoredSnapshot {
                    id: 8,
                    generation: 2,
                    parent_id: Some(3),
                    created_at_ns: 1_700_000_000_000_000_001,
                    mutation_count: 0,
                    delta_size: 0,
                    root: None,
                },
            ],
        }
    }

    #[test]
    fn manifests_round_trip() {
        let manifest = sample();
        assert_eq!(Manifest::decode(&manifest.encode()).unwrap(), manifest);
        let empty = Manifest {
            packs: Vec::new(),
            root: None,
            snapshots: Vec::new(),
            ..sample()
        };
        assert_eq!(Manifest::decode(&empty.encode()).unwrap(), empty);
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_refused() {
        let bytes = sample().encode();
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x01;
            assert!(Manifest::decode(&damaged).is_err(), "flip at {at}");
        }
        for cut in 0..bytes.len() {
            assert!(Manifest::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn roots_must_name_listed_packs() {
        let mut manifest = sample();
        manifest.root.as_mut().unwrap().pack = 3;
        assert!(Manifest::decode(&manifest.encode()).is_err());
        let mut manifest = sample();
        manifest.snapshots[0].root.as_mut().unwrap().ordinal = 90;
        assert!(Manifest::decode(&manifest.encode()).is_err());
    }

    #[test]
    fn a_newer_manifest_version_is_refused_with_a_clear_error() {
        let mut bytes = sample().encode();
        bytes[8] = 3;
        let error = Manifest::decode(&bytes).unwrap_err();
        assert!(error.to_string().contains("version 3"), "{error}");
    }

    #[test]
    fn formats_this_build_does_not_read_are_refused() {
        for (at, field) in [(32, "node"), (36, "WAL"), (40, "pack")] {
            let mut manifest = sample();
            match at {
                32 => manifest.node_format = 9,
                36 => manifest.wal_format = 9,
                _ => manifest.pack_format = 9,
            }
            let error = Manifest::decode(&manifest.encode()).unwrap_err();
            assert!(
                matches!(&error, Error::Corrupt(m) if m.contains(&format!("{field} format 9"))),
                "{error}"
            );
        }
        let mut manifest = sample();
        manifest.wal_start = 0;
        assert!(Manifest::decode(&manifest.encode()).is_err());
    }

    #[test]
    fn crafted_sizes_and_counts_are_refused_without_overflow() {
        // A body length near u32::MAX (which wraps `16 + body + 32` on a 32-bit target).
        for body in [u32::MAX, u32::MAX - 47, u32::MAX - 16] {
            let mut bytes = sample().encode();
            bytes[12..16].copy_from_slice(&body.to_le_bytes());
            assert!(matches!(Manifest::decode(&bytes), Err(Error::Corrupt(_))));
        }
        assert!(check_size(MAX_MANIFEST as u64).is_ok());
        for size in [MAX_MANIFEST as u64 + 1, u64::MAX] {
            let error = check_size(size).unwrap_err();
            assert!(error.to_string().contains("limit"), "{error}");
        }
        // Packs whose size cannot hold their records, and counts past what is left.
        for (size, records) in [(0, 1), (u64::MAX, u32::MAX), (93, 1), (200, 0)] {
            let mut manifest = sample();
            manifest.packs[0].size = size;
            manifest.packs[0].records = records;
            manifest.root = None;
            manifest.snapshots.clear();
            let result = Manifest::decode(&manifest.encode());
            assert!(matches!(result, Err(Error::Corrupt(_))), "{size} {records}");
        }
        let mut bytes = sample().encode();
        let packs_at = 16 + 8 + 8 + 12 + 8 + 4;
        bytes[packs_at..packs_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let len = bytes.len();
        let hash = blake3::hash(&bytes[..len - 32]);
        bytes[len - 32..].copy_from_slice(hash.as_bytes());
        assert!(matches!(Manifest::decode(&bytes), Err(Error::Corrupt(_))));
    }

    #[test]
    fn manifest_names_carry_their_number() {
        assert_eq!(manifest_name(42), "00000000000000000042.manifest");
        assert_eq!(manifest_number(&manifest_name(42)), Some(42));
        assert_eq!(manifest_number("42.manifest"), None);
        assert_eq!(manifest_number("00000000000000000042.tmp"), None);
    }

    #[test]
    fn field_sizes_match_format_md() {
        // FORMAT.md: a root is 1 byte when absent, and when present a flag, varints and the
        // hash; a pack 52 bytes; a snapshot varints, a parent flag and its root.
        let bare = Manifest {
            packs: Vec::new(),
            root: None,
            snapshots: Vec::new(),
            ..sample()
        };
        let base = bare.encode().len();
        assert_eq!(
            base,
            16 + 8 + 8 + 12 + 8 + 4 + 4 + 1 + 8 + 9 + 9 + 8 + 4 + 32
        );
        let full = sample();
        let packs = Manifest {
            root: None,
            snapshots: Vec::new(),
            ..full.clone()
        };
        assert_eq!(packs.encode().len() - base, 2 * 52);
        let rooted = Manifest {
            snapshots: Vec::new(),
            ..full.clone()
        };
        // Pack 4 (1 byte), ordinal 199 (2), the hash, 11 entries (1), 160 key bytes (2),
        // 1000 value bytes (2).
        let root = 1 + 1 + 2 + 32 + 1 + 2 + 2;
        assert_eq!(rooted.encode().len() - packs.encode().len(), root - 1);
        // Two snapshots. Id 3 (1 byte), generation 1 (1), no parent (1), its time, 2^60 and
        // more (9), counts (1 + 1), a root in pack 2 (as above, with 89 and 12 in 1 byte
        // each); then id 3 + 5 (1), generation 2 (1), parent 3 (1 + 1), 1 ns later (1), counts
        // (1 + 1), no root (1).
        assert_eq!(
            full.encode().len() - rooted.encode().len(),
            (1 + 1 + 1 + 9 + 1 + 1 + (root - 1)) + (1 + 1 + 2 + 1 + 1 + 1 + 1)
        );
    }
}
