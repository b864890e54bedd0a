//! [`Store`]: a durable, versioned key-value store in a directory.
//!
//! One writer per directory (an exclusive lock on `LOCK`; a second writer fails at once with
//! [`Error::Locked`]), any number of read-only openers in other processes. Writes go to the
//! live tree and to the WAL; a checkpoint writes the nodes no pack holds yet into a new pack and
//! publishes a manifest naming it, after which the WAL before it is retired. Opening reads the
//! newest valid manifest, attaches its root unloaded ([`Tree::from_stored`], O(1)) and replays
//! the WAL after it, so the cost of opening does not grow with the store's size.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;

use parking_lot::{Mutex, RwLock};

use crate::engine::journal::{Change, Journal, MapImage, Ticket};
use crate::error::{Error, Result};
use crate::tree::{Hash, Location, NodeSource, STORED_NODE_FORMAT_VERSION, Tree};
use crate::{Map, SnapshotMeta};

use super::backup::{BackupReport, back_up};
use super::changes::{encode_change, replay};
use super::fs::{FileSystem, FsLock, OpenMode, RealFs};
use super::log::{Durability, Log, LogOptions, read_tail};
use super::manifest::{self, Manifest, StoredRoot, StoredSnapshot, manifest_name, manifest_number};
use super::open_packs::OpenPacks;
use super::pack::{PACK_VERSION, PackHeader, PackInfo, PackReader, PackWriter};
use super::wal::WAL_VERSION;

pub(super) const MANIFEST_DIR: &str = "manifest";
pub(super) const PACK_DIR: &str = "packs";
pub(super) const LOCK_FILE: &str = "LOCK";
/// [`StoreOptions::cache_bytes`]' default.
pub const DEFAULT_CACHE_BYTES: u64 = 256 << 20;

/// How a store is opened.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// When writes are acknowledged (each write may ask for another mode).
    pub durability: Durability,
    /// WAL bytes after which a checkpoint starts in the background (default 64 MiB): the
    /// records no manifest covers yet, those found past the manifest's WAL start at open
    /// included.
    pub checkpoint_bytes: u64,
    /// Open without the writer lock: reads only, [`Store::refresh`] moves forward.
    pub read_only: bool,
    /// Size of a WAL segment.
    pub segment_bytes: u64,
    /// The bound on the memory of stored nodes, in record bytes (default 256 MiB; at least 1,
    /// 0 is refused at open). When the records loaded from packs and written by checkpoints
    /// since the last trim pass it, a background thread trims: it attaches the live state and
    /// every registered snapshot again with everything below the top
    /// [`cache_pinned_levels`](StoreOptions::cache_pinned_levels) levels unloaded, freeing what
    /// no other holder shares. Not bounded by it: nodes written since the last checkpoint (they
    /// have no location yet; bounded by `checkpoint_bytes`), the pinned top levels, and what
    /// versions a caller holds (snapshot handles, pins, views, iterators) loaded — they keep it
    /// until they are dropped.
    pub cache_bytes: u64,
    /// Levels from the root down (the root included) that a trim keeps loaded (default 3, a
    /// few hundred branches): every read passes through them, so they would be loaded again
    /// at once. Chosen by `cargo bench --bench cache` (`docs/BENCHMARKS.md`): 3 loads the
    /// fewest nodes per get at every cache size measured.
    pub cache_pinned_levels: usize,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            durability: Durability::Sync,
            checkpoint_bytes: 64 << 20,
            read_only: false,
            segment_bytes: LogOptions::default().segment_bytes,
            cache_bytes: DEFAULT_CACHE_BYTES,
            cache_pinned_levels: 3,
        }
    }
}

/// Packs open at once. A read of another pack opens it (checking its footer against the
/// manifest) and closes the least recently used ([`OpenPacks`]), so a store of any number of
/// packs stays within the common limit of 1,024 open files, and an open reads no pack.
const OPEN_PACKS: usize = 128;

/// The store's packs, as the tree's node source, and the bound on the memory of the nodes read
/// from them.
struct Packs {
    fs: Arc<dyn FileSystem>,
    /// Every pack a manifest of this store named, by id.
    named: RwLock<HashMap<u32, PackInfo>>,
    open: RwLock<OpenPacks<PackReader>>,
    loads: AtomicU64,
    /// Pack files opened for reading.
    opens: AtomicU64,
    cache: Cache,
    /// These packs, for the trims they start (weak: the store owns them).
    me: Weak<Packs>,
}

