//! The logical records a WAL carries: what a write did, not which bytes it changed.
//!
//! Replaying the records from a manifest's `wal_start` over the manifest's state rebuilds the
//! state every acknowledged write left. Payload layouts (little-endian) are in
//! `docs/FORMAT.md`; the type byte is the WAL record's `type`.

use crate::error::{Error, MAX_KEY_LEN, MAX_VALUE_LEN, Result};
use crate::tree::Hash;

/// WAL record type of [`LogRecord::Batch`].
pub const TYPE_BATCH: u8 = 1;
/// WAL record type of [`LogRecord::Snapshot`].
pub const TYPE_SNAPSHOT: u8 = 2;
/// WAL record type of [`LogRecord::Rollback`].
pub const TYPE_ROLLBACK: u8 = 3;
/// WAL record type of [`LogRecord::Retention`].
pub const TYPE_RETENTION: u8 = 4;
/// WAL record type of [`LogRecord::Compact`].
pub const TYPE_COMPACT: u8 = 5;
/// WAL record type of [`LogRecord::Import`].
pub const TYPE_IMPORT: u8 = 6;

/// One operation of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogOp {
    /// Set a key.
    Put(Vec<u8>, Vec<u8>),
    /// Remove a key.
    Delete(Vec<u8>),
    /// Remove every key.
    Clear,
}

/// A [`LogOp`] borrowed from wherever the operation is: what [`encode_batch`] writes.
#[derive(Debug, Clone, Copy)]
pub enum OpRef<'a> {
    /// Set a key.
    Put(&'a [u8], &'a [u8]),
    /// Remove a key.
    Delete(&'a [u8]),
    /// Remove every key.
    Clear,
}

/// The payload of a [`LogRecord::Batch`] of the operations `ops` yields (each call yields the
/// same ones), written straight from them in one allocation of the exact size.
pub fn encode_batch<'a, I: Iterator<Item = OpRef<'a>>>(ops: impl Fn() -> I) -> Vec<u8> {
    let (count, size) = ops().fold((0usize, 4usize), |(count, size), op| {
        let bytes = match op {
            OpRef::Put(key, value) => 9 + key.len() + value.len(),
            OpRef::Delete(key) => 5 + key.len(),
            OpRef::Clear => 1,
        };
        (count + 1, size + bytes)
    });
    let mut out = Vec::with_capacity(size);
    put_u32(
        &mut out,
        u32::try_from(count).expect("batch within u32 ops"),
    );
    for op in ops() {
        match op {
            OpRef::Put(key, value) => {
                out.push(1);
                put_u32(&mut out, len32(key));
                put_u32(&mut out, len32(value));
                out.extend_from_slice(key);
                out.extend_from_slice(value);
            }
            OpRef::Delete(key) => {
                out.push(2);
                put_u32(&mut out, len32(key));
                out.extend_from_slice(key);
            }
            OpRef::Clear => out.push(3),
        }
    }
    out
}

/// A snapshot marker: what [`Map::snapshot`](crate::Map::snapshot) recorded, with the root
/// hash replay must reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMarker {
    /// The snapshot's id.
    pub id: u64,
    /// Its generation.
    pub generation: u64,
    /// Its parent's id.
    pub parent_id: Option<u64>,
    /// When it was taken, nanoseconds since the Unix epoch.
    pub created_at_ns: u64,
    /// Mutations between its parent and it.
    pub mutation_count: u64,
    /// Keys that differ between its parent and it.
    pub delta_size: u64,
    /// Entries in it.
    pub size: u64,
    /// Its Merkle root: replay fails with [`Error::Corrupt`] if the replayed state differs.
    pub root: Hash,
    /// Ids the retention policy pruned when it was taken, ascending.
    pub pruned: Vec<u64>,
}

