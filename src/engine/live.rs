//! A map's live state: the tree writers edit in place, and a published copy that readers of
//! a map no one is writing read without writing any memory another core reads.
//!
//! The tree is behind one reader-writer lock. A writer takes it for writing, advances the
//! version and edits the tree in place (no node copied that nothing else shares). Readers
//! first look at the published copy: an `Arc` of a clone of the tree (O(1): the root is shared)
//! with the version it was taken at, loaded through [`ArcSwap`], whose loads write only
//! to a slot of the reading thread. When that copy's version is the current one, it *is* the
//! live state, and the read needs nothing else. Otherwise the reader read-locks the tree, and
//! after [`PUBLISH_AFTER`] such reads at one version it publishes a clone for later readers.
//!
//! A writer withdraws the published copy (one swap, only when there is one), so that the next
//! edit finds the tree's nodes unshared again and edits them in place: a map that is written
//! pays one uncontended lock per write and never copies a path for the sake of readers,
//! unless a reader is inside a read of the withdrawn copy at that moment. A map that is only
//! read is read through the copy, so reads on different cores scale. A map that alternates
//! writes with fewer than [`PUBLISH_AFTER`] reads is read under the lock.
//!
//! Invariant: a published copy with version `v` holds exactly what the tree held while the
//! version was `v`, because copies are taken under the read lock, together with the version,
//! and every writer advances the version under the write lock before it changes the tree.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::{ArcSwap, Guard};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::tree::Tree;

/// Reads of one version under the lock after which a reader publishes a copy. Publishing and
/// the withdrawal by the next writer cost a few hundred nanoseconds between them, so a map
/// read at least this often between writes pays at most a few nanoseconds per read for them,
/// and a map read less often never publishes.
pub(super) const PUBLISH_AFTER: u64 = 8;

/// A clone of the live tree and the version it was taken at; `None` for the placeholder that
/// stands for no copy (it matches no version).
pub(super) struct Published {
    version: Option<u64>,
    tree: Tree,
}

/// The live state of a map (see the module documentation).
pub(super) struct Live {
    tree: RwLock<Tree>,
    /// Advanced by every writer under the write lock, before it changes the tree.
    version: AtomicU64,
    /// Reads under the lock since the last write (an estimate: increments may be lost to
    /// races, which only delays a publication).
    locked_reads: AtomicU64,
    published: ArcSwap<Published>,
    /// The placeholder `published` holds when there is no copy.
    absent: Arc<Published>,
    /// Whether `published` may hold a copy; set and cleared under the lock (read for set,
    /// write for clear), so that a writer that sees it clear knows there is none to withdraw.
    has_published: AtomicBool,
}

/// The live state as a reader sees it: the published copy or the tree under the read lock.
pub(super) enum LiveRead<'a> {
    Published(Guard<Arc<Published>>),
    Locked(RwLockReadGuard<'a, Tree>),
}

impl Deref for LiveRead<'_> {
    type Target = Tree;
    #[inline]
    fn deref(&self) -> &Tree {
        match self {
            LiveRead::Published(copy) => &copy.tree,
            LiveRead::Locked(tree) => tree,
        }
    }
}

/// The live state held for writing.
pub(super) struct LiveWrite<'a>(RwLockWriteGuard<'a, Tree>);

impl Deref for LiveWrite<'_> {
    type Target = Tree;
    #[inline]
    fn deref(&self) -> &Tree {
        &self.0
    }
}

impl DerefMut for LiveWrite<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Tree {
        &mut self.0
    }
}

impl Live {
    pub(super) fn new(tree: Tree) -> Live {
        let absent = Arc::new(Published {
            version: None,
            tree: Tree::new(),
        });
        Live {
            tree: RwLock::new(tree),
            version: AtomicU64::new(0),
            locked_reads: AtomicU64::new(0),
            published: ArcSwap::new(absent.clone()),
            absent,
            has_published: AtomicBool::new(false),
        }
    }

    /// The live state as of this call, and its version.
    #[inline]
    pub(super) fn read(&self) -> (LiveRead<'_>, u64) {
        let copy = self.published.load();
        let version = self.version.load(Ordering::Acquire);
        if copy.version == Some(version) {
            return (LiveRead::Published(copy), version);
        }
        drop(copy);
        self.read_locked()
    }

