//! The durable store: options, open, close, sync, checkpoint, refresh, backup, stats.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use super::args::{Out, free_handle, handle, new_handle, path};
use super::batch::lqft_batch;
use super::bytes::lqft_bytes;
use super::error::Fail;
use super::guard::{call, call_value};
use super::map::lqft_map;
use super::status::*;
use crate::BatchOp;
use crate::store::{BackupReport, DEFAULT_CACHE_BYTES, Durability, Store, StoreOptions};

/// When a store acknowledges a write (`lqft_store_options.durability`). What each mode promises
/// after a crash or power loss is in the README ("Durable stores").
pub type lqft_durability = u32;
/// A write returns after its own `fdatasync` of the WAL: every acknowledged write survives power
/// loss. The default.
pub const LQFT_DURABILITY_SYNC: lqft_durability = 0;
/// A write returns after an `fdatasync` it shares with the writes of other threads that arrived
/// meanwhile (group commit): every acknowledged write survives power loss, at a fraction of the
/// syncs when many threads write.
pub const LQFT_DURABILITY_GROUP: lqft_durability = 1;
/// A write returns once the OS has it; a background thread `fdatasync`s every
/// `async_interval_ms`. Power loss loses at most the writes of the last interval; a crash of the
/// process alone loses nothing.
pub const LQFT_DURABILITY_ASYNC: lqft_durability = 2;
/// A write returns once the OS has it; it is durable after the next sync of any kind
/// (`lqft_store_sync`, a checkpoint). A crash of the process alone loses nothing.
pub const LQFT_DURABILITY_NONE: lqft_durability = 3;

/// How `lqft_store_open` opens a store. Fill it with `lqft_store_options_init`, then change the
/// fields you need:
///
/// ```c
/// lqft_store_options options;
/// lqft_store_options_init(&options, sizeof options);
/// options.durability = LQFT_DURABILITY_GROUP;
/// ```
///
/// Growth: later versions of the library add fields at the end. `struct_size` says how many
/// bytes the caller's struct has: a library given a larger struct (from a newer header)
/// accepts it when the bytes it does not know are all zero — the value every new field gives
/// the old behaviour — and refuses it with `LQFT_ERR_INVALID_ARGUMENT` otherwise.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lqft_store_options {
    /// `sizeof(lqft_store_options)` as the caller compiled it (`lqft_store_options_init` sets
    /// it).
    pub struct_size: usize,
    /// When writes are acknowledged: an `LQFT_DURABILITY_*` value (default
    /// `LQFT_DURABILITY_SYNC`).
    pub durability: lqft_durability,
    /// For `LQFT_DURABILITY_ASYNC`: milliseconds between background syncs, at least 1
    /// (default 100). Ignored by the other modes.
    pub async_interval_ms: u32,
    /// WAL bytes after which a checkpoint starts in a background thread (default 64 MiB);
    /// the WAL replayed at open is bounded by about this much.
    pub checkpoint_bytes: u64,
    /// Size at which the WAL starts a new segment file, at least 1 (default 16 MiB).
    pub segment_bytes: u64,
    /// The bound on the memory of stored nodes, in record bytes (0: the default, 256 MiB).
    /// When the records loaded from packs and written by checkpoints since the last trim pass
    /// it, a background thread trims: the live state and every registered snapshot are
    /// attached again with all but their top three levels unloaded. Not bounded by it: nodes
    /// written since the last checkpoint (bounded by `checkpoint_bytes`) and what snapshot
    /// handles, pins and iterators the caller holds loaded (kept until they are released).
    pub cache_bytes: u64,
    /// Open without the writer lock (the directory must exist): reads only, every write and
    /// `lqft_store_checkpoint` fail with `LQFT_ERR_INVALID_ARGUMENT`, and `lqft_store_refresh`
    /// moves to the newest committed state. Any number of read-only openers may run beside the
    /// writer, in any process.
    pub read_only: bool,
}

