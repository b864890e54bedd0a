//! [`Store`]: a durable, versioned key-value store in a directory.
//!
//! One writer per directory (an exclusive lock on `LOCK`; a second writer fails at once with
//! [`Error::Locked`]), any number of read-only openers in other processes. Writes go to the
//! live tree and to the WAL; a checkpoint writes the nodes no pack holds yet into a new pack and
//! publishes a manifest naming it, after which the WAL before it is retired. Opening reads the
//! newest valid manifest, attaches its root unloaded ([`Tree::from_stored`], O(1)) and replays
//! the WAL after it, so the cost of opening does not grow with the store's size.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use parking_lot::{Mutex, RwLock};

use crate::error::{Error, Result, check_entry, check_key};
use crate::tree::{Hash, Location, NODE_FORMAT_VERSION, NodeSource, Tree};

use super::fs::{FileSystem, FsLock, OpenMode, RealFs};
use super::log::{Durability, Log, LogOptions, read_tail};
use super::manifest::{Manifest, StoredRoot, manifest_name, manifest_number};
use super::pack::{PACK_VERSION, PackHeader, PackInfo, PackReader, PackWriter};
use super::record::{LogOp, LogRecord};
use super::wal::WAL_VERSION;

const MANIFEST_DIR: &str = "manifest";
const PACK_DIR: &str = "packs";
const LOCK_FILE: &str = "LOCK";

/// How a store is opened.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// When writes are acknowledged (each write may ask for another mode).
    pub durability: Durability,
    /// WAL bytes after which a checkpoint starts in the background (default 64 MiB).
    pub checkpoint_bytes: u64,
    /// Open without the writer lock: reads only, [`Store::refresh`] moves forward.
    pub read_only: bool,
    /// Size of a WAL segment.
    pub segment_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            durability: Durability::Sync,
            checkpoint_bytes: 64 << 20,
            read_only: false,
            segment_bytes: LogOptions::default().segment_bytes,
        }
    }
}

/// The store's packs, as the tree's node source.
struct Packs {
    fs: Arc<dyn FileSystem>,
    readers: RwLock<HashMap<u32, Arc<PackReader>>>,
    loads: AtomicU64,
}

fn pack_path(id: u32, generation: u32) -> String {
    format!("{PACK_DIR}/{id:010}.{generation}.pack")
}

impl Packs {
    fn add(&self, info: PackInfo) -> Result<()> {
        if self.readers.read().contains_key(&info.id) {
            return Ok(());
        }
        let path = pack_path(info.id, info.generation);
        let file = self
            .fs
            .open(&path, OpenMode::Read)
            .map_err(|e| Error::io(format!("open {path}"), &e))?;
        let reader = PackReader::open(file, path, info)?;
        self.readers.write().insert(info.id, Arc::new(reader));
        Ok(())
    }
}

impl NodeSource for Packs {
    fn read(&self, at: Location) -> Result<Vec<u8>> {
        let reader = self.readers.read().get(&at.pack).cloned();
        let reader = reader.ok_or_else(|| {
            Error::Corrupt(format!(
                "a node names pack {}, which the store does not have",
                at.pack
            ))
        })?;
        self.loads.fetch_add(1, Ordering::Relaxed);
        reader.read(at.ordinal)
    }
}

struct State {
    live: Tree,
    manifest: Manifest,
    /// The version the manifest's root is, to skip checkpoints with nothing new.
    checkpointed: Tree,
}

struct Shared {
    fs: Arc<dyn FileSystem>,
    options: StoreOptions,
    packs: Arc<Packs>,
    state: RwLock<State>,
    /// `None` for a read-only opener.
    log: Option<Log>,
    /// The first failure of a checkpoint (the log keeps its own).
    poisoned: Mutex<Option<Error>>,
    checkpoint_lock: Mutex<()>,
    checkpointing: AtomicBool,
    epoch: u64,
    checkpoints: AtomicU64,
    _lock: Option<Box<dyn FsLock>>,
}