/// The bound of [`StoreOptions::cache_bytes`]: record bytes counted as they are loaded or
/// checkpointed, and a trim in a thread of its own when they pass the bound. A trim never runs
/// inside a read (the read holds the reader lock the trim's swap waits for): the read that
/// passes the bound only starts it.
struct Cache {
    limit: u64,
    pinned_levels: usize,
    /// Record bytes loaded from packs or written by checkpoints since the last trim began.
    bytes: AtomicU64,
    trims: AtomicU64,
    /// A trim is running (at most one at a time).
    trimming: AtomicBool,
    /// The map whose versions a trim attaches again (weak: the map owns the journal that owns
    /// these packs); set once the store is open.
    map: OnceLock<Weak<Map>>,
    /// Held by a trim, and by a checkpoint from its first node written until its pack is open
    /// for reading: nodes get their locations as they are written, and a trim that unloaded
    /// one before its pack is open would leave a reference no read can follow.
    gate: Mutex<()>,
    /// Set under `gate` while a checkpoint writes nodes, cleared once its pack is open: a
    /// checkpoint that fails in between leaves nodes naming a pack that will never open, so
    /// trims stop for good (the writer is poisoned; reads go on).
    unsafe_locations: AtomicBool,
    /// The newest trim's thread, joined when the store is dropped.
    thread: Mutex<Option<JoinHandle<()>>>,
}

pub(super) fn pack_path(id: u32, generation: u32) -> String {
    format!("{PACK_DIR}/{id:010}.{generation}.pack")
}

impl Packs {
    /// Counts `bytes` of stored nodes now in memory, and starts a trim when they pass the
    /// bound and no trim runs.
    fn count(&self, bytes: u64) {
        let cache = &self.cache;
        let total = cache.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total <= cache.limit || cache.trimming.swap(true, Ordering::AcqRel) {
            return;
        }
        let map = cache.map.get().and_then(Weak::upgrade);
        let (Some(map), Some(me)) = (map, self.me.upgrade()) else {
            // The store is opening (replaying its WAL) or closing: the next read tries again.
            cache.trimming.store(false, Ordering::Release);
            return;
        };
        let thread = std::thread::spawn(move || {
            let cache = &me.cache;
            let trimmed = cache.bytes.load(Ordering::Relaxed);
            let source = Arc::clone(&me) as Arc<dyn NodeSource>;
            let gate = cache.gate.lock();
            if !cache.unsafe_locations.load(Ordering::Acquire) {
                map.unload_stored(cache.pinned_levels, &source);
                // Bytes loaded during the trim stay counted: it may not have seen them.
                cache.bytes.fetch_sub(trimmed, Ordering::Relaxed);
                cache.trims.fetch_add(1, Ordering::Relaxed);
            }
            drop(gate);
            // The map goes first, so a store whose last handle this was closes before the
            // next trim can start.
            drop((map, source));
            cache.trimming.store(false, Ordering::Release);
        });
        // The thread replaced (if any) has finished its trim: it is detached.
        *cache.thread.lock() = Some(thread);
    }

    /// Names a pack of this store (a pack is opened when it is first read).
    fn add(&self, info: PackInfo) {
        self.named.write().entry(info.id).or_insert(info);
    }

    /// The reader of pack `id`, opened if it is not open.
    fn reader(&self, id: u32) -> Result<Arc<PackReader>> {
        if let Some(reader) = self.open.read().get(id) {
            return Ok(reader);
        }
        let info = self.named.read().get(&id).copied().ok_or_else(|| {
            Error::Corrupt(format!(
                "a node names pack {id}, which the store does not have"
            ))
        })?;
        let path = pack_path(info.id, info.generation);
        let file = self
            .fs
            .open(&path, OpenMode::Read)
            .map_err(|e| Error::io(format!("open {path}"), &e))?;
        let reader = Arc::new(PackReader::open(file, path, info)?);
        self.opens.fetch_add(1, Ordering::Relaxed);
        Ok(self.open.write().insert(id, reader))
    }
}

impl NodeSource for Packs {
    fn read(&self, at: Location) -> Result<Vec<u8>> {
        let reader = self.reader(at.pack)?;
        self.loads.fetch_add(1, Ordering::Relaxed);
        let record = reader.read(at.ordinal)?;
        self.count(record.len() as u64);
        Ok(record)
    }
}

/// The parts of an open store that its map's journal and its checkpoints share.
struct Core {
    fs: Arc<dyn FileSystem>,
    options: StoreOptions,
    packs: Arc<Packs>,
    /// The newest manifest (published by this writer, or read by this reader).
    manifest: Mutex<Manifest>,
    /// `None` for a read-only opener.
    log: Option<Log>,
    /// The first failure of a checkpoint (the log keeps its own).
    poisoned: Mutex<Option<Error>>,
    checkpoint_lock: Mutex<()>,
    checkpointing: AtomicBool,
    background: Mutex<Option<JoinHandle<()>>>,
    epoch: u64,
    checkpoints: AtomicU64,
    /// Set by [`Store::close`]: writes are refused from then on.
    closed: AtomicBool,
    /// The writer's lock on the directory (`None` for a read-only opener), released when the
    /// map's last handle goes.
    lock: Mutex<Option<Box<dyn FsLock>>>,
}

thread_local! {
    /// The durability [`Store::put_with`] and [`Store::delete_with`] ask for, read by the
    /// journal's commit in the same thread.
    static DURABILITY: Cell<Option<Durability>> = const { Cell::new(None) };
}

/// The store-backed map's journal: its changes go to the WAL.
struct StoreJournal {
    core: Arc<Core>,
    /// The map, for checkpoints the journal starts (weak: the map owns the journal).
    map: OnceLock<Weak<Map>>,
}