/// The largest `struct_size` accepted: a bigger one is taken for an uninitialised struct.
const MAX_OPTIONS_SIZE: usize = 4096;

const INTERVAL_MS: u32 = 100;

impl lqft_store_options {
    fn defaults() -> lqft_store_options {
        let rust = StoreOptions::default();
        lqft_store_options {
            struct_size: size_of::<lqft_store_options>(),
            durability: LQFT_DURABILITY_SYNC,
            async_interval_ms: INTERVAL_MS,
            checkpoint_bytes: rust.checkpoint_bytes,
            segment_bytes: rust.segment_bytes,
            cache_bytes: 0,
            read_only: rust.read_only,
        }
    }

    /// The Rust options these ask for.
    fn to_rust(self) -> Result<StoreOptions, Fail> {
        let durability = match self.durability {
            LQFT_DURABILITY_SYNC => Durability::Sync,
            LQFT_DURABILITY_GROUP => Durability::Group,
            LQFT_DURABILITY_ASYNC if self.async_interval_ms == 0 => {
                return Err(Fail::invalid(
                    "lqft_store_options.async_interval_ms is 0: LQFT_DURABILITY_ASYNC needs \
                     at least 1 ms between background syncs",
                ));
            }
            LQFT_DURABILITY_ASYNC => Durability::Async {
                interval: Duration::from_millis(u64::from(self.async_interval_ms)),
            },
            LQFT_DURABILITY_NONE => Durability::None,
            other => {
                return Err(Fail::invalid(format!(
                    "lqft_store_options.durability is {other}, not an LQFT_DURABILITY_* value"
                )));
            }
        };
        if self.segment_bytes == 0 {
            return Err(Fail::invalid(
                "lqft_store_options.segment_bytes is 0: a WAL segment needs at least 1 byte",
            ));
        }
        Ok(StoreOptions {
            durability,
            checkpoint_bytes: self.checkpoint_bytes,
            read_only: self.read_only,
            segment_bytes: self.segment_bytes,
            cache_bytes: match self.cache_bytes {
                0 => DEFAULT_CACHE_BYTES,
                bytes => bytes,
            },
            ..StoreOptions::default()
        })
    }
}

/// Checks a caller's `struct_size`: at least this version's size and at most
/// `MAX_OPTIONS_SIZE`.
fn check_size(size: usize) -> Result<(), Fail> {
    let ours = size_of::<lqft_store_options>();
    if size < ours {
        return Err(Fail::invalid(format!(
            "lqft_store_options.struct_size is {size}, smaller than any version of the struct \
             ({ours}): fill it with lqft_store_options_init(&options, sizeof options)"
        )));
    }
    if size > MAX_OPTIONS_SIZE {
        return Err(Fail::invalid(format!(
            "lqft_store_options.struct_size is {size}: not initialised? fill it with \
             lqft_store_options_init(&options, sizeof options)"
        )));
    }
    Ok(())
}

/// The options `ptr` points to (`NULL`: defaults).
///
/// # Safety
/// `ptr` is `NULL` or points to `struct_size` readable bytes, `struct_size` being its first
/// field.
unsafe fn read_options(ptr: *const lqft_store_options) -> Result<lqft_store_options, Fail> {
    if ptr.is_null() {
        return Ok(lqft_store_options::defaults());
    }
    // SAFETY: non-NULL and readable per the contract; `struct_size` is the first field.
    let size = unsafe { ptr.cast::<usize>().read_unaligned() };
    check_size(size)?;
    let ours = size_of::<lqft_store_options>();
    // SAFETY: the caller promised `size` readable bytes, and `ours <= size <= 4096`.
    let unknown = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>().add(ours), size - ours) };
    if let Some(at) = unknown.iter().position(|&b| b != 0) {
        return Err(Fail::invalid(format!(
            "lqft_store_options has a field at byte {} that this version of liblqft does not \
             know, set to a value other than 0: the feature needs a newer liblqft",
            ours + at
        )));
    }
    // SAFETY: at least `ours` bytes are readable; `bool` is read as a byte and checked below.
    let read_only = unsafe {
        ptr.cast::<u8>()
            .add(std::mem::offset_of!(lqft_store_options, read_only))
            .read()
    };
    if read_only > 1 {
        return Err(Fail::invalid(format!(
            "lqft_store_options.read_only is {read_only}, not true or false"
        )));
    }
    // SAFETY: `ours` bytes are readable and every field's bit pattern is valid (the `bool` was
    // checked just above).
    Ok(unsafe { ptr.read_unaligned() })
}