/// A durable store; see the module docs. All methods take `&self` and the store can be shared
/// between threads.
pub struct Store {
    shared: Arc<Shared>,
    background: Mutex<Option<JoinHandle<()>>>,
}

impl Store {
    /// Opens (creating if needed, unless read-only) the store in the directory `dir`.
    pub fn open(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let dir = dir.as_ref();
        if !options.read_only {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("create {}", dir.display()), &e))?;
        }
        Store::open_with(Arc::new(RealFs::new(dir)), options)
    }

    /// Opens the store held by `fs` (the real file system, or a simulated one in tests).
    pub fn open_with(fs: Arc<dyn FileSystem>, options: StoreOptions) -> Result<Store> {
        let io = |what: String| move |e: std::io::Error| Error::io(what, &e);
        let lock = if options.read_only {
            None
        } else {
            for dir in [MANIFEST_DIR, PACK_DIR, super::log::WAL_DIR] {
                fs.create_dir_all(dir)
                    .map_err(io(format!("create {dir}")))?;
            }
            // The directories' names must survive power loss before anything goes in them.
            fs.sync_dir("")
                .map_err(io("fsync the store directory".into()))?;
            match fs
                .try_lock(LOCK_FILE)
                .map_err(io(format!("lock {LOCK_FILE}")))?
            {
                Some(lock) => Some(lock),
                None => {
                    return Err(Error::Locked {
                        path: LOCK_FILE.into(),
                    });
                }
            }
        };
        let packs = Arc::new(Packs {
            fs: Arc::clone(&fs),
            readers: RwLock::new(HashMap::new()),
            loads: AtomicU64::new(0),
        });
        let (manifest, live, log) = if options.read_only {
            let (manifest, live) = read_state(&*fs, &packs)?;
            (manifest, live, None)
        } else {
            let manifest = newest_manifest(&*fs)?.unwrap_or_else(empty_manifest);
            remove_debris(&*fs, &manifest)?;
            for info in &manifest.packs {
                packs.add(*info)?;
            }
            let log_options = LogOptions {
                segment_bytes: options.segment_bytes,
            };
            let (log, records) = Log::open(Arc::clone(&fs), manifest.wal_start, log_options)?;
            let mut live = attach(&manifest, &packs);
            let at_checkpoint = live.clone();
            for (seq, record) in &records {
                replay(&mut live, *seq, record)?;
            }
            (manifest, live, Some((log, at_checkpoint)))
        };
        let (log, checkpointed) = match log {
            Some((log, at_checkpoint)) => (Some(log), at_checkpoint),
            None => (None, attach(&manifest, &packs)),
        };
        let epoch = manifest.writer_epoch + 1;
        let shared = Arc::new(Shared {
            fs,
            options,
            packs,
            state: RwLock::new(State {
                live,
                manifest,
                checkpointed,
            }),
            log,
            poisoned: Mutex::new(None),
            checkpoint_lock: Mutex::new(()),
            checkpointing: AtomicBool::new(false),
            epoch,
            checkpoints: AtomicU64::new(0),
            _lock: lock,
        });
        if let (Durability::Async { interval }, Some(_)) = (options.durability, &shared.log) {
            start_sync_timer(Arc::downgrade(&shared), interval);
        }
        Ok(Store {
            shared,
            background: Mutex::new(None),
        })
    }

    /// Sets `key` to `value`, acknowledged as the store's durability says.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_with(key, value, self.shared.options.durability)
    }

    /// [`put`](Store::put) acknowledged as `durability` says.
    pub fn put_with(&self, key: &[u8], value: &[u8], durability: Durability) -> Result<()> {
        check_entry(key, value)?;
        let op = LogOp::Put(key.to_vec(), value.to_vec());
        self.write(vec![op], durability).map(|_| ())
    }

    /// Removes `key`; returns whether it was present.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.delete_with(key, self.shared.options.durability)
    }

    /// [`delete`](Store::delete) acknowledged as `durability` says.
    pub fn delete_with(&self, key: &[u8], durability: Durability) -> Result<bool> {
        check_key(key)?;
        self.write(vec![LogOp::Delete(key.to_vec())], durability)
    }

    /// Removes every entry.
    pub fn clear(&self) -> Result<()> {
        self.write(vec![LogOp::Clear], self.shared.options.durability)
            .map(|_| ())
    }

    /// Applies `ops` atomically and logs them as one record; returns whether the first op
    /// changed something (what `delete` reports).
    fn write(&self, ops: Vec<LogOp>, durability: Durability) -> Result<bool> {
        let shared = &self.shared;
        let Some(log) = &shared.log else {
            return Err(Error::InvalidArgument(
                "the store is open read-only; open it without read_only to write".into(),
            ));
        };
        if let Some(cause) = shared.poisoned.lock().clone() {
            return Err(Error::Poisoned {
                cause: Box::new(cause),
            });
        }
        let record = LogRecord::Batch(ops);
        let (seq, changed) = {
            let mut state = shared.state.write();
            // Load the paths first, so a failed load changes nothing.
            let LogRecord::Batch(ops) = &record else {
                unreachable!()
            };
            for op in ops {
                if let LogOp::Put(key, _) | LogOp::Delete(key) = op {
                    state.live.load_path(key)?;
                }
            }
            let seq = log.push(&record)?;
            // The paths are loaded, so this cannot fail short of a bug; if it does, the log
            // and the tree disagree and the writer must stop.
            let changed = apply(&mut state.live, ops).inspect_err(|error| {
                *shared.poisoned.lock() = Some(error.clone());
            })?;
            (seq, changed)
        };
        log.commit(seq, durability)?;
        self.maybe_checkpoint(log);
        Ok(changed)
    }

    fn maybe_checkpoint(&self, log: &Log) {
        if log.wal_bytes() < self.shared.options.checkpoint_bytes
            || self.shared.checkpointing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let handle = std::thread::spawn(move || {
            // A failure poisons the writer; the next write reports it.
            let _ = shared.checkpoint();
            shared.checkpointing.store(false, Ordering::Release);
        });
        if let Some(previous) = self.background.lock().replace(handle) {
            let _ = previous.join();
        }
    }

    /// The value under `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let state = self.shared.state.read();
        Ok(state.live.try_get(key)?.map(<[u8]>::to_vec))
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.shared.state.read().live.len()
    }

    /// Whether the store has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the store was opened read-only.
    pub fn read_only(&self) -> bool {
        self.shared.log.is_none()
    }

    /// The current version, O(1): read it with the tree's `try_` methods (they load stored
    /// nodes and report a failed load as an error).
    pub fn view(&self) -> Tree {
        self.shared.state.read().live.clone()
    }

    /// The current version's Merkle root.
    pub fn root_hash(&self) -> Hash {
        self.shared.state.read().live.root_hash()
    }

    /// Makes every write so far durable.
    pub fn sync(&self) -> Result<()> {
        match &self.shared.log {
            Some(log) => log.sync(),
            None => Ok(()),
        }
    }

    /// Writes a checkpoint now (in the calling thread): new nodes into a new pack, a new
    /// manifest, and the WAL before it retired.
    pub fn checkpoint(&self) -> Result<()> {
        if self.shared.log.is_none() {
            return Err(Error::InvalidArgument(
                "a read-only store cannot checkpoint".into(),
            ));
        }
        self.shared.checkpoint()
    }

    /// For a read-only opener: moves to the newest committed state (newest manifest and WAL).
    pub fn refresh(&self) -> Result<()> {
        if self.shared.log.is_some() {
            return Ok(());
        }
        let (manifest, live) = read_state(&*self.shared.fs, &self.shared.packs)?;
        let mut state = self.shared.state.write();
        state.checkpointed = attach(&manifest, &self.shared.packs);
        state.live = live;
        state.manifest = manifest;
        Ok(())
    }

    /// Reads every pack the manifest in use names, whole, and checks it against the blake3 the
    /// manifest records; returns the number of packs checked. Node reads check each record
    /// they load against its parent's hash; this also finds damage in bytes no read reaches.
    pub fn verify_packs(&self) -> Result<u64> {
        let packs = self.shared.state.read().manifest.packs.clone();
        for info in &packs {
            let reader = self.shared.packs.readers.read().get(&info.id).cloned();
            let reader = reader
                .ok_or_else(|| Error::Corrupt(format!("pack {} is named but not open", info.id)))?;
            reader.verify()?;
        }
        Ok(packs.len() as u64)
    }

    /// What the store has done since it was opened, counted.
    pub fn counters(&self) -> StoreCounters {
        let log = self.shared.log.as_ref().map(Log::stats).unwrap_or_default();
        StoreCounters {
            wal_records: log.records,
            wal_bytes: log.bytes,
            wal_syncs: log.syncs,
            checkpoints: self.shared.checkpoints.load(Ordering::Relaxed),
            node_loads: self.shared.packs.loads.load(Ordering::Relaxed),
            manifest: self.shared.state.read().manifest.number,
            packs: self.shared.state.read().manifest.packs.len() as u64,
        }
    }
}

