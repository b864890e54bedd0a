//! Backups: the packs a manifest names, copied into another directory, then the manifest.
//!
//! Packs never change once a manifest names them, so a backup copies only those the
//! destination lacks (a backup into an earlier backup of the same store is incremental), and
//! writes may go on meanwhile. Every pack is synced under a temporary name and published under
//! its own, and the pack directory synced, before the manifest is published, so the
//! destination's newest manifest names only packs it holds whole: an interrupted backup leaves
//! the state the destination had (or the new one, when it stopped while publishing the
//! manifest), and a finished one is a store of its own (open it, or back it up again to
//! restore it elsewhere).

use std::io::ErrorKind;
use std::sync::Arc;

use crate::error::{Error, Result};

use super::fs::{FileSystem, OpenMode};
use super::handle::{
    LOCK_FILE, MANIFEST_DIR, PACK_DIR, newest_manifest, pack_path, publish, remove_debris,
};
use super::log::WAL_DIR;
use super::manifest::Manifest;
use super::pack::PackReader;

/// What a backup did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupReport {
    /// The number of the manifest the backup holds now.
    pub manifest: u64,
    /// Packs that manifest names.
    pub packs: u64,
    /// Packs this backup copied (the destination held the others already).
    pub packs_copied: u64,
    /// Bytes of the packs copied.
    pub bytes_copied: u64,
}

/// Copies `manifest` and the packs it names (read through `source`) into `dest`, holding the
/// destination's lock throughout.
pub(super) fn back_up(
    manifest: &Manifest,
    source: impl Fn(u32) -> Result<Arc<PackReader>>,
    dest: &dyn FileSystem,
) -> Result<BackupReport> {
    let io = |what: String| move |e: std::io::Error| Error::io(format!("backup: {what}"), &e);
    // An empty WAL directory too: a read-only opener lists it.
    for dir in [MANIFEST_DIR, PACK_DIR, WAL_DIR] {
        dest.create_dir_all(dir)
            .map_err(io(format!("create {dir}")))?;
    }
    dest.sync_dir("")
        .map_err(io("fsync the directory".into()))?;
    let Some(_lock) = dest
        .try_lock(LOCK_FILE)
        .map_err(io(format!("lock {LOCK_FILE}")))?
    else {
        return Err(Error::Locked {
            path: LOCK_FILE.into(),
        });
    };
    // A store's WAL holds records past its manifest, which would replay over the backup's.
    match dest.list(WAL_DIR) {
        Ok(segments) if !segments.is_empty() => {
            return Err(Error::InvalidArgument(format!(
                "backup: the destination has a WAL ({WAL_DIR}/): it is a store that was opened \
                 to write, not a backup; back up into an empty directory or an earlier backup"
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io(format!("list {WAL_DIR}"))(e)),
    }
    // Temporary files an interrupted backup left (its published packs stay: they are copied).
    for dir in [MANIFEST_DIR, PACK_DIR] {
        for name in dest.list(dir).map_err(io(format!("list {dir}")))? {
            if name.ends_with(".tmp") {
                let path = format!("{dir}/{name}");
                dest.remove(&path).map_err(io(format!("remove {path}")))?;
            }
        }
    }
    let held = newest_manifest(dest)?;
    // An earlier backup of this store names only packs this store still names, unchanged
    // (packs are never rewritten or dropped once named); anything else is another store's
    // backup or a later state of this one, which this backup would replace.
    if let Some(held) = &held
        && let Some(info) = held.packs.iter().find(|p| !manifest.packs.contains(p))
    {
        return Err(Error::InvalidArgument(format!(
            "backup: the destination holds a backup of another store, or of a later state of \
             this one (its pack {} is not this store's); back up into an empty directory or \
             an earlier backup of this store",
            info.id
        )));
    }
    let named_by_held = |id: u32| {
        held.as_ref()
            .is_some_and(|h| h.packs.iter().any(|p| p.id == id))
    };
    let mut report = BackupReport {
        manifest: manifest.number,
        packs: manifest.packs.len() as u64,
        packs_copied: 0,
        bytes_copied: 0,
    };
    for info in &manifest.packs {
        let path = pack_path(info.id, info.generation);
        match dest.open(&path, OpenMode::Read) {
            Ok(file) => match PackReader::open(file, path.clone(), *info) {
                Ok(_) => continue,
                // The destination's manifest names it, with this store's footer: damaged.
                Err(e) if named_by_held(info.id) => return Err(e),
                // No manifest names it: what an interrupted backup left (of another store,
                // or torn by a crash), replaced.
                Err(_) => dest.remove(&path).map_err(io(format!("remove {path}")))?,
            },
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(format!("open {path}"))(e)),
        }
        let tmp = format!("{path}.tmp");
        let file = dest
            .open(&tmp, OpenMode::CreateNew)
            .map_err(io(format!("create {tmp}")))?;
        report.bytes_copied += source(info.id)?.copy_to(&*file)?;
        file.sync_data().map_err(io(format!("fdatasync {tmp}")))?;
        dest.publish(&tmp, &path)
            .map_err(io(format!("publish {path}")))?;
        report.packs_copied += 1;
    }
    // Always: packs an interrupted backup published may have names that are not durable yet.
    dest.sync_dir(PACK_DIR)
        .map_err(io(format!("fsync {PACK_DIR}")))?;
    let published = match held {
        Some(held) if held == *manifest => {
            // Published by an earlier backup that may have stopped before its directory sync.
            dest.sync_dir(MANIFEST_DIR)
                .map_err(io(format!("fsync {MANIFEST_DIR}")))?;
            held
        }
        held => {
            // An opener takes the newest manifest, so this one must be numbered above every
            // manifest the destination has.
            let number = held.map_or(0, |h| h.number + 1).max(manifest.number);
            let published = Manifest {
                number,
                ..manifest.clone()
            };
            publish(dest, &published)?;
            published
        }
    };
    report.manifest = published.number;
    // The backup is durable: what no manifest of it names (older manifests, packs and
    // temporary files an interrupted backup left) only costs space, so a failed removal is
    // not the backup's failure; the next backup or open removes it.
    let _ = remove_debris(dest, &published);
    Ok(report)
}