    /// [`read`](Live::read) under the lock, publishing a copy once enough reads came here.
    #[cold]
    #[inline(never)]
    fn read_locked(&self) -> (LiveRead<'_>, u64) {
        let tree = self.tree.read_recursive();
        let version = self.version.load(Ordering::Relaxed);
        let reads = self.locked_reads.load(Ordering::Relaxed) + 1;
        self.locked_reads.store(reads, Ordering::Relaxed);
        if reads == PUBLISH_AFTER {
            self.published.store(Arc::new(Published {
                version: Some(version),
                tree: tree.clone(),
            }));
            self.has_published.store(true, Ordering::Relaxed);
        }
        (LiveRead::Locked(tree), version)
    }

    /// The live state for a writer who holds the map's writer lock (so no write can come
    /// between this read and the writer's own): read under the lock, not counted towards a
    /// publication.
    #[inline]
    pub(super) fn read_held(&self) -> LiveRead<'_> {
        LiveRead::Locked(self.tree.read_recursive())
    }

    /// The live state for a writer (who holds the map's writer lock, so no other writer
    /// races this one): withdraws the published copy and advances the version.
    #[inline]
    pub(super) fn write(&self) -> LiveWrite<'_> {
        let tree = self.tree.write();
        let version = self.version.load(Ordering::Relaxed);
        self.version
            .store(version.wrapping_add(1), Ordering::Relaxed);
        self.locked_reads.store(0, Ordering::Relaxed);
        if self.has_published.load(Ordering::Relaxed) {
            self.withdraw();
        }
        LiveWrite(tree)
    }

    /// Drops the published copy, which the version just made stale; unless a reader is
    /// inside a read of it, the tree's nodes are unshared again.
    #[cold]
    #[inline(never)]
    fn withdraw(&self) {
        self.has_published.store(false, Ordering::Relaxed);
        self.published.store(self.absent.clone());
    }

    /// The version, read by a writer who holds the map's writer lock (and so sees every
    /// writer's advance before it).
    #[inline]
    pub(super) fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(live: &Live) -> bool {
        matches!(live.read().0, LiveRead::Published(_))
    }

    fn value(live: &Live, key: &[u8]) -> Option<Vec<u8>> {
        live.read().0.get(key).map(<[u8]>::to_vec)
    }

    #[test]
    fn a_map_read_often_enough_since_the_last_write_is_read_through_a_copy() {
        let live = Live::new(Tree::new());
        live.write().insert(b"k", b"1").unwrap();
        for _ in 1..PUBLISH_AFTER {
            assert!(!published(&live));
        }
        // This read under the lock is the one that publishes.
        assert!(!published(&live));
        assert!(published(&live));
        assert_eq!(value(&live, b"k"), Some(b"1".to_vec()));
    }

    #[test]
    fn a_write_withdraws_the_copy_and_the_next_read_sees_the_write() {
        let live = Live::new(Tree::new());
        live.write().insert(b"k", b"1").unwrap();
        for _ in 0..=PUBLISH_AFTER {
            published(&live);
        }
        assert!(published(&live));
        let before = live.read().1;
        live.write().insert(b"k", b"2").unwrap();
        assert_eq!(live.published.load().version, None);
        let (read, version) = live.read();
        assert!(matches!(read, LiveRead::Locked(_)));
        assert_eq!(read.get(b"k"), Some(&b"2"[..]));
        assert_eq!(version, before + 1);
    }

    #[test]
    fn a_reader_inside_a_read_of_a_withdrawn_copy_keeps_what_it_read() {
        let live = Live::new(Tree::new());
        live.write().insert(b"k", b"1").unwrap();
        for _ in 0..=PUBLISH_AFTER {
            published(&live);
        }
        let (old, _) = live.read();
        assert!(matches!(old, LiveRead::Published(_)));
        // The write copies the path the reader's copy shares instead of editing it.
        live.write().insert(b"k", b"2").unwrap();
        assert_eq!(old.get(b"k"), Some(&b"1"[..]));
        drop(old);
        assert_eq!(value(&live, b"k"), Some(b"2".to_vec()));
    }

    #[test]
    fn readers_never_see_a_value_older_than_a_finished_write() {
        let live = Live::new(Tree::new());
        let done = AtomicU64::new(0);
        let writes = 2_000u64;
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    loop {
                        let finished = done.load(Ordering::SeqCst);
                        let seen = value(&live, b"k")
                            .map_or(0, |v| u64::from_le_bytes(v.try_into().unwrap()));
                        assert!(
                            seen >= finished,
                            "read {seen} after write {finished} finished"
                        );
                        if finished == writes {
                            break;
                        }
                    }
                });
            }
            for i in 1..=writes {
                live.write().insert(b"k", &i.to_le_bytes()).unwrap();
                done.store(i, Ordering::SeqCst);
                // Give readers time to publish copies between some of the writes.
                if i % 16 == 0 {
                    std::thread::yield_now();
                }
            }
        });
    }
}
