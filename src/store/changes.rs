//! Between the engine's [`Change`]s and the WAL's [`LogRecord`]s: what a store-backed map's
//! journal writes, and how replay turns records back into changes.

use crate::engine::journal::Change;
use crate::error::{Error, Result};
use crate::tree::Tree;
use crate::{Batch, BatchOp, SnapshotMeta};

use std::iter::once;

use super::record::{
    ImportedSnapshot, LogOp, LogRecord, OpRef, SnapshotMarker, TYPE_BATCH, encode_batch,
};

/// The WAL record of `change`: its type and payload. Puts, deletes, clears, batches and
/// transactions are encoded straight from the change (no copy of their keys and values in
/// between); the other changes through their [`LogRecord`]. Fails only when an imported
/// snapshot's stored node fails to load.
pub(super) fn encode_change(change: &Change<'_>) -> Result<(u8, Vec<u8>)> {
    let batch = |payload: Vec<u8>| Ok((TYPE_BATCH, payload));
    let record = match *change {
        Change::Put { key, value } => return batch(encode_batch(|| once(OpRef::Put(key, value)))),
        Change::Delete { key } => return batch(encode_batch(|| once(OpRef::Delete(key)))),
        Change::Clear => return batch(encode_batch(|| once(OpRef::Clear))),
        Change::Batch(ops) => {
            return batch(encode_batch(|| {
                ops.ops().map(|op| match op {
                    BatchOp::Put(key, value) => OpRef::Put(key, value),
                    BatchOp::Delete(key) => OpRef::Delete(key),
                })
            }));
        }
        Change::Writes(writes) => {
            return batch(encode_batch(|| {
                writes.iter().map(|(key, value)| match value {
                    Some(value) => OpRef::Put(key, value),
                    None => OpRef::Delete(key),
                })
            }));
        }
        Change::Snapshot { meta, root, pruned } => LogRecord::Snapshot(SnapshotMarker {
            id: meta.id,
            generation: meta.generation,
            parent_id: meta.parent_id,
            created_at_ns: meta.created_at_ns,
            mutation_count: meta.mutation_count,
            delta_size: meta.delta_size,
            size: meta.size,
            root,
            pruned: pruned.to_vec(),
        }),
        Change::Rollback { id, discard } => LogRecord::Rollback { id, discard },
        Change::Retention { keep, pruned } => LogRecord::Retention {
            keep,
            pruned: pruned.to_vec(),
        },
        Change::Compact {
            retain_last,
            pruned,
        } => LogRecord::Compact {
            retain_last,
            pruned: pruned.to_vec(),
        },
        Change::Import {
            snapshots,
            activate,
        } => LogRecord::Import {
            snapshots: snapshots
                .iter()
                .map(|(meta, tree)| {
                    let entries = tree
                        .try_iter()
                        .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(ImportedSnapshot {
                        meta: SnapshotMeta {
                            size: entries.len() as u64,
                            ..meta.clone()
                        },
                        entries,
                    })
                })
                .collect::<Result<_>>()?,
            activate: activate.map(|i| i as u64),
        },
    };
    Ok((record.kind(), record.encode()))
}

/// What replaying a record needs beside the record: a batch or imported trees built from it.
enum Owned {
    None,
    Batch(Batch),
    Imported(Vec<(SnapshotMeta, Tree)>),
}

