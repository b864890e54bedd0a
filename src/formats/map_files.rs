//! Saving [`crate::Map`] snapshots to portable files and loading them back.
//!
//! Exports follow LQFT's `export_snapshot`, `export_snapshot_bundle` and
//! `export_current_state_payload`; loads register snapshots with their metadata preserved
//! through [`crate::Map::import_snapshots`], so a bundle loads all-or-nothing (LQFT's did
//! not).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map as JsonMap, Value};

use super::envelope::{
    PERSISTED_FILE_FORMAT, VerifyOptions, WriteOptions, check_document, persisted_file_bytes,
    write_persisted_file, write_streamed,
};
use super::error::{Error, ErrorKind, Result};
use super::file_io::{parse_document_bytes, read_json_file};
use super::limits::Limits;
use super::snapshot::{
    BundlePayload, CurrentStatePayload, ITEMS, SnapshotMetadata, SnapshotPayload, StreamedItems,
    bundle_json, snapshot_json, snapshot_members,
};
use crate::{ImportOptions, Map, RollbackPolicy, Snapshot, SnapshotIds, SnapshotMeta, Tree};

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

/// Loads every stored node of `snapshots` (versions of a store-backed map load from disk), so
/// that the walks of an export, which read every entry and cannot report a failed load, find
/// everything in memory. Fails with the first failed load (an engine error: `Io`, `Corrupt`).
fn load_whole<'a>(snapshots: impl IntoIterator<Item = &'a Snapshot>) -> Result<()> {
    snapshots
        .into_iter()
        .try_for_each(|snapshot| snapshot.tree().load_all())
        .map_err(engine_error)
}

/// The `lqft-snapshot-v1` payload of a snapshot (items in key order). A snapshot of a
/// store-backed map must be loaded whole first ([`Tree::load_all`]): the fallible exports and
/// saves below do that.
pub fn export_snapshot(snapshot: &Snapshot) -> JsonMap<String, Value> {
    snapshot_json(&snapshot_metadata(snapshot.meta()), snapshot.iter())
}

/// The `lqft-snapshot-bundle-v1` payload of `snapshots` (all registered snapshots when
/// `None`). `current_snapshot_id` is kept only if the current snapshot is exported. Loads
/// the snapshots whole first; a failed load is an engine error.
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
    load_whole(snapshots)?;
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

/// The live state of `map` as a current-state payload. On a store-backed map the walk loads
/// stored nodes; a failed load is an engine error (`Io`, `Corrupt`).
fn current_state(map: &Map) -> Result<CurrentStatePayload> {
    let items = map
        .try_iter()
        .map(|entry| entry.map(|e| (e.key().to_vec(), e.value().to_vec())))
        .collect::<crate::Result<_>>()
        .map_err(engine_error)?;
    Ok(CurrentStatePayload {
        base_snapshot_id: map.current_snapshot().map(|s| s.id()),
        pending_mutations: map.pending_mutations(),
        exported_at_ns: now_ns(),
        items,
    })
}

/// The `lqft-current-state-v1` payload of the live state. Fails with an engine error when a
/// stored node of a store-backed map fails to load.
pub fn export_current_state(map: &Map) -> Result<JsonMap<String, Value>> {
    current_state(map).map(|state| state.to_json())
}

/// Writes a snapshot file. The items go from the snapshot straight into the file and the
/// signed bytes, with no `Value` per item; the bytes are those of writing
/// [`export_snapshot`]'s payload with [`write_persisted_file`]. The snapshot is loaded whole
/// first (a failed load is an engine error and leaves no file).
pub fn save_snapshot(path: &Path, snapshot: &Snapshot, options: &WriteOptions<'_>) -> Result<()> {
    load_whole([snapshot])?;
    let items = StreamedItems(|| snapshot.iter());
    write_streamed(
        path,
        snapshot_members(&snapshot_metadata(snapshot.meta())),
        Some((ITEMS, &items)),
        options,
    )
}

/// The text of the file [`save_snapshot`] writes to a path without `.gz`, in memory.
pub fn snapshot_file_bytes(snapshot: &Snapshot, options: &WriteOptions<'_>) -> Result<Vec<u8>> {
    load_whole([snapshot])?;
    persisted_file_bytes(export_snapshot(snapshot), options)
}

/// The text of the file [`save_bundle`] writes to a path without `.gz`, in memory.
pub fn bundle_file_bytes(
    map: &Map,
    snapshots: Option<&[Snapshot]>,
    options: &WriteOptions<'_>,
) -> Result<Vec<u8>> {
    persisted_file_bytes(export_bundle(map, snapshots)?, options)
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

/// Writes the live state as a current-state file (its items are taken once, then streamed
/// like [`save_snapshot`]'s). A failed load of a stored node is an engine error and leaves no
/// file.
pub fn save_current_state(path: &Path, map: &Map, options: &WriteOptions<'_>) -> Result<()> {
    let state = current_state(map)?;
    let items = StreamedItems(|| {
        state
            .items
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    });
    write_streamed(path, state.members(), Some((ITEMS, &items)), options)
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
    /// Which ids the loaded snapshots get: the ones the file records (which must be unused in
    /// the map) or fresh ones.
    pub ids: SnapshotIds,
}

impl Default for LoadOptions<'_> {
    fn default() -> Self {
        LoadOptions {
            verify: VerifyOptions::default(),
            limits: Limits::default(),
            activate: false,
            pending: RollbackPolicy::Fail,
            ids: SnapshotIds::Recorded,
        }
    }
}

