//! The packs a store keeps open: at most a fixed number, the least recently used closed first.
//!
//! A pack opens on its first read and stays open until more packs are needed at once than the
//! bound allows. Reopening a pack reads its ordinal table again (5 bytes per record), so the
//! one closed is the pack whose last read is oldest: a large pack that reads keep going back
//! to stays open however many small packs are opened around it, where closing in the order of
//! opening would reopen it once per `capacity` other opens.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Open packs by id, each with the tick of its last use.
pub(super) struct OpenPacks<T> {
    capacity: usize,
    open: HashMap<u32, Open<T>>,
    /// The clock of uses: every [`get`](OpenPacks::get) and insert takes the next tick.
    clock: AtomicU64,
}

struct Open<T> {
    pack: Arc<T>,
    used: AtomicU64,
}

impl<T> OpenPacks<T> {
    /// An empty set that holds at most `capacity` packs (at least one).
    pub(super) fn new(capacity: usize) -> OpenPacks<T> {
        OpenPacks {
            capacity: capacity.max(1),
            open: HashMap::new(),
            clock: AtomicU64::new(0),
        }
    }

    /// Pack `id` if it is open, marked as used now. Takes `&self`, so readers holding a shared
    /// lock on the set can call it at once.
    pub(super) fn get(&self, id: u32) -> Option<Arc<T>> {
        let open = self.open.get(&id)?;
        open.used.store(self.tick(), Ordering::Relaxed);
        Some(Arc::clone(&open.pack))
    }

    /// Adds pack `id`, closing the least recently used packs while the set is full, and returns
    /// the pack now open under `id`: `pack`, or the one another thread opened first (then
    /// `pack` is dropped). A closed pack's file stays open until the reads holding it finish.
    pub(super) fn insert(&mut self, id: u32, pack: Arc<T>) -> Arc<T> {
        if let Some(raced) = self.get(id) {
            return raced;
        }
        while self.open.len() >= self.capacity {
            let coldest = self
                .open
                .iter()
                .min_by_key(|(_, open)| open.used.load(Ordering::Relaxed))
                .map(|(&id, _)| id);
            let Some(coldest) = coldest else { break };
            self.open.remove(&coldest);
        }
        let used = AtomicU64::new(self.tick());
        self.open.insert(
            id,
            Open {
                pack: Arc::clone(&pack),
                used,
            },
        );
        pack
    }

    /// The number of packs open.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.open.len()
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(set: &mut OpenPacks<u32>, id: u32) -> Arc<u32> {
        match set.get(id) {
            Some(pack) => pack,
            None => set.insert(id, Arc::new(id)),
        }
    }

    #[test]
    fn the_least_recently_used_pack_is_closed_first() {
        let mut set = OpenPacks::new(3);
        for id in [1, 2, 3] {
            open(&mut set, id);
        }
        // 1 is used again, so 2 is now the coldest.
        assert_eq!(set.get(1).as_deref(), Some(&1));
        open(&mut set, 4);
        assert_eq!(set.len(), 3);
        assert!(set.get(2).is_none(), "2 was the least recently used");
        for id in [1, 3, 4] {
            assert!(set.get(id).is_some(), "{id} stays open");
        }
    }

    #[test]
    fn a_pack_used_between_every_other_open_is_never_closed() {
        let mut set = OpenPacks::new(4);
        let big = open(&mut set, 0);
        for id in 1..1_000 {
            open(&mut set, id);
            let again = set.get(0).expect("the pack used all along stays open");
            assert!(Arc::ptr_eq(&again, &big));
            assert!(set.len() <= 4);
        }
    }

    #[test]
    fn an_insert_that_raced_returns_the_pack_already_open() {
        let mut set = OpenPacks::new(2);
        let first = set.insert(7, Arc::new(7));
        let second = set.insert(7, Arc::new(7));
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn a_closed_pack_stays_usable_by_its_holders() {
        let mut set = OpenPacks::new(1);
        let held = open(&mut set, 1);
        open(&mut set, 2);
        assert!(set.get(1).is_none());
        assert_eq!(*held, 1);
    }
}