impl Journal for StoreJournal {
    fn append(&self, change: &Change<'_>) -> Result<Ticket> {
        let core = &self.core;
        let Some(log) = &core.log else {
            return Err(Error::InvalidArgument(
                "the store is open read-only; open it without read_only to write".into(),
            ));
        };
        core.check_open()?;
        if let Some(cause) = core.poisoned.lock().clone() {
            return Err(Error::Poisoned {
                cause: Box::new(cause),
            });
        }
        let (kind, payload) = encode_change(change)?;
        log.push_encoded(kind, &payload).map(Ticket)
    }

    fn commit(&self, ticket: Ticket) -> Result<()> {
        let core = &self.core;
        let log = core.log.as_ref().expect("only writers append");
        let durability = DURABILITY
            .with(Cell::get)
            .unwrap_or(core.options.durability);
        log.commit(ticket.0, durability)?;
        if log.wal_bytes() >= core.options.checkpoint_bytes
            && !core.checkpointing.swap(true, Ordering::AcqRel)
            && let Some(map) = self.map.get().and_then(Weak::upgrade)
        {
            let background = Arc::clone(core);
            let handle = std::thread::spawn(move || {
                // A failure poisons the writer; the next write reports it.
                let _ = background.checkpoint(&map);
                background.checkpointing.store(false, Ordering::Release);
            });
            if let Some(previous) = core.background.lock().replace(handle) {
                let _ = previous.join();
            }
        }
        Ok(())
    }

    fn map_dropped(&self, map: &Map) {
        // A failure leaves the WAL as it is: the next open replays it.
        let _ = self.core.checkpoint_at_close(map);
        // The last handle is gone: nothing writes to the store from here on (the sync timer
        // stops at its next tick, seeing the lock gone), so the lock goes now, in the thread
        // that dropped the handle. A background thread still holding the core (the timer,
        // between its upgrade and its sync) would otherwise keep it until it lets go, and a
        // reopen right after the drop would find the store locked.
        self.core.lock.lock().take();
    }

    fn stats(&self) -> serde_json::Value {
        let mut stats = super::stats::counters_json(&self.core.counters());
        stats["read_only"] = self.core.log.is_none().into();
        stats
    }
}

/// A durable store; see the module docs. All methods take `&self` and the store can be shared
/// between threads.
///
/// The store's data is a [`Map`] ([`Store::map`]) whose every change is logged before it is
/// applied: every `Map` feature works on it and survives reopening — puts, deletes, batches,
/// transactions, compare-and-swap, snapshots with their metadata, the registry, retention,
/// rollbacks, compaction and imports. Pins ([`Map::pin`]) are read sessions of this process
/// and are not persisted. Reads of stored versions load nodes: use the map's `try_` methods,
/// which report a failed load as an error.
pub struct Store {
    core: Arc<Core>,
    map: Arc<Map>,
}

impl Store {
    /// Opens (creating if needed, unless read-only) the store in the directory `dir`.
    pub fn open(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let dir = dir.as_ref();
        if !options.read_only {
            create_dir_durably(dir, "")?;
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
        if options.cache_bytes == 0 {
            return Err(Error::InvalidArgument(
                "StoreOptions::cache_bytes is 0: the node cache needs at least 1 byte \
                 (the default is 256 MiB)"
                    .into(),
            ));
        }
        let packs = Arc::new_cyclic(|me| Packs {
            fs: Arc::clone(&fs),
            named: RwLock::new(HashMap::new()),
            open: RwLock::new(OpenPacks::new(OPEN_PACKS)),
            opens: AtomicU64::new(0),
            loads: AtomicU64::new(0),
            cache: Cache {
                limit: options.cache_bytes,
                pinned_levels: options.cache_pinned_levels,
                bytes: AtomicU64::new(0),
                trims: AtomicU64::new(0),
                trimming: AtomicBool::new(false),
                map: OnceLock::new(),
                gate: Mutex::new(()),
                unsafe_locations: AtomicBool::new(false),
                thread: Mutex::new(None),
            },
            me: me.clone(),
        });
        let (manifest, map, log) = if options.read_only {
            let (manifest, map) = read_state(&*fs, &packs)?;
            (manifest, map, None)
        } else {
            let manifest = newest_manifest(&*fs)?.unwrap_or_else(empty_manifest);
            remove_debris(&*fs, &manifest)?;
            for info in &manifest.packs {
                packs.add(*info);
            }
            let log_options = LogOptions {
                segment_bytes: options.segment_bytes,
            };
            let (log, records) = Log::open(Arc::clone(&fs), manifest.wal_start, log_options)?;
            let map = attach(&manifest, &packs)?;
            for (seq, record) in &records {
                replay(&map, *seq, record)?;
            }
            (manifest, map, Some(log))
        };
        let epoch = manifest.writer_epoch + 1;
        let core = Arc::new(Core {
            fs,
            options,
            packs,
            manifest: Mutex::new(manifest),
            log,
            poisoned: Mutex::new(None),
            checkpoint_lock: Mutex::new(()),
            checkpointing: AtomicBool::new(false),
            background: Mutex::new(None),
            epoch,
            checkpoints: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            lock: Mutex::new(lock),
        });
        if let (Durability::Async { interval }, Some(_)) = (options.durability, &core.log) {
            start_sync_timer(Arc::downgrade(&core), interval);
        }
        let journal = Arc::new(StoreJournal {
            core: Arc::clone(&core),
            map: OnceLock::new(),
        });
        let mut map = map;
        map.set_journal(Arc::clone(&journal) as Arc<dyn Journal>);
        let map = Arc::new(map);
        let _ = journal.map.set(Arc::downgrade(&map));
        let _ = core.packs.cache.map.set(Arc::downgrade(&map));
        Ok(Store { core, map })
    }

    /// The store's data as a [`Map`]: every change through it is logged and acknowledged as
    /// the store's durability says, and survives reopening. Use its `try_` methods (reads
    /// that may load report a failed load; writes that return no `Result` have `try_` forms
    /// that report a failed log write or sync). The handle keeps the store open (its lock
    /// held) for as long as it lives, even after the `Store` is dropped.
    pub fn map(&self) -> &Arc<Map> {
        &self.map
    }

    /// Sets `key` to `value`, acknowledged as the store's durability says.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.map.put(key, value)
    }