/// What a store has done, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounters {
    /// WAL records appended since opening.
    pub wal_records: u64,
    /// WAL bytes written since opening.
    pub wal_bytes: u64,
    /// `fdatasync` calls on WAL segments since opening.
    pub wal_syncs: u64,
    /// Checkpoints published since opening.
    pub checkpoints: u64,
    /// Node records read from packs since opening.
    pub node_loads: u64,
    /// The number of the manifest in use.
    pub manifest: u64,
    /// Packs the manifest names.
    pub packs: u64,
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(handle) = self.background.lock().take() {
            let _ = handle.join();
        }
    }
}

impl Shared {
    fn checkpoint(&self) -> Result<()> {
        let _one = self.checkpoint_lock.lock();
        let log = self.log.as_ref().expect("writers have a log");
        if let Some(cause) = self.poisoned.lock().clone() {
            return Err(Error::Poisoned {
                cause: Box::new(cause),
            });
        }
        // Pushes happen under the state's write lock: under the read lock, the tree and the
        // log's next sequence number agree.
        let (tree, wal_start, base, unchanged) = {
            let state = self.state.read();
            let next = log.next_seq();
            let unchanged =
                state.live.ptr_eq(&state.checkpointed) && next == state.manifest.wal_start;
            (state.live.clone(), next, state.manifest.clone(), unchanged)
        };
        if unchanged {
            return Ok(());
        }
        // The checkpoint's records must be durable before a manifest can point past them.
        log.sync()?;
        match self.write_checkpoint(&tree, wal_start, base) {
            Ok(manifest) => {
                let mut state = self.state.write();
                state.manifest = manifest;
                state.checkpointed = tree;
                drop(state);
                self.checkpoints.fetch_add(1, Ordering::Relaxed);
                log.retire(wal_start)
            }
            Err(error) => {
                *self.poisoned.lock() = Some(error.clone());
                Err(error)
            }
        }
    }