/// Fills `*options` with the defaults: `LQFT_DURABILITY_SYNC`, checkpoints every 64 MiB of
/// WAL, 16 MiB WAL segments, the library's cache size, read-write. `struct_size` is the size of
/// the caller's struct: pass `sizeof *options`. Bytes past the fields this version knows (in a
/// struct from a newer header) are set to 0, which every later field takes as its default.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` when `struct_size` is smaller
/// than this version's struct or over 4096. Thread safety: any thread.
///
/// # Safety
/// `options` is `NULL` or valid for writing `struct_size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_store_options_init(
    options: *mut lqft_store_options,
    struct_size: usize,
) -> lqft_status {
    call("lqft_store_options_init", || {
        check_size(struct_size)?;
        // SAFETY: the caller promised `options` is NULL or writable.
        let out = unsafe { Out::new(options, "options") }?;
        let ours = size_of::<lqft_store_options>();
        let defaults = lqft_store_options {
            struct_size,
            ..lqft_store_options::defaults()
        };
        out.write(defaults);
        // SAFETY: the caller promised `struct_size` writable bytes; `ours <= struct_size`.
        unsafe {
            options
                .cast::<u8>()
                .add(ours)
                .write_bytes(0, struct_size - ours)
        };
        Ok(LQFT_OK)
    })
}

/// A durable store: a versioned map kept in a directory (a write-ahead log, node packs and
/// manifests; see the README, "Durable stores").
///
/// Thread safety: internally synchronised; every function taking a `const lqft_store *` may be
/// called from any number of threads at once. Only `lqft_store_close` needs exclusive access.
pub struct lqft_store {
    store: Store,
}

/// Opens the store in the directory `path` and stores it in `*out`. A writer creates the
/// directory (and missing parents) when it does not exist, takes the writer lock (`LOCK`,
/// an exclusive `flock` released when the store is closed or the process dies), recovers
/// (replays the WAL written since the last checkpoint; the cost does not grow with the store's
/// size) and removes debris of interrupted checkpoints. A read-only opener takes no lock and
/// sees the last committed state. `options` may be `NULL` for the defaults.
///
/// Ownership: the caller owns the store and releases it with `lqft_store_close`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT` (`path` or `out`), `LQFT_ERR_INVALID_ARGUMENT` (empty path,
/// bad options, see `lqft_store_options`), `LQFT_ERR_LOCKED` at once when another writer (in
/// this process or another) holds the store, `LQFT_ERR_IO` (the message names the file and the
/// system's reason; a read-only open of a missing directory is one), `LQFT_ERR_CORRUPT` when
/// the newest manifest, a pack header or a WAL record before the tail is damaged, or the
/// store was written by a newer liblqft. Thread safety: any thread.
///
/// # Safety
/// `path` is `NULL` or a NUL-terminated string; `options` is `NULL` or points to
/// `options->struct_size` readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_store_open(
    path: *const c_char,
    options: *const lqft_store_options,
    out: *mut *mut lqft_store,
) -> lqft_status {
    call("lqft_store_open", || {
        // SAFETY: the caller promised a C-string path, readable options and a writable `out`.
        let (dir, options, out) = unsafe {
            (
                self::path(path, "path")?,
                read_options(options)?,
                Out::new(out, "out")?,
            )
        };
        let store = Store::open(dir, options.to_rust()?)?;
        out.write(new_handle(lqft_store { store }));
        Ok(LQFT_OK)
    })
}