    /// [`put`](Store::put) acknowledged as `durability` says.
    pub fn put_with(&self, key: &[u8], value: &[u8], durability: Durability) -> Result<()> {
        with_durability(durability, || self.map.put(key, value))
    }

    /// Removes `key`; returns whether it was present.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.map.delete(key)
    }

    /// [`delete`](Store::delete) acknowledged as `durability` says.
    pub fn delete_with(&self, key: &[u8], durability: Durability) -> Result<bool> {
        with_durability(durability, || self.map.delete(key))
    }

    /// Removes every entry.
    pub fn clear(&self) -> Result<()> {
        self.map.try_clear().map(drop)
    }

    /// The value under `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.try_get(key)?.map(|v| v.to_vec()))
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.map.len()
    }

    /// Whether the store has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the store was opened read-only.
    pub fn read_only(&self) -> bool {
        self.core.log.is_none()
    }

    /// The current version, O(1): read it with the tree's `try_` methods (they load stored
    /// nodes and report a failed load as an error).
    pub fn view(&self) -> Tree {
        self.map.view()
    }

    /// The current version's Merkle root.
    pub fn root_hash(&self) -> Hash {
        self.map.read_with(Tree::root_hash)
    }

    /// Makes every write so far durable.
    pub fn sync(&self) -> Result<()> {
        match &self.core.log {
            Some(log) => log.sync(),
            None => Ok(()),
        }
    }

    /// Writes a checkpoint now (in the calling thread): the nodes of the live state and of
    /// every registered snapshot that no pack holds yet into a new pack, a new manifest
    /// listing them, and the WAL before it retired. When nothing was logged since the last
    /// manifest, no pack or manifest is written. When nothing was logged while it ran, the WAL
    /// moves to a fresh segment and every older segment is retired.
    pub fn checkpoint(&self) -> Result<()> {
        if self.core.log.is_none() {
            return Err(Error::InvalidArgument(
                "a read-only store cannot checkpoint".into(),
            ));
        }
        self.core.check_open()?;
        self.core.checkpoint(&self.map)
    }

    /// Bulk load: sets every key of `entries` to its value (a key given twice takes its last
    /// value) as one atomic change, made durable by a checkpoint instead of the WAL; returns
    /// the number of entries that changed. The fastest way to put many entries into a store.
    ///
    /// Under the map's writer lock for its whole duration, it applies the entries (sorted by
    /// key) to a copy of the live state, syncs the WAL (so every write applied before is
    /// durable), writes the new nodes of the live state and of every registered snapshot into
    /// a new pack, syncs it and publishes a manifest naming it whose WAL start is the log's
    /// position: acknowledged once that manifest is durable, whatever the store's durability.
    /// No other write is applied or acknowledged in between, so after a crash the store holds
    /// the state before the load or the state after it. Readers see the state before until the
    /// manifest is published. Then the WAL segments the manifest covers are retired. A load
    /// that changes nothing writes nothing.
    ///
    /// Fails, changing nothing in memory, with [`Error::KeyTooLong`] or
    /// [`Error::ValueTooLong`] when an entry is past the limits, with
    /// [`Error::InvalidArgument`] when the store is read-only or closed, with the error of a
    /// failed load of a stored node, or with [`Error::Poisoned`] on a poisoned writer. A failed
    /// write or sync of the pack or manifest poisons the writer (later writes fail with
    /// [`Error::Poisoned`]; reopening recovers the state before the load with every write
    /// acknowledged before it). One error comes after the load is durable and applied: a failed
    /// fsync of the WAL directory after removing the segments the new manifest covers, which
    /// poisons the writer too.
    pub fn load<'e>(&self, entries: impl IntoIterator<Item = (&'e [u8], &'e [u8])>) -> Result<u64> {
        let core = &*self.core;
        let Some(log) = &core.log else {
            return Err(Error::InvalidArgument(
                "the store is open read-only; open it without read_only to load".into(),
            ));
        };
        core.check_open()?;
        // One checkpoint or load at a time; then the node cache's gate, before the writer
        // lock (a trim holds the gate while it takes the writer lock).
        let _one = core.checkpoint_lock.lock();
        if let Some(cause) = core.poisoned.lock().clone().or_else(|| log.poisoned()) {
            return Err(Error::Poisoned {
                cause: Box::new(cause),
            });
        }
        let gate = core.packs.cache.gate.lock();
        let mut wal_start = None;
        let changed = self.map.load_with(entries, |image| {
            // Under the writer lock: every record before this position is a write the image
            // holds, and none comes after it until the load is published.
            let start = log.mark();
            // Writes applied before the load (some may still wait for their group commit)
            // must be durable before a manifest covers them.
            log.sync()?;
            let base = core.manifest.lock().clone();
            match core.write_checkpoint(image, start.seq, base, gate) {
                Ok(manifest) => {
                    *core.manifest.lock() = manifest;
                    core.checkpoints.fetch_add(1, Ordering::Relaxed);
                    wal_start = Some(start);
                    Ok(())
                }
                Err(error) => {
                    *core.poisoned.lock() = Some(error.clone());
                    Err(error)
                }
            }
        })?;
        match wal_start {
            Some(start) => log.retire(start).map(|()| changed),
            None => Ok(changed),
        }
    }

    /// Closes the store for writing: every later write through it or its [`map`](Store::map)
    /// and every later [`checkpoint`](Store::checkpoint) fails with [`Error::InvalidArgument`],
    /// and a running background checkpoint is waited for. Reads go on: the map and its
    /// snapshots stay readable. Writes acknowledged before keep the durability they were
    /// acknowledged with ([`sync`](Store::sync) first makes them all durable). The writer lock
    /// is held until the last handle on the map is dropped too, so a write that raced with
    /// `close` still lands in a WAL no other writer touches.
    ///
    /// A writer then checkpoints when the WAL holds changes no manifest covers, and moves the
    /// WAL to a fresh segment, retiring the old ones: the next open attaches the manifest's
    /// versions and has no log to replay. Dropping the last handle on the store (the `Store`
    /// and every [`map`](Store::map) handle) does the same. An error here (a failed checkpoint
    /// poisons the writer) loses nothing: the WAL keeps every write and the next open replays
    /// it.
    pub fn close(&self) -> Result<()> {
        self.core.closed.store(true, Ordering::Release);
        if let Some(handle) = self.core.background.lock().take() {
            let _ = handle.join();
        }
        self.core.checkpoint_at_close(&self.map)
    }

    /// For a read-only opener: moves to the newest committed state (newest manifest and WAL).
    /// Snapshot handles taken before stay readable.
    pub fn refresh(&self) -> Result<()> {
        if self.core.log.is_some() {
            return Ok(());
        }
        let (manifest, fresh) = read_state(&*self.core.fs, &self.core.packs)?;
        self.map.restore(fresh.image())?;
        *self.core.manifest.lock() = manifest;
        Ok(())
    }

    /// Reads every pack the manifest in use names, whole, and checks it against the blake3 the
    /// manifest records; returns the number of packs checked. Node reads check each record
    /// they load against its parent's hash; this also finds damage in bytes no read reaches.
    pub fn verify_packs(&self) -> Result<u64> {
        let packs = self.core.manifest.lock().packs.clone();
        for info in &packs {
            self.core.packs.reader(info.id)?.verify()?;
        }
        Ok(packs.len() as u64)
    }

    /// Backs the store up into the directory `dest` (created if needed), which is then a store
    /// of its own: open it to read or to go on from the backup, or back it up in turn to
    /// restore it elsewhere.
    ///
    /// A writer checkpoints first, so the backup holds every write acknowledged before the
    /// call; a read-only opener backs up the newest manifest it has read ([`refresh`] first),
    /// without the WAL records after it. Then the packs that manifest names that `dest` lacks
    /// are copied, each checked against its blake3 as it is read (a damaged pack fails the
    /// backup instead of spreading), synced under a temporary name and published under its
    /// own, and the manifest last. Packs never change, so a backup into an earlier backup of
    /// this store copies only the packs written since, and writes go on during a backup. An
    /// interrupted backup (a crash, an error) leaves `dest` at the state it held, or at the
    /// new one when it stopped while publishing the manifest — never anything else; the next
    /// backup or open removes what it left.
    ///
    /// `dest` must be an empty directory or an earlier backup of this store. Fails with
    /// [`Error::Locked`] when a writer has `dest` open or another backup into it runs, with
    /// [`Error::InvalidArgument`] when `dest` has a WAL (a store that was opened to write: its
    /// records would replay over the backup) or holds a backup of another store or of a later
    /// state of this one (its manifest names a pack this store's does not), with the error of
    /// the checkpoint (a closed or poisoned writer), or with [`Error::Io`] or
    /// [`Error::Corrupt`] of a failed read or write.
    ///
    /// [`refresh`]: Store::refresh
    pub fn backup(&self, dest: impl AsRef<Path>) -> Result<BackupReport> {
        let dest = dest.as_ref();
        create_dir_durably(dest, "backup: ")?;
        self.backup_to(&RealFs::new(dest))
    }

    /// [`backup`](Store::backup) into the store directory `dest` holds (the real file system,
    /// or a simulated one in tests).
    pub fn backup_to(&self, dest: &dyn FileSystem) -> Result<BackupReport> {
        if self.core.log.is_some() {
            self.checkpoint()?;
        }
        let manifest = self.core.manifest.lock().clone();
        back_up(&manifest, |id| self.core.packs.reader(id), dest)
    }

    /// What the store has done since it was opened, counted.
    pub fn counters(&self) -> StoreCounters {
        self.core.counters()
    }
}