    fn write_checkpoint(&self, tree: &Tree, wal_start: u64, base: Manifest) -> Result<Manifest> {
        let fs = &*self.fs;
        let id = base.next_pack_id;
        let path = pack_path(id, 0);
        let file = fs
            .open(&path, OpenMode::CreateNew)
            .map_err(|e| Error::io(format!("create {path}"), &e))?;
        let header = PackHeader {
            id,
            generation: 0,
            epoch: self.epoch,
        };
        let mut writer = PackWriter::new(file, path.clone(), header);
        let root = tree.store_new_nodes(&mut |record| {
            Ok(Location {
                pack: id,
                ordinal: writer.add(record)?,
            })
        })?;
        let mut manifest = base;
        if writer.records() > 0 {
            let info = writer.finish()?;
            fs.sync_dir(PACK_DIR)
                .map_err(|e| Error::io(format!("fsync {PACK_DIR}"), &e))?;
            self.packs.add(info)?;
            manifest.packs.push(info);
            manifest.next_pack_id = id + 1;
        } else {
            drop(writer);
            fs.remove(&path)
                .map_err(|e| Error::io(format!("remove {path}"), &e))?;
        }
        manifest.number += 1;
        manifest.writer_epoch = self.epoch;
        manifest.wal_start = wal_start;
        manifest.root = root.map(|at| StoredRoot {
            pack: at.pack,
            ordinal: at.ordinal,
            hash: tree.root_hash(),
            len: tree.len(),
            key_bytes: tree.key_bytes(),
            value_bytes: tree.value_bytes(),
        });
        publish(fs, &manifest)?;
        Ok(manifest)
    }
}

