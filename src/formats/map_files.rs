//! Saving [`crate::Map`] snapshots to portable files and loading them back.
//!
//! Exports follow LQFT's `export_snapshot`, `export_snapshot_bundle` and
//! `export_current_state_payload`; loads register snapshots with their metadata preserved
//! through [`crate::Map::import_snapshots`], so a bundle loads all-or-nothing (LQFT's did
//! not).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map as JsonMap, Value};

use super::envelope::{VerifyOptions, WriteOptions, read_persisted_file, write_persisted_file};
use super::error::{Error, ErrorKind, Result};
use super::limits::Limits;
use super::snapshot::{
    BundlePayload, CurrentStatePayload, SnapshotMetadata, SnapshotPayload, bundle_json,
    snapshot_json,
};
use crate::{Map, RollbackPolicy, Snapshot, SnapshotMeta, Tree};

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The portable metadata of an engine snapshot.
pub fn snapshot_metadata(meta: &SnapshotMeta) -> SnapshotMetadata {
    SnapshotMetadata {
        snapshot_id: meta.id,
        generation: meta.generation,
        parent_snapshot_id: meta.parent_id,
        created_at_ns: meta.created_at_ns,
        mutation_count: meta.mutation_count,
        delta_size: meta.delta_size,
        size: meta.size,
    }
}

/// The `lqft-snapshot-v1` payload of a snapshot (items in key order).
pub fn export_snapshot(snapshot: &Snapshot) -> JsonMap<String, Value> {
    snapshot_json(&snapshot_metadata(snapshot.meta()), snapshot.iter())
}

/// The `lqft-snapshot-bundle-v1` payload of `snapshots` (all registered snapshots when
/// `None`). `current_snapshot_id` is kept only if the current snapshot is exported.
pub fn export_bundle(map: &Map, snapshots: Option<&[Snapshot]>) -> Result<JsonMap<String, Value>> {
    let registered;
    let snapshots = match snapshots {
        Some(s) => s,
        None => {
            registered = map.snapshots();
            &registered
        }
    };
    if snapshots.is_empty() {
        return Err(Error::payload("no snapshots are available to export"));
    }
    let current = map
        .current_snapshot()
        .map(|s| s.id())
        .filter(|id| snapshots.iter().any(|s| s.id() == *id));
    Ok(bundle_json(
        current,
        now_ns(),
        snapshots.iter().map(export_snapshot).collect(),
    ))
}

/// The `lqft-current-state-v1` payload of the live state.
pub fn export_current_state(map: &Map) -> JsonMap<String, Value> {
    CurrentStatePayload {
        base_snapshot_id: map.current_snapshot().map(|s| s.id()),
        pending_mutations: map.pending_mutations(),
        exported_at_ns: now_ns(),
        items: map
            .iter()
            .map(|e| (e.key().to_vec(), e.value().to_vec()))
            .collect(),
    }
    .to_json()
}

/// Writes a snapshot file.
pub fn save_snapshot(path: &Path, snapshot: &Snapshot, options: &WriteOptions<'_>) -> Result<()> {
    write_persisted_file(path, export_snapshot(snapshot), options)
}

/// Writes a bundle file of `snapshots` (all registered ones when `None`).
pub fn save_bundle(
    path: &Path,
    map: &Map,
    snapshots: Option<&[Snapshot]>,
    options: &WriteOptions<'_>,
) -> Result<()> {
    write_persisted_file(path, export_bundle(map, snapshots)?, options)
}

/// Writes the live state as a current-state file.
pub fn save_current_state(path: &Path, map: &Map, options: &WriteOptions<'_>) -> Result<()> {
    write_persisted_file(path, export_current_state(map), options)
}

/// How a file is loaded into a map.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions<'a> {
    /// Signature, trust and freshness requirements.
    pub verify: VerifyOptions<'a>,
    /// Caps on reading.
    pub limits: Limits,
    /// Make the loaded snapshot (a bundle's `current_snapshot_id`, else its last) current.
    pub activate: bool,
    /// What activation does with uncommitted writes.
    pub pending: RollbackPolicy,
}

impl Default for LoadOptions<'_> {
    fn default() -> Self {
        LoadOptions {
            verify: VerifyOptions::default(),
            limits: Limits::default(),
            activate: false,
            pending: RollbackPolicy::Fail,
        }
    }
}

fn engine_error(e: crate::Error) -> Error {
    Error::new(ErrorKind::Engine, e.to_string()).with_source(e)
}

fn next_id(map: &Map) -> u64 {
    map.snapshots()
        .last()
        .map_or(1, |s| s.id().saturating_add(1))
}

/// Builds the engine form of a decoded snapshot.
pub fn snapshot_to_tree(snapshot: &SnapshotPayload) -> Result<(SnapshotMeta, Tree)> {
    let mut tree = Tree::new();
    for (key, value) in &snapshot.items {
        tree.insert(key, value).map_err(engine_error)?;
    }
    let m = &snapshot.metadata;
    Ok((
        SnapshotMeta {
            id: m.snapshot_id,
            generation: m.generation,
            parent_id: m.parent_snapshot_id,
            created_at_ns: m.created_at_ns,
            mutation_count: m.mutation_count,
            delta_size: m.delta_size,
            size: m.size,
        },
        tree,
    ))
}

/// Registers decoded snapshots atomically, activating `activate` if given.
pub fn import_payloads(
    map: &Map,
    snapshots: &[SnapshotPayload],
    activate: Option<u64>,
    pending: RollbackPolicy,
) -> Result<Vec<Snapshot>> {
    let trees = snapshots
        .iter()
        .map(snapshot_to_tree)
        .collect::<Result<Vec<_>>>()?;
    map.import_snapshots(trees, activate, pending)
        .map(|imported| imported.snapshots)
        .map_err(engine_error)
}

/// Verifies and loads an `lqft-snapshot-v1` file into `map`.
pub fn load_snapshot_file(map: &Map, path: &Path, options: &LoadOptions<'_>) -> Result<Snapshot> {
    let opened = read_persisted_file(path, &options.verify, &options.limits)?;
    let payload = SnapshotPayload::from_json(opened.payload, next_id(map), now_ns())?;
    let activate = options.activate.then_some(payload.metadata.snapshot_id);
    let mut loaded = import_payloads(
        map,
        std::slice::from_ref(&payload),
        activate,
        options.pending,
    )?;
    Ok(loaded.remove(0))
}

/// Verifies and loads an `lqft-snapshot-bundle-v1` file into `map`: every snapshot is
/// registered, or none is.
pub fn load_bundle_file(
    map: &Map,
    path: &Path,
    options: &LoadOptions<'_>,
) -> Result<Vec<Snapshot>> {
    let opened = read_persisted_file(path, &options.verify, &options.limits)?;
    let bundle = BundlePayload::from_json(opened.payload, next_id(map), now_ns())?;
    let activate = options.activate.then(|| {
        bundle.current_snapshot_id.unwrap_or_else(|| {
            bundle
                .snapshots
                .last()
                .map_or(0, |s| s.metadata.snapshot_id)
        })
    });
    import_payloads(map, &bundle.snapshots, activate, options.pending)
}