/// Creates `dir` (and its missing parents) if it does not exist, and then fsyncs its parent,
/// so that the name survives power loss as the files written into it will. `what` prefixes
/// the error's context.
fn create_dir_durably(dir: &Path, what: &str) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("{what}create {}", dir.display()), &e))?;
    let parent = match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    RealFs::new(parent)
        .sync_dir("")
        .map_err(|e| Error::io(format!("{what}fsync {}", parent.display()), &e))
}

fn with_durability<R>(durability: Durability, write: impl FnOnce() -> R) -> R {
    let previous = DURABILITY.with(|d| d.replace(Some(durability)));
    let result = write();
    DURABILITY.with(|d| d.set(previous));
    result
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
    /// Pack files opened for reading since opening: a pack opens on its first read, and again
    /// after it was closed to keep at most 128 open (the least recently used is closed).
    pub pack_opens: u64,
    /// The number of the manifest in use.
    pub manifest: u64,
    /// Packs the manifest names.
    pub packs: u64,
    /// The node cache's bound in force ([`StoreOptions::cache_bytes`]).
    pub cache_bytes: u64,
    /// Record bytes of stored nodes loaded from packs or written by checkpoints since the
    /// last trim began: the node cache's fill, which a trim brings back under `cache_bytes`.
    pub cache_bytes_in_use: u64,
    /// Trims of the node cache since opening.
    pub cache_trims: u64,
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(handle) = self.core.background.lock().take() {
            let _ = handle.join();
        }
        let trim = self.core.packs.cache.thread.lock().take();
        if let Some(handle) = trim {
            let _ = handle.join();
        }
    }
}