fn engine_error(e: crate::Error) -> Error {
    Error::new(ErrorKind::Engine, e.to_string()).with_source(e)
}

/// Builds the engine form of a decoded snapshot. An item the map cannot hold (a key or value
/// over the limits) makes the file corrupt.
pub fn snapshot_to_tree(snapshot: &SnapshotPayload) -> Result<(SnapshotMeta, Tree)> {
    let mut tree = Tree::new();
    for (key, value) in &snapshot.items {
        tree.insert(key, value)
            .map_err(|e| Error::payload(format!("snapshot item cannot be loaded: {e}")))?;
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

/// Registers decoded snapshots atomically, as `options` says.
pub fn import_payloads(
    map: &Map,
    snapshots: &[SnapshotPayload],
    options: &ImportOptions,
) -> Result<Vec<Snapshot>> {
    let trees = snapshots
        .iter()
        .map(snapshot_to_tree)
        .collect::<Result<Vec<_>>>()?;
    map.import_snapshots(trees, options)
        .map(|imported| imported.snapshots)
        .map_err(engine_error)
}

impl LoadOptions<'_> {
    /// How the engine registers the loaded snapshots, activating the one at `current`.
    fn import(&self, current: usize) -> ImportOptions {
        ImportOptions {
            ids: self.ids,
            activate: self.activate.then_some(current),
            pending: self.pending,
        }
    }
}

/// Where a document is read from: a file (gzip by suffix) or bytes in memory (gzip by magic).
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// The file at this path.
    File(&'a Path),
    /// The text of such a file, held in memory.
    Bytes(&'a [u8]),
}

impl Source<'_> {
    fn read(self, limits: &Limits) -> Result<Value> {
        match self {
            Source::File(path) => read_json_file(path, limits),
            Source::Bytes(bytes) => parse_document_bytes(bytes, limits),
        }
    }
}

/// Reads `source` and, in parallel, verifies the document and decodes its payload with
/// `decode`. The decoded value is returned only if verification passed; verification errors
/// take precedence over decoding errors.
fn verified_decode<T: Send>(
    source: Source<'_>,
    options: &LoadOptions<'_>,
    decode: impl FnOnce(&Value) -> Result<T> + Send,
) -> Result<T> {
    let document = source.read(&options.limits)?;
    let payload = if is_envelope(&document) {
        document.get("payload").unwrap_or(&Value::Null)
    } else {
        &document
    };
    let (checked, decoded) = std::thread::scope(|scope| {
        let verifier = scope.spawn(|| check_document(&document, &options.verify, "persisted file"));
        let decoded = decode(payload);
        let checked = verifier
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (checked, decoded)
    });
    // Freeing a large parsed document takes a while; do it off the caller's path.
    drop_in_background(document);
    checked?;
    decoded
}

/// Drops `value` on a short-lived thread (inline if no thread can be started).
pub(crate) fn drop_in_background<T: Send + 'static>(value: T) {
    let slot = std::sync::Arc::new(parking_lot::Mutex::new(Some(value)));
    let theirs = std::sync::Arc::clone(&slot);
    if std::thread::Builder::new()
        .name("lqft-drop".into())
        .spawn(move || drop(theirs.lock().take()))
        .is_err()
    {
        drop(slot.lock().take());
    }
}

fn is_envelope(document: &Value) -> bool {
    document.get("format").and_then(Value::as_str) == Some(PERSISTED_FILE_FORMAT)
}

/// Verifies and loads an `lqft-snapshot-v1` file into `map`, under the id it records (or a
/// fresh one when it records none, or when `options.ids` asks for one).
pub fn load_snapshot_file(map: &Map, path: &Path, options: &LoadOptions<'_>) -> Result<Snapshot> {
    load_snapshot(map, Source::File(path), options)
}

/// [`load_snapshot_file`] from a file or from its bytes in memory.
pub fn load_snapshot(map: &Map, source: Source<'_>, options: &LoadOptions<'_>) -> Result<Snapshot> {
    let now = now_ns();
    let snapshot = verified_decode(source, options, |payload| {
        snapshot_to_tree(&SnapshotPayload::from_json(payload, now)?)
    })?;
    let mut imported = map
        .import_snapshots(vec![snapshot], &options.import(0))
        .map_err(engine_error)?;
    Ok(imported.snapshots.remove(0))
}

/// Verifies and loads an `lqft-snapshot-bundle-v1` file into `map`: every snapshot is
/// registered, or none is. Activation makes the bundle's current snapshot (else its last)
/// current.
pub fn load_bundle_file(
    map: &Map,
    path: &Path,
    options: &LoadOptions<'_>,
) -> Result<Vec<Snapshot>> {
    load_bundle(map, Source::File(path), options)
}

/// [`load_bundle_file`] from a file or from its bytes in memory.
pub fn load_bundle(
    map: &Map,
    source: Source<'_>,
    options: &LoadOptions<'_>,
) -> Result<Vec<Snapshot>> {
    let now = now_ns();
    let (current, trees) = verified_decode(source, options, |payload| {
        let bundle = BundlePayload::from_json(payload, now)?;
        let trees = bundle
            .snapshots
            .iter()
            .map(snapshot_to_tree)
            .collect::<Result<Vec<_>>>()?;
        Ok((bundle.current_index(), trees))
    })?;
    map.import_snapshots(trees, &options.import(current))
        .map(|imported| imported.snapshots)
        .map_err(engine_error)
}