/// A snapshot carried whole by an import record: its metadata (final id) and its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedSnapshot {
    /// Its id, generation, parent, creation time, mutation count and delta size.
    pub meta: crate::SnapshotMeta,
    /// Its entries, ascending by key.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A logical WAL record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRecord {
    /// Operations applied atomically, in order (a single put or delete is a batch of one).
    Batch(Vec<LogOp>),
    /// A snapshot was taken and registered.
    Snapshot(SnapshotMarker),
    /// The live state was rolled back to a snapshot.
    Rollback {
        /// The snapshot rolled back to.
        id: u64,
        /// Whether pending mutations were discarded (otherwise there were none).
        discard: bool,
    },
    /// The retention policy changed, and `pruned` left the registry.
    Retention {
        /// The policy (`None`: none).
        keep: Option<u64>,
        /// Ids pruned, ascending.
        pruned: Vec<u64>,
    },
    /// A compaction to the newest `retain_last` (plus current and pinned) removed `pruned`.
    Compact {
        /// How many of the newest snapshots were kept.
        retain_last: u64,
        /// Ids pruned, ascending.
        pruned: Vec<u64>,
    },
    /// Snapshots registered whole, and optionally one made current.
    Import {
        /// The snapshots, in the order given.
        snapshots: Vec<ImportedSnapshot>,
        /// The position of the one made current.
        activate: Option<u64>,
    },
}

impl LogRecord {
    /// The WAL record type.
    pub fn kind(&self) -> u8 {
        match self {
            LogRecord::Batch(_) => TYPE_BATCH,
            LogRecord::Snapshot(_) => TYPE_SNAPSHOT,
            LogRecord::Rollback { .. } => TYPE_ROLLBACK,
            LogRecord::Retention { .. } => TYPE_RETENTION,
            LogRecord::Compact { .. } => TYPE_COMPACT,
            LogRecord::Import { .. } => TYPE_IMPORT,
        }
    }