impl Core {
    /// Fails once [`Store::close`] has been called.
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::InvalidArgument(
                "the store is closed (Store::close, lqft_store_close): open it again to write"
                    .into(),
            ));
        }
        Ok(())
    }

    fn counters(&self) -> StoreCounters {
        let log = self.log.as_ref().map(Log::stats).unwrap_or_default();
        let manifest = self.manifest.lock();
        StoreCounters {
            wal_records: log.records,
            wal_bytes: log.bytes,
            wal_syncs: log.syncs,
            checkpoints: self.checkpoints.load(Ordering::Relaxed),
            node_loads: self.packs.loads.load(Ordering::Relaxed),
            pack_opens: self.packs.opens.load(Ordering::Relaxed),
            manifest: manifest.number,
            packs: manifest.packs.len() as u64,
            cache_bytes: self.packs.cache.limit,
            cache_bytes_in_use: self.packs.cache.bytes.load(Ordering::Relaxed),
            cache_trims: self.packs.cache.trims.load(Ordering::Relaxed),
        }
    }

    /// The checkpoint of a clean close ([`Store::close`], the map's last handle dropped).
    fn checkpoint_at_close(&self, map: &Map) -> Result<()> {
        match self.log {
            Some(_) => self.checkpoint(map),
            None => Ok(()),
        }
    }

    fn checkpoint(&self, map: &Map) -> Result<()> {
        let _one = self.checkpoint_lock.lock();
        let log = self.log.as_ref().expect("writers have a log");
        if let Some(cause) = self.poisoned.lock().clone() {
            return Err(Error::Poisoned {
                cause: Box::new(cause),
            });
        }
        // The journal pushes under the map's writer lock, so under it the image and the
        // log's next sequence number agree.
        let (image, mark) = map.image_with(|| log.mark());
        let wal_start = mark.seq;
        let base = self.manifest.lock().clone();
        // When nothing was logged since the manifest, it holds this state already.
        if wal_start != base.wal_start {
            // The checkpoint's records must be durable before a manifest can point past them.
            log.sync()?;
            let gate = self.packs.cache.gate.lock();
            match self.write_checkpoint(&image, wal_start, base, gate) {
                Ok(manifest) => {
                    *self.manifest.lock() = manifest;
                    self.checkpoints.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    *self.poisoned.lock() = Some(error.clone());
                    return Err(error);
                }
            }
        }
        // The manifest covers every record before `wal_start`. When nothing was logged after
        // it, the WAL moves to a fresh segment, so that retiring removes every older one: an
        // idle store (one closing, say) keeps a WAL of one segment header, and the next open
        // replays nothing. A record logged meanwhile keeps its segment (it is not before
        // `wal_start`).
        if log.next_seq() == wal_start {
            log.roll()?;
        }
        log.retire(mark)
    }

    /// Writes the nodes of `image` no pack holds into a new pack and publishes the manifest of
    /// `image` with `wal_start`, on top of `base`. `gate` is the node cache's gate, held by the
    /// caller (a load takes it before the map's writer lock, as a trim does).
    fn write_checkpoint(
        &self,
        image: &MapImage,
        wal_start: u64,
        base: Manifest,
        gate: parking_lot::MutexGuard<'_, ()>,
    ) -> Result<Manifest> {
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
        self.packs
            .cache
            .unsafe_locations
            .store(true, Ordering::Release);
        let mut written = 0u64;
        let mut store = |tree: &Tree| -> Result<Option<StoredRoot>> {
            let root = tree.store_new_nodes(&mut |record| {
                written += record.len() as u64;
                Ok(Location {
                    pack: id,
                    ordinal: writer.add(record)?,
                })
            })?;
            Ok(root.map(|at| StoredRoot {
                pack: at.pack,
                ordinal: at.ordinal,
                hash: tree.root_hash(),
                len: tree.len(),
                key_bytes: tree.key_bytes(),
                value_bytes: tree.value_bytes(),
            }))
        };
        let root = store(&image.live)?;
        let mut snapshots = Vec::with_capacity(image.snapshots.len());
        for (meta, tree) in &image.snapshots {
            snapshots.push(StoredSnapshot {
                id: meta.id,
                generation: meta.generation,
                parent_id: meta.parent_id,
                created_at_ns: meta.created_at_ns,
                mutation_count: meta.mutation_count,
                delta_size: meta.delta_size,
                root: store(tree)?,
            });
        }
        let mut manifest = base;
        if writer.records() > 0 {
            let info = writer.finish()?;
            fs.sync_dir(PACK_DIR)
                .map_err(|e| Error::io(format!("fsync {PACK_DIR}"), &e))?;
            self.packs.add(info);
            self.packs
                .cache
                .unsafe_locations
                .store(false, Ordering::Release);
            drop(gate);
            self.packs.count(written);
            manifest.packs.push(info);
            manifest.next_pack_id = id + 1;
        } else {
            // No node was written: no location names the pack.
            self.packs
                .cache
                .unsafe_locations
                .store(false, Ordering::Release);
            drop(gate);
            drop(writer);
            fs.remove(&path)
                .map_err(|e| Error::io(format!("remove {path}"), &e))?;
        }
        manifest.number += 1;
        manifest.writer_epoch = self.epoch;
        manifest.wal_start = wal_start;
        manifest.root = root;
        manifest.next_snapshot_id = image.next_id;
        manifest.current_snapshot = image.current;
        manifest.retention = image.retention;
        manifest.pending = image.pending;
        manifest.snapshots = snapshots;
        publish(fs, &manifest)?;
        Ok(manifest)
    }
}