/// Closes a store and releases the handle: waits for a running background checkpoint, then (a
/// writer) checkpoints what the WAL holds beyond the last checkpoint and empties the WAL, so the
/// next open replays nothing (a failed checkpoint is not reported and loses nothing: the WAL
/// stays and the next open replays it). From then on every write through a map handle from
/// `lqft_store_map` fails with
/// `LQFT_ERR_INVALID_ARGUMENT` ("the store is closed"). Those map handles stay valid for reads
/// (gets, snapshots, iterators, diffs) until they are freed. The writer lock, the open files
/// and the background sync of `LQFT_DURABILITY_ASYNC` are released when the store and every
/// map handle from it are released: free the map handles too before opening the directory for
/// writing again (until then that open gets `LQFT_ERR_LOCKED`). Writes acknowledged with
/// `LQFT_DURABILITY_ASYNC` or `LQFT_DURABILITY_NONE` and not synced yet stay with the OS: call
/// `lqft_store_sync` first to make them durable. `NULL` is a no-op.
///
/// Thread safety: no other thread may use `store` during or after this call; other threads may
/// go on using map handles from it (their writes fail from this call on).
///
/// # Safety
/// `store` is `NULL` or a store from `lqft_store_open` that is not closed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_store_close(store: *mut lqft_store) {
    call_value((), || {
        // SAFETY: the caller passes NULL or a live store no one else is using.
        if let Ok(open) = unsafe { open_store(store) } {
            // A failed checkpoint loses nothing: the WAL stays and the next open replays it.
            let _ = open.store.close();
        }
        // SAFETY: as above; the store is not used again.
        unsafe { free_handle(store) }
    })
}

/// Stores in `*out` a handle on the store's data: a versioned map on which every `lqft_map_*`
/// function works as on a map from `lqft_map_new`, and durably — puts, deletes, batches,
/// transactions, compare-and-swap, snapshots with their metadata, rollback, retention and
/// compaction are logged to the WAL and acknowledged as the store's durability says, and
/// survive closing and reopening (read sessions are of this process only). Snapshots,
/// iterators, diffs and views made from it work as on any map. Every call gives a new handle
/// on the same map.
///
/// Reads may load nodes from the store's files: a get, contains, snapshot read, view read,
/// transaction read, iterator or diff step, file save or export whose load fails returns
/// `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` and writes nothing (an iterator or diff stays usable:
/// see `lqft_iter`). Writes to a read-only store fail with `LQFT_ERR_INVALID_ARGUMENT`, writes after a failed write, sync or
/// rename with `LQFT_ERR_POISONED`, writes after `lqft_store_close` with
/// `LQFT_ERR_INVALID_ARGUMENT`; a read-only store's map moves forward on
/// `lqft_store_refresh`.
///
/// Ownership: the caller owns the handle and releases it with `lqft_map_free`, before or after
/// `lqft_store_close` (see there: the store's files and lock are released when the store and
/// all its map handles are). Errors: `LQFT_ERR_NULL_ARGUMENT`. Thread safety: any thread; the
/// map is internally synchronised like any `lqft_map`.
///
/// # Safety
/// `store` is `NULL` or a live store; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_store_map(
    store: *const lqft_store,
    out: *mut *mut lqft_map,
) -> lqft_status {
    call("lqft_store_map", || {
        // SAFETY: the caller promised a live store and a writable `out`.
        let (store, out) = unsafe { (open_store(store)?, Out::new(out, "out")?) };
        out.write(new_handle(lqft_map::plain(Arc::clone(store.store.map()))));
        Ok(LQFT_OK)
    })
}

/// The store behind a `const lqft_store *`.
///
/// # Safety
/// `store` is `NULL` or a live store.
unsafe fn open_store<'a>(store: *const lqft_store) -> Result<&'a lqft_store, Fail> {
    // SAFETY: forwarded contract.
    unsafe { handle(store, "store") }
}