    /// The payload bytes (never empty).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            LogRecord::Batch(ops) => {
                return encode_batch(|| {
                    ops.iter().map(|op| match op {
                        LogOp::Put(key, value) => OpRef::Put(key, value),
                        LogOp::Delete(key) => OpRef::Delete(key),
                        LogOp::Clear => OpRef::Clear,
                    })
                });
            }
            LogRecord::Snapshot(m) => {
                for v in [m.id, m.generation] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
                put_opt(&mut out, m.parent_id);
                for v in [m.created_at_ns, m.mutation_count, m.delta_size, m.size] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
                out.extend_from_slice(&m.root);
                put_ids(&mut out, &m.pruned);
            }
            LogRecord::Rollback { id, discard } => {
                out.extend_from_slice(&id.to_le_bytes());
                out.push(u8::from(*discard));
            }
            LogRecord::Retention { keep, pruned } => {
                put_opt(&mut out, *keep);
                put_ids(&mut out, pruned);
            }
            LogRecord::Compact {
                retain_last,
                pruned,
            } => {
                out.extend_from_slice(&retain_last.to_le_bytes());
                put_ids(&mut out, pruned);
            }
            LogRecord::Import {
                snapshots,
                activate,
            } => {
                put_u32(
                    &mut out,
                    u32::try_from(snapshots.len()).expect("import within u32 snapshots"),
                );
                for s in snapshots {
                    let m = &s.meta;
                    for v in [m.id, m.generation] {
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                    put_opt(&mut out, m.parent_id);
                    for v in [m.created_at_ns, m.mutation_count, m.delta_size, m.size] {
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                    for (key, value) in &s.entries {
                        put_u32(&mut out, len32(key));
                        put_u32(&mut out, len32(value));
                        out.extend_from_slice(key);
                        out.extend_from_slice(value);
                    }
                }
                put_opt(&mut out, *activate);
            }
        }
        out
    }

    /// Reads the payload of a record of type `kind`, refusing unknown types, lengths past the
    /// payload, keys and values over the limits, and trailing bytes.
    pub fn decode(kind: u8, payload: &[u8]) -> Result<LogRecord> {
        let mut r = Reader {
            bytes: payload,
            at: 0,
        };
        let record = match kind {
            TYPE_BATCH => {
                let count = r.u32()? as usize;
                // Every op takes at least one byte: a count past that is damage.
                if count > payload.len() {
                    return Err(bad("batch count past the payload"));
                }
                let mut ops = Vec::with_capacity(count);
                for _ in 0..count {
                    ops.push(match r.u8()? {
                        1 => {
                            let key_len = r.u32()? as usize;
                            let value_len = r.u32()? as usize;
                            if key_len > MAX_KEY_LEN || value_len > MAX_VALUE_LEN {
                                return Err(bad("key or value over the limit"));
                            }
                            let key = r.take(key_len)?.to_vec();
                            LogOp::Put(key, r.take(value_len)?.to_vec())
                        }
                        2 => {
                            let key_len = r.u32()? as usize;
                            if key_len > MAX_KEY_LEN {
                                return Err(bad("key over the limit"));
                            }
                            LogOp::Delete(r.take(key_len)?.to_vec())
                        }
                        3 => LogOp::Clear,
                        other => return Err(bad(&format!("batch op tag {other}"))),
                    });
                }
                LogRecord::Batch(ops)
            }
            TYPE_SNAPSHOT => LogRecord::Snapshot(SnapshotMarker {
                id: r.u64()?,
                generation: r.u64()?,
                parent_id: r.opt()?,
                created_at_ns: r.u64()?,
                mutation_count: r.u64()?,
                delta_size: r.u64()?,
                size: r.u64()?,
                root: r.take(32)?.try_into().expect("32"),
                pruned: r.ids()?,
            }),
            TYPE_ROLLBACK => LogRecord::Rollback {
                id: r.u64()?,
                discard: match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(bad("rollback policy byte")),
                },
            },
            TYPE_RETENTION => LogRecord::Retention {
                keep: r.opt()?,
                pruned: r.ids()?,
            },
            TYPE_COMPACT => LogRecord::Compact {
                retain_last: r.u64()?,
                pruned: r.ids()?,
            },
            TYPE_IMPORT => {
                // Every snapshot takes at least 57 bytes (its metadata).
                let count = r.u32()? as usize;
                if count.saturating_mul(57) > payload.len() {
                    return Err(bad("import count past the payload"));
                }
                let mut snapshots = Vec::with_capacity(count);
                for _ in 0..count {
                    let meta = crate::SnapshotMeta {
                        id: r.u64()?,
                        generation: r.u64()?,
                        parent_id: r.opt()?,
                        created_at_ns: r.u64()?,
                        mutation_count: r.u64()?,
                        delta_size: r.u64()?,
                        size: r.u64()?,
                    };
                    // Each entry takes at least 8 bytes.
                    if meta.size > (payload.len() / 8) as u64 {
                        return Err(bad("import size past the payload"));
                    }
                    let mut entries = Vec::with_capacity(meta.size as usize);
                    for _ in 0..meta.size {
                        let key_len = r.u32()? as usize;
                        let value_len = r.u32()? as usize;
                        if key_len > MAX_KEY_LEN || value_len > MAX_VALUE_LEN {
                            return Err(bad("key or value over the limit"));
                        }
                        let key = r.take(key_len)?.to_vec();
                        entries.push((key, r.take(value_len)?.to_vec()));
                    }
                    if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
                        return Err(bad("imported entries out of order"));
                    }
                    snapshots.push(ImportedSnapshot { meta, entries });
                }
                LogRecord::Import {
                    snapshots,
                    activate: r.opt()?,
                }
            }
            other => return Err(bad(&format!("unknown record type {other}"))),
        };
        if r.at != payload.len() {
            return Err(bad("bytes after the record"));
        }
        Ok(record)
    }
}