/// The `async` mode's background sync: every `interval`, until the store is gone. A failed
/// sync poisons the log, which the next write reports.
fn start_sync_timer(core: Weak<Core>, interval: std::time::Duration) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(interval);
            let Some(core) = core.upgrade() else {
                return;
            };
            // The map's last handle went (and with it the lock): nothing is left to sync.
            if core.lock.lock().is_none() {
                return;
            }
            if let Some(log) = &core.log
                && log.sync().is_err()
            {
                return;
            }
        }
    });
}

/// Writes `manifest` create-only: temporary file, fdatasync, link to its number, directory
/// fsync.
pub(super) fn publish(fs: &dyn FileSystem, manifest: &Manifest) -> Result<()> {
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
        .map_err(|e| io("fsync the directory of", e))?;
    remove_older_manifests(fs, manifest.number);
    Ok(())
}

/// Removes the manifests numbered below `newest`, which is durable: an open reads only the
/// newest manifest, and a reader that listed one of these just before they went lists again
/// ([`newest_manifest`]). A failed listing or removal costs only space, and the next
/// publication or writer open retries it; a removal lost to a crash, the same.
fn remove_older_manifests(fs: &dyn FileSystem, newest: u64) {
    let Ok(names) = fs.list(MANIFEST_DIR) else {
        return;
    };
    for name in names {
        if manifest_number(&name).is_some_and(|number| number < newest) {
            let _ = fs.remove(&format!("{MANIFEST_DIR}/{name}"));
        }
    }
}