/// Makes every write acknowledged so far durable (one `fdatasync` of the WAL when something is
/// unsynced). A no-op for a read-only store.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_IO` (the failed sync poisons the writer),
/// `LQFT_ERR_POISONED` after an earlier failure. Thread safety: any thread.
///
/// # Safety
/// `store` is `NULL` or a live store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_store_sync(store: *const lqft_store) -> lqft_status {
    call("lqft_store_sync", || {
        // SAFETY: the caller promised a live store.
        unsafe { open_store(store) }?.store.sync()?;
        Ok(LQFT_OK)
    })
}

/// Writes a checkpoint now, in the calling thread: the nodes no pack holds yet into a new pack
/// (fdatasynced), then a new manifest naming it, then the WAL before it is retired. Writes go
/// on meanwhile. Nothing is written when nothing changed since the last checkpoint.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` for a read-only store,
/// `LQFT_ERR_IO` (poisons the writer), `LQFT_ERR_POISONED`, `LQFT_ERR_CORRUPT` when a node it
/// must read is damaged. Thread safety: any thread; checkpoints run one at a time.
///
/// # Safety
/// `store` is `NULL` or a live store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_store_checkpoint(store: *const lqft_store) -> lqft_status {
    call("lqft_store_checkpoint", || {
        // SAFETY: the caller promised a live store.
        unsafe { open_store(store) }?.store.checkpoint()?;
        Ok(LQFT_OK)
    })
}

/// Bulk load: sets every key `batch` puts to its value (a key put twice takes its last value)
/// as one atomic change, made durable by a checkpoint instead of the WAL: the new nodes go into
/// a pack and a manifest naming it is published, both synced before this returns, whatever the
/// store's durability. No other write is applied or acknowledged in between, so after a crash
/// the store holds the state before the load or the state after it, with every write
/// acknowledged before it. The fastest way to put many entries into a store; readers see the
/// state before the load until it returns. The batch is left as it was. Stores the number of
/// entries that changed in `*out_changed` unless it is `NULL` (a put of the value a key holds
/// changes nothing); a load that changes nothing writes nothing.
///
/// Errors (nothing changed, `*out_changed` untouched): `LQFT_ERR_NULL_ARGUMENT`;
/// `LQFT_ERR_INVALID_ARGUMENT` when the batch holds a delete (a load only puts) or the store is
/// read-only or closed; `LQFT_ERR_POISONED` after an earlier failure; `LQFT_ERR_IO` when writing
/// or syncing the pack or manifest fails (this poisons the writer; reopening recovers the state
/// before the load); `LQFT_ERR_CORRUPT` when a stored node the load must read is damaged. One
/// error comes after the load is durable and applied: `LQFT_ERR_IO` from the fsync of the WAL
/// directory after removing the segments the new manifest covers, which poisons the writer.
/// (Keys and values past the limits never reach a batch.) Thread safety: any thread; loads and
/// checkpoints run one at a time, and writes wait while a load runs.
///
/// # Safety
/// `store` and `batch` are `NULL` or live handles; `out_changed` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_store_load(
    store: *const lqft_store,
    batch: *const lqft_batch,
    out_changed: *mut u64,
) -> lqft_status {
    call("lqft_store_load", || {
        // SAFETY: the caller promised live handles and a writable or NULL `out_changed`.
        let (store, batch, out) = unsafe {
            (
                open_store(store)?,
                handle(batch, "batch")?,
                Out::optional(out_changed, "out_changed")?,
            )
        };
        let mut puts = Vec::with_capacity(batch.batch.len());
        for op in batch.batch.ops() {
            match op {
                BatchOp::Put(key, value) => puts.push((key, value)),
                BatchOp::Delete(_) => {
                    return Err(crate::Error::InvalidArgument(
                        "lqft_store_load: the batch holds a delete; a load only puts \
                         (apply deletes with lqft_map_write_batch)"
                            .into(),
                    )
                    .into());
                }
            }
        }
        let changed = store.store.load(puts)?;
        if let Some(out) = out {
            out.write(changed);
        }
        Ok(LQFT_OK)
    })
}