/// Applies `record` (at `seq`) to `map` through [`Map::replay`](crate::Map::replay).
pub(super) fn replay(map: &crate::Map, seq: u64, record: &LogRecord) -> Result<()> {
    let context = |error: Error| match error {
        Error::Corrupt(why) => Error::Corrupt(format!("WAL record {seq}: {why}")),
        other => other,
    };
    let owned = match record {
        LogRecord::Batch(ops) if ops.len() != 1 => {
            let mut batch = Batch::new();
            for op in ops {
                match op {
                    LogOp::Put(key, value) => batch.put(key, value).map_err(context)?,
                    LogOp::Delete(key) => batch.delete(key).map_err(context)?,
                    LogOp::Clear => {
                        return Err(Error::Corrupt(format!(
                            "WAL record {seq}: a clear inside a batch of {} operations",
                            ops.len()
                        )));
                    }
                };
            }
            Owned::Batch(batch)
        }
        LogRecord::Import { snapshots, .. } => {
            let mut trees = Vec::with_capacity(snapshots.len());
            for s in snapshots {
                let mut tree = Tree::new();
                for (key, value) in &s.entries {
                    tree.insert(key, value).map_err(context)?;
                }
                trees.push((s.meta.clone(), tree));
            }
            Owned::Imported(trees)
        }
        _ => Owned::None,
    };
    let change = match (record, &owned) {
        (LogRecord::Batch(ops), Owned::None) => match &ops[0] {
            LogOp::Put(key, value) => Change::Put { key, value },
            LogOp::Delete(key) => Change::Delete { key },
            LogOp::Clear => Change::Clear,
        },
        (LogRecord::Batch(_), Owned::Batch(batch)) => Change::Batch(batch),
        (LogRecord::Snapshot(m), _) => {
            return map
                .replay(&Change::Snapshot {
                    meta: &SnapshotMeta {
                        id: m.id,
                        generation: m.generation,
                        parent_id: m.parent_id,
                        created_at_ns: m.created_at_ns,
                        mutation_count: m.mutation_count,
                        delta_size: m.delta_size,
                        size: m.size,
                    },
                    root: m.root,
                    pruned: &m.pruned,
                })
                .map_err(context);
        }
        (LogRecord::Rollback { id, discard }, _) => Change::Rollback {
            id: *id,
            discard: *discard,
        },
        (LogRecord::Retention { keep, pruned }, _) => Change::Retention {
            keep: *keep,
            pruned,
        },
        (
            LogRecord::Compact {
                retain_last,
                pruned,
            },
            _,
        ) => Change::Compact {
            retain_last: *retain_last,
            pruned,
        },
        (LogRecord::Import { activate, .. }, Owned::Imported(trees)) => Change::Import {
            snapshots: trees,
            activate: activate.map(|i| usize::try_from(i).unwrap_or(usize::MAX)),
        },
        _ => unreachable!("every record kind is matched with what it owns"),
    };
    map.replay(&change).map_err(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes the record `encode_change` wrote for `change`.
    fn decoded(change: &Change<'_>) -> LogRecord {
        let (kind, payload) = encode_change(change).expect("encodes");
        LogRecord::decode(kind, &payload).expect("decodes")
    }

    fn put(key: &[u8], value: &[u8]) -> LogOp {
        LogOp::Put(key.to_vec(), value.to_vec())
    }

    #[test]
    fn writes_encode_straight_to_the_batch_records_they_replay_as() {
        let (key, value) = (&b"key"[..], &b"value"[..]);
        assert_eq!(
            decoded(&Change::Put { key, value }),
            LogRecord::Batch(vec![put(key, value)])
        );
        assert_eq!(
            decoded(&Change::Delete { key }),
            LogRecord::Batch(vec![LogOp::Delete(key.to_vec())])
        );
        assert_eq!(
            decoded(&Change::Clear),
            LogRecord::Batch(vec![LogOp::Clear])
        );

        let mut batch = Batch::new();
        batch.put(b"a", b"1").unwrap();
        batch.delete(b"b").unwrap();
        batch.put(b"", b"").unwrap();
        assert_eq!(
            decoded(&Change::Batch(&batch)),
            LogRecord::Batch(vec![
                put(b"a", b"1"),
                LogOp::Delete(b"b".to_vec()),
                put(b"", b"")
            ])
        );
        assert_eq!(
            decoded(&Change::Batch(&Batch::new())),
            LogRecord::Batch(Vec::new())
        );
    }
}