fn len32(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).expect("keys and values are within u32")
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_opt(out: &mut Vec<u8>, v: Option<u64>) {
    out.push(u8::from(v.is_some()));
    out.extend_from_slice(&v.unwrap_or(0).to_le_bytes());
}

/// A count u32 and that many u64 ids.
fn put_ids(out: &mut Vec<u8>, ids: &[u64]) {
    put_u32(out, u32::try_from(ids.len()).expect("ids within u32"));
    for id in ids {
        out.extend_from_slice(&id.to_le_bytes());
    }
}

fn bad(why: &str) -> Error {
    Error::Corrupt(format!("WAL record payload: {why}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .at
            .checked_add(n)
            .ok_or_else(|| bad("length overflow"))?;
        let bytes = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| bad("ends early"))?;
        self.at = end;
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
    fn ids(&mut self) -> Result<Vec<u64>> {
        let count = self.u32()? as usize;
        if count.saturating_mul(8) > self.bytes.len() - self.at {
            return Err(bad("id count past the payload"));
        }
        let ids: Vec<u64> = (0..count).map(|_| self.u64()).collect::<Result<_>>()?;
        if ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("ids not ascending"));
        }
        Ok(ids)
    }
    fn opt(&mut self) -> Result<Option<u64>> {
        let flag = self.u8()?;
        let value = self.u64()?;
        match (flag, value) {
            (0, 0) => Ok(None),
            (1, v) => Ok(Some(v)),
            _ => Err(bad("optional value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<LogRecord> {
        vec![
            LogRecord::Batch(vec![
                LogOp::Put(b"k".to_vec(), b"v".to_vec()),
                LogOp::Put(Vec::new(), Vec::new()),
                LogOp::Delete(b"gone".to_vec()),
                LogOp::Clear,
            ]),
            LogRecord::Batch(Vec::new()),
            LogRecord::Snapshot(SnapshotMarker {
                id: 4,
                generation: 2,
                parent_id: Some(3),
                created_at_ns: 99,
                mutation_count: 7,
                delta_size: 6,
                size: 100,
                root: [9; 32],
                pruned: vec![1, 2],
            }),
            LogRecord::Rollback {
                id: 3,
                discard: true,
            },
            LogRecord::Retention {
                keep: Some(10),
                pruned: vec![5],
            },
            LogRecord::Retention {
                keep: None,
                pruned: Vec::new(),
            },
            LogRecord::Compact {
                retain_last: 2,
                pruned: vec![3, 7],
            },
            LogRecord::Import {
                snapshots: vec![ImportedSnapshot {
                    meta: crate::SnapshotMeta {
                        id: 9,
                        generation: 9,
                        parent_id: None,
                        created_at_ns: 5,
                        mutation_count: 0,
                        delta_size: 2,
                        size: 2,
                    },
                    entries: vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), Vec::new())],
                }],
                activate: Some(0),
            },
            LogRecord::Import {
                snapshots: vec![ImportedSnapshot {
                    meta: crate::SnapshotMeta {
                        id: 10,
                        generation: 10,
                        parent_id: None,
                        created_at_ns: 0,
                        mutation_count: 0,
                        delta_size: 0,
                        size: 0,
                    },
                    entries: Vec::new(),
                }],
                activate: None,
            },
        ]
    }

    #[test]
    fn records_round_trip() {
        for record in samples() {
            let payload = record.encode();
            assert!(!payload.is_empty());
            assert_eq!(LogRecord::decode(record.kind(), &payload).unwrap(), record);
        }
    }

    #[test]
    fn truncated_or_extended_payloads_are_refused() {
        for record in samples() {
            let payload = record.encode();
            for cut in 0..payload.len() {
                assert!(LogRecord::decode(record.kind(), &payload[..cut]).is_err());
            }
            let mut longer = payload.clone();
            longer.push(0);
            assert!(LogRecord::decode(record.kind(), &longer).is_err());
        }
        assert!(LogRecord::decode(7, &[0]).is_err());
    }
}