/// For a read-only store: moves to the newest committed state (the newest manifest plus the WAL
/// after it). Versions already handed out (snapshots, iterators) keep what they had. A no-op
/// for the writer, which always sees its own writes.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_IO`, `LQFT_ERR_CORRUPT`; on error the store
/// keeps the state it had. Thread safety: any thread.
///
/// # Safety
/// `store` is `NULL` or a live store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_store_refresh(store: *const lqft_store) -> lqft_status {
    call("lqft_store_refresh", || {
        // SAFETY: the caller promised a live store.
        unsafe { open_store(store) }?.store.refresh()?;
        Ok(LQFT_OK)
    })
}

/// What `lqft_store_backup` did. The caller sets `size`; the library writes the other fields.
///
/// Growth: later versions of the library add fields at the end and write only the fields that
/// fit in the caller's `size` (at least this version's), so a struct compiled against this
/// header stays valid.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lqft_backup_report {
    /// `sizeof(lqft_backup_report)` as the caller compiled it; a smaller value is
    /// `LQFT_ERR_INVALID_ARGUMENT`.
    pub size: usize,
    /// The number of the manifest the backup holds now.
    pub manifest: u64,
    /// Packs that manifest names.
    pub packs: u64,
    /// Packs this backup copied (the destination held the others already).
    pub packs_copied: u64,
    /// Bytes of the packs copied.
    pub bytes_copied: u64,
}

impl lqft_backup_report {
    /// The report of `report` for a caller whose struct is `size` bytes (the caller's `size`
    /// is left as it was).
    fn filled(size: usize, report: BackupReport) -> lqft_backup_report {
        lqft_backup_report {
            size,
            manifest: report.manifest,
            packs: report.packs,
            packs_copied: report.packs_copied,
            bytes_copied: report.bytes_copied,
        }
    }
}

/// Backs the store up into the directory `path` (created if needed), which is then a store of
/// its own: open it to read or to go on from the backup, or back it up in turn (from a
/// read-only open of it) to restore it elsewhere. `path` must be an empty directory or an
/// earlier backup of this store; a backup into an earlier one copies only the packs written
/// since (packs never change).
///
/// A writer checkpoints first, so the backup holds every write acknowledged before the call; a
/// read-only store backs up the newest checkpoint it has read (`lqft_store_refresh` first),
/// without the WAL records after it. Each pack is checked against its blake3 as it is copied
/// (a damaged pack fails the backup instead of spreading), synced under a temporary name and
/// published; the manifest comes last. Writes go on meanwhile. After a crash or an error the
/// destination holds the state it held before, or the new one when the failure came while
/// the manifest was being published — never anything else (the next backup or open removes
/// what the interrupted one left). Stores what was done in `*out_report` unless it is `NULL`.
///
/// Errors (`*out_report` untouched): `LQFT_ERR_NULL_ARGUMENT` (`store` or `path`);
/// `LQFT_ERR_INVALID_ARGUMENT` (empty path, misaligned `out_report` or its `size` too small, a
/// destination holding a WAL — a store opened to write, not a backup — or a backup of another
/// store or of a later state of this one); `LQFT_ERR_LOCKED` when a writer has the
/// destination open or another backup into it runs; `LQFT_ERR_POISONED` or `LQFT_ERR_INVALID_ARGUMENT` (closed) from the
/// checkpoint; `LQFT_ERR_IO` (the message names the file); `LQFT_ERR_CORRUPT` when a pack of
/// this store is damaged. Thread safety: any thread; backups into different directories may
/// run at once.
///
/// # Safety
/// `store` is `NULL` or a live store; `path` is `NULL` or a NUL-terminated string;
/// `out_report` is `NULL` or points to a writable `lqft_backup_report` whose `size` is set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_store_backup(
    store: *const lqft_store,
    path: *const c_char,
    out_report: *mut lqft_backup_report,
) -> lqft_status {
    call("lqft_store_backup", || {
        // SAFETY: the caller promised a live store and a C-string path.
        let (store, dest) = unsafe { (open_store(store)?, self::path(path, "path")?) };
        // SAFETY: the caller promised `NULL` or a writable report (checked non-NULL and
        // aligned here).
        let out = unsafe { Out::optional(out_report, "out_report") }?;
        let size = match &out {
            None => 0,
            Some(out) => {
                // SAFETY: non-NULL, aligned and, per the contract, readable with `size` set;
                // `size` comes first, so it is read before the rest is known to be there.
                let size = unsafe { (*out.as_ptr()).size };
                // This version's struct is the first: every later one is larger, and writes
                // only the fields a caller's `size` holds.
                if size < size_of::<lqft_backup_report>() {
                    return Err(Fail::invalid(format!(
                        "`out_report->size` is {size}; set it to sizeof(lqft_backup_report), {}",
                        size_of::<lqft_backup_report>()
                    )));
                }
                size
            }
        };
        let report = store.store.backup(dest)?;
        if let Some(out) = out {
            out.write(lqft_backup_report::filled(size, report));
        }
        Ok(LQFT_OK)
    })
}