fn empty_manifest() -> Manifest {
    Manifest {
        number: 0,
        writer_epoch: 0,
        node_format: STORED_NODE_FORMAT_VERSION,
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

/// Listings [`newest_manifest`] makes before it gives up on a writer that keeps replacing
/// the newest manifest between a listing and the read.
const MANIFEST_LISTINGS: usize = 64;

/// The newest manifest, if any. Manifests are synced before they are published under their
/// number, so the newest one failing to validate is damage: it is reported, never skipped
/// for an older state. A manifest that is gone when it is read was replaced by a newer one
/// (a writer removes a manifest only once a newer one is durable): the directory is listed
/// again.
pub(super) fn newest_manifest(fs: &dyn FileSystem) -> Result<Option<Manifest>> {
    for _ in 0..MANIFEST_LISTINGS {
        let names = fs
            .list(MANIFEST_DIR)
            .map_err(|e| Error::io(format!("list {MANIFEST_DIR}"), &e))?;
        let Some(number) = names.iter().filter_map(|n| manifest_number(n)).max() else {
            return Ok(None);
        };
        let path = format!("{MANIFEST_DIR}/{}", manifest_name(number));
        if let Some(bytes) = read_file(fs, &path)? {
            return check_manifest(&path, number, &bytes).map(Some);
        }
    }
    let replaced = std::io::Error::other(format!(
        "the newest manifest was replaced during each of {MANIFEST_LISTINGS} listings"
    ));
    Err(Error::io(
        format!("read the newest manifest in {MANIFEST_DIR}"),
        &replaced,
    ))
}

/// The manifest `number` read from `path`, checked.
fn check_manifest(path: &str, number: u64, bytes: &[u8]) -> Result<Manifest> {
    let manifest = Manifest::decode(bytes).map_err(|e| Error::Corrupt(format!("{path}: {e}")))?;
    if manifest.number != number {
        return Err(Error::Corrupt(format!(
            "{path} holds manifest {}",
            manifest.number
        )));
    }
    if manifest.node_format != STORED_NODE_FORMAT_VERSION
        || manifest.wal_format != WAL_VERSION
        || manifest.pack_format != PACK_VERSION
    {
        return Err(Error::Corrupt(format!(
            "{path} names node, WAL or pack formats this build does not read (upgrade liblqft)"
        )));
    }
    Ok(manifest)
}

/// Reads the manifest file `path` whole, refusing one over the size limit before allocating;
/// `None` when there is no such file.
fn read_file(fs: &dyn FileSystem, path: &str) -> Result<Option<Vec<u8>>> {
    let io = |e: std::io::Error| Error::io(format!("read {path}"), &e);
    let file = match fs.open(path, OpenMode::Read) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let size = file.size().map_err(io)?;
    let size = manifest::check_size(size)?;
    let mut bytes = vec![0; size];
    file.read_exact_at(&mut bytes, 0).map_err(io)?;
    Ok(Some(bytes))
}

/// Removes packs no manifest names (from an interrupted checkpoint), temporary manifests and
/// manifests older than `manifest`.
pub(super) fn remove_debris(fs: &dyn FileSystem, manifest: &Manifest) -> Result<()> {
    // The newest manifest's name may not be durable yet (its writer died between the link and
    // the directory sync): make it so before the older names go, or a crash could keep the
    // removals and lose the link.
    if fs.sync_dir(MANIFEST_DIR).is_ok() {
        remove_older_manifests(fs, manifest.number);
    }
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

/// A stored version, unloaded: O(1), reads nothing.
fn attach_root(root: Option<&StoredRoot>, packs: &Arc<Packs>) -> Tree {
    match root {
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

/// The map the manifest describes, every version unloaded: O(s) for s snapshots, no reads.
/// Versions with the same root (the live state and the snapshot it equals, say) share one
/// attached tree, so what one loads the other reads, and a write copies it as in memory.
fn attach(manifest: &Manifest, packs: &Arc<Packs>) -> Result<Map> {
    let mut attached: HashMap<(u32, u32), Tree> = HashMap::new();
    let mut attach_shared = |root: Option<&StoredRoot>| match root {
        None => Tree::new(),
        Some(r) => attached
            .entry((r.pack, r.ordinal))
            .or_insert_with(|| attach_root(Some(r), packs))
            .clone(),
    };
    let live = attach_shared(manifest.root.as_ref());
    let snapshots = manifest
        .snapshots
        .iter()
        .map(|s| {
            let meta = SnapshotMeta {
                id: s.id,
                generation: s.generation,
                parent_id: s.parent_id,
                created_at_ns: s.created_at_ns,
                mutation_count: s.mutation_count,
                delta_size: s.delta_size,
                size: s.root.map_or(0, |r| r.len),
            };
            (meta, attach_shared(s.root.as_ref()))
        })
        .collect();
    Map::from_image(MapImage {
        live,
        snapshots,
        current: manifest.current_snapshot,
        retention: manifest.retention,
        pending: manifest.pending,
        next_id: manifest.next_snapshot_id,
    })
    .map_err(|e| Error::Corrupt(format!("manifest {}: {e}", manifest.number)))
}

/// The committed state for a read-only opener: newest manifest plus the WAL after it. Retries
/// when a checkpoint retired the WAL it was about to read.
fn read_state(fs: &dyn FileSystem, packs: &Arc<Packs>) -> Result<(Manifest, Map)> {
    let mut attempt = 0;
    loop {
        let manifest = newest_manifest(fs)?.unwrap_or_else(empty_manifest);
        let result = (|| {
            for info in &manifest.packs {
                packs.add(*info);
            }
            let tail = read_tail(fs, manifest.wal_start)?;
            let map = attach(&manifest, packs)?;
            for (seq, record) in &tail.records {
                replay(&map, *seq, record)?;
            }
            Ok(map)
        })();
        match result {
            Ok(map) => return Ok((manifest, map)),
            Err(_) if attempt < 3 => attempt += 1,
            Err(error) => return Err(error),
        }
    }
}
