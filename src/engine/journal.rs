//! The journal hook: how a durable store sees every change of a [`Map`] it backs.
//!
//! A map with a [`Journal`] (built by [`Map::from_image`] and [`Map::set_journal`]) hands every
//! change to it as a [`Change`] — under the map's writer lock, after loading the stored nodes
//! the change reads and before applying it — so the journal's order is the order changes are
//! applied, and a change the journal refuses changes nothing. The map applies the change,
//! releases its lock and then calls [`Journal::commit`] with the ticket `append` returned, so
//! concurrent writers can share one sync. Replaying the journal's changes in order with
//! [`Map::replay`] over the image the journal started from rebuilds the map's state: registry,
//! current snapshot, retention, pending count and next id included.
//!
//! Pins ([`Map::pin`]) are in-memory read sessions: they are not journaled. A change whose
//! effect depends on pins (pruning) records its outcome (the ids it pruned), so replay needs
//! none.

use crate::engine::batch::Batch;
#[cfg(doc)]
use crate::engine::map::Map;
use crate::engine::snapshot::SnapshotMeta;
use crate::error::Result;
use crate::tree::{Hash, Tree};

/// One change of a map's state, as a journal records it.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// `key` set to `value`.
    Put {
        /// The key.
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
    },
    /// `key` removed.
    Delete {
        /// The key.
        key: &'a [u8],
    },
    /// Every entry removed.
    Clear,
    /// A batch's operations, in order, atomically.
    Batch(&'a Batch),
    /// A transaction's writes (`None`: delete), atomically.
    Writes(crate::engine::rw_set::Writes<'a>),
    /// A snapshot of the live state taken, registered and made current; then `pruned`
    /// removed from the registry by the retention policy.
    Snapshot {
        /// Its metadata.
        meta: &'a SnapshotMeta,
        /// The live state's Merkle root (replay checks it).
        root: Hash,
        /// Ids the retention policy pruned, ascending.
        pruned: &'a [u64],
    },
    /// The live state rolled back to the registered snapshot `id`, which became current.
    Rollback {
        /// The snapshot.
        id: u64,
        /// Whether pending mutations were discarded.
        discard: bool,
    },
    /// The retention policy set, and `pruned` removed from the registry.
    Retention {
        /// The policy.
        keep: Option<u64>,
        /// Ids pruned now, ascending.
        pruned: &'a [u64],
    },
    /// A compaction that removed `pruned` from the registry.
    Compact {
        /// Snapshots it was asked to keep.
        retain_last: u64,
        /// Ids pruned, ascending.
        pruned: &'a [u64],
    },
    /// Snapshots registered under the ids their metadata carry (final, checked) and, with
    /// `activate`, one of them made current (pending mutations discarded).
    Import {
        /// The snapshots, in the order given.
        snapshots: &'a [(SnapshotMeta, Tree)],
        /// The position of the one made current.
        activate: Option<usize>,
    },
}

/// A ticket for a change a journal has accepted, to wait for with [`Journal::commit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(pub u64);

/// What records a map's changes durably; see the [module docs](self).
pub trait Journal: Send + Sync {
    /// Records `change`, called under the map's writer lock before it is applied. An error
    /// leaves the map unchanged.
    fn append(&self, change: &Change<'_>) -> Result<Ticket>;

    /// Returns once the change of `ticket` is as durable as the journal promises; called after
    /// the map released its writer lock. An error reaches the writer (the change is applied in
    /// memory but may not survive a crash).
    fn commit(&self, ticket: Ticket) -> Result<()>;

    /// The journal's counters for [`Map::stats`](crate::Map::stats) (under `"store"`).
    fn stats(&self) -> serde_json::Value;

    /// Called once as `map`, the map this journal records, is dropped (its last handle gone),
    /// with the map still whole: a store checkpoints there, so the next open has no log to
    /// replay. Must not panic; a failure loses nothing the journal recorded.
    fn map_dropped(&self, map: &crate::Map);
}

/// A map's whole state as a journal persists it: what [`Map::image`](crate::Map::image) takes
/// and [`Map::from_image`](crate::Map::from_image) rebuilds a map from.
#[derive(Debug, Clone, Default)]
pub struct MapImage {
    /// The live state.
    pub live: Tree,
    /// The registered snapshots, ascending by id.
    pub snapshots: Vec<(SnapshotMeta, Tree)>,
    /// The id of the current snapshot, which is registered.
    pub current: Option<u64>,
    /// The retention policy.
    pub retention: Option<u64>,
    /// Mutations since the live state last equalled the current snapshot.
    pub pending: u64,
    /// The id the next snapshot gets.
    pub next_id: u64,
}