/// The `async` mode's background sync: every `interval`, until the store is gone. A failed
/// sync poisons the log, which the next write reports.
fn start_sync_timer(shared: std::sync::Weak<Shared>, interval: std::time::Duration) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(interval);
            let Some(shared) = shared.upgrade() else {
                return;
            };
            if let Some(log) = &shared.log
                && log.sync().is_err()
            {
                return;
            }
        }
    });
}

/// Writes `manifest` create-only: temporary file, fdatasync, link to its number, directory
/// fsync.
fn publish(fs: &dyn FileSystem, manifest: &Manifest) -> Result<()> {
    let name = manifest_name(manifest.number);
    let tmp = format!("{MANIFEST_DIR}/{}.tmp", manifest.number);
    let path = format!("{MANIFEST_DIR}/{name}");
    let io = |what: &str, e: std::io::Error| Error::io(format!("{what} {path}"), &e);
    let file = fs
        .open(&tmp, OpenMode::CreateNew)
        .map_err(|e| io("create", e))?;
    file.write_all_at(&manifest.encode(), 0)
        .map_err(|e| io("write", e))?;
    file.sync_data().map_err(|e| io("fdatasync", e))?;
    fs.publish(&tmp, &path).map_err(|e| io("publish", e))?;
    fs.sync_dir(MANIFEST_DIR)
        .map_err(|e| io("fsync the directory of", e))
}

fn empty_manifest() -> Manifest {
    Manifest {
        number: 0,
        writer_epoch: 0,
        node_format: u32::from(NODE_FORMAT_VERSION),
        wal_format: WAL_VERSION,
        pack_format: PACK_VERSION,
        wal_start: 1,
        next_pack_id: 1,
        packs: Vec::new(),
        root: None,
        next_snapshot_id: 1,
        current_snapshot: None,
        retention: None,
        pending: 0,
        snapshots: Vec::new(),
    }
}

/// The newest manifest, if any. Manifests are synced before they are published under their
/// number, so the newest one failing to validate is damage: it is reported, never skipped
/// for an older state.
fn newest_manifest(fs: &dyn FileSystem) -> Result<Option<Manifest>> {
    let names = fs
        .list(MANIFEST_DIR)
        .map_err(|e| Error::io(format!("list {MANIFEST_DIR}"), &e))?;
    let Some(number) = names.iter().filter_map(|n| manifest_number(n)).max() else {
        return Ok(None);
    };
    let path = format!("{MANIFEST_DIR}/{}", manifest_name(number));
    let manifest = Manifest::decode(&read_file(fs, &path)?)
        .map_err(|e| Error::Corrupt(format!("{path}: {e}")))?;
    if manifest.number != number {
        return Err(Error::Corrupt(format!(
            "{path} holds manifest {}",
            manifest.number
        )));
    }
    if manifest.node_format != u32::from(NODE_FORMAT_VERSION)
        || manifest.wal_format != WAL_VERSION
        || manifest.pack_format != PACK_VERSION
    {
        return Err(Error::Corrupt(format!(
            "{path} names node, WAL or pack formats this build does not read (upgrade liblqft)"
        )));
    }
    Ok(Some(manifest))
}