/// Stores the store's counters as compact JSON text (UTF-8, NUL-terminated) in `*out`:
/// `format` (`"lqft-store-stats-v1"`), `wal_records`, `wal_bytes`, `wal_syncs`, `checkpoints`,
/// `node_loads` and `pack_opens` (counted since open), `manifest` (the number of the manifest in
/// use), `packs`,
/// `cache_bytes` (the node cache's bound in force), `cache_bytes_in_use`, `cache_trims` and
/// `read_only`; every key is documented in `docs/STATS.md`. O(1).
///
/// Ownership: the caller owns `*out` and releases it with `lqft_bytes_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`. Thread safety: any thread.
///
/// # Safety
/// `store` is `NULL` or a live store; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_store_stats_json(
    store: *const lqft_store,
    out: *mut lqft_bytes,
) -> lqft_status {
    call("lqft_store_stats_json", || {
        // SAFETY: the caller promised a live store and a writable `out`.
        let (store, out) = unsafe { (open_store(store)?, Out::new(out, "out")?) };
        let mut stats = store.store.stats();
        stats["read_only"] = store.store.read_only().into();
        out.write(lqft_bytes::copy_of(stats.to_string().as_bytes()));
        Ok(LQFT_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_rust_defaults() {
        let rust = lqft_store_options::defaults().to_rust().unwrap();
        let expected = StoreOptions::default();
        assert_eq!(rust.durability, expected.durability);
        assert_eq!(rust.checkpoint_bytes, expected.checkpoint_bytes);
        assert_eq!(rust.segment_bytes, expected.segment_bytes);
        assert_eq!(rust.read_only, expected.read_only);
        assert_eq!(rust.cache_bytes, expected.cache_bytes);
    }

    #[test]
    fn every_durability_maps_to_its_mode() {
        let with = |durability| lqft_store_options {
            durability,
            async_interval_ms: 7,
            ..lqft_store_options::defaults()
        };
        let mode = |d| with(d).to_rust().map(|o| o.durability).ok();
        assert_eq!(mode(LQFT_DURABILITY_SYNC), Some(Durability::Sync));
        assert_eq!(mode(LQFT_DURABILITY_GROUP), Some(Durability::Group));
        assert_eq!(
            mode(LQFT_DURABILITY_ASYNC),
            Some(Durability::Async {
                interval: Duration::from_millis(7)
            })
        );
        assert_eq!(mode(LQFT_DURABILITY_NONE), Some(Durability::None));
        assert_eq!(mode(4), None);
    }
}