fn read_file(fs: &dyn FileSystem, path: &str) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| Error::io(format!("read {path}"), &e);
    let file = fs.open(path, OpenMode::Read).map_err(io)?;
    let size = file.size().map_err(io)?;
    let mut bytes =
        vec![0; usize::try_from(size).map_err(|_| Error::Corrupt(format!("{path} is too large")))?];
    file.read_exact_at(&mut bytes, 0).map_err(io)?;
    Ok(bytes)
}

/// Removes packs no manifest names (from an interrupted checkpoint) and temporary manifests.
fn remove_debris(fs: &dyn FileSystem, manifest: &Manifest) -> Result<()> {
    let named: Vec<String> = manifest
        .packs
        .iter()
        .map(|p| pack_path(p.id, p.generation))
        .collect();
    let list = |dir: &str| {
        fs.list(dir)
            .map_err(|e| Error::io(format!("list {dir}"), &e))
    };
    for name in list(PACK_DIR)? {
        let path = format!("{PACK_DIR}/{name}");
        if !named.contains(&path) {
            fs.remove(&path)
                .map_err(|e| Error::io(format!("remove {path}"), &e))?;
        }
    }
    for name in list(MANIFEST_DIR)? {
        if name.ends_with(".tmp") {
            let path = format!("{MANIFEST_DIR}/{name}");
            fs.remove(&path)
                .map_err(|e| Error::io(format!("remove {path}"), &e))?;
        }
    }
    Ok(())
}

/// The manifest's live version, unloaded.
fn attach(manifest: &Manifest, packs: &Arc<Packs>) -> Tree {
    match &manifest.root {
        None => Tree::new(),
        Some(root) => Tree::from_stored(
            Location {
                pack: root.pack,
                ordinal: root.ordinal,
            },
            root.hash,
            root.len,
            root.key_bytes,
            root.value_bytes,
            Arc::clone(packs) as Arc<dyn NodeSource>,
        ),
    }
}

/// The committed state for a read-only opener: newest manifest plus the WAL after it. Retries
/// when a checkpoint retired the WAL it was about to read.
fn read_state(fs: &dyn FileSystem, packs: &Arc<Packs>) -> Result<(Manifest, Tree)> {
    let mut attempt = 0;
    loop {
        let manifest = newest_manifest(fs)?.unwrap_or_else(empty_manifest);
        let result = (|| {
            for info in &manifest.packs {
                packs.add(*info)?;
            }
            let tail = read_tail(fs, manifest.wal_start)?;
            let mut live = attach(&manifest, packs);
            for (seq, record) in &tail.records {
                replay(&mut live, *seq, record)?;
            }
            Ok(live)
        })();
        match result {
            Ok(live) => return Ok((manifest, live)),
            Err(_) if attempt < 3 => attempt += 1,
            Err(error) => return Err(error),
        }
    }
}

fn replay(live: &mut Tree, seq: u64, record: &LogRecord) -> Result<()> {
    match record {
        LogRecord::Batch(ops) => apply(live, ops).map(|_| ()),
        other => Err(Error::Corrupt(format!(
            "WAL record {seq} is a {:?} record, which this store does not write",
            other.kind()
        ))),
    }
}

/// Applies `ops` to `live`; returns whether the first op changed something.
fn apply(live: &mut Tree, ops: &[LogOp]) -> Result<bool> {
    let mut first = None;
    for op in ops {
        let changed = match op {
            LogOp::Put(key, value) => {
                live.try_insert(key, value)?;
                true
            }
            LogOp::Delete(key) => live.try_remove(key)?,
            LogOp::Clear => {
                let had = !live.is_empty();
                live.clear();
                had
            }
        };
        first.get_or_insert(changed);
    }
    Ok(first.unwrap_or(false))
}
