//! liblqft's store behind [`Engine`].

use std::path::Path;

use lqft::Batch;
use lqft::store::{Durability, Store, StoreOptions};

use crate::Engine;

/// liblqft's store with group commit: a commit is acknowledged after an `fdatasync` that the
/// commits arriving while the previous one ran share (a lone writer's commit has one of its
/// own). Reads go through a view of the store; the bulk load is [`Store::load`]: one atomic change
/// written as a checkpoint (no WAL), so the data is in packs as LMDB's is in its file.
pub struct Lqft {
    store: Store,
}

impl Lqft {
    fn at(dir: &Path) -> Lqft {
        let options = StoreOptions {
            durability: Durability::Group,
            ..StoreOptions::default()
        };
        Lqft {
            store: Store::open(dir, options).expect("open lqft store"),
        }
    }

    fn commit(&self, entries: &[(&[u8], &[u8])]) {
        commit(&self.store, entries);
    }

    /// The bulk load: one [`Store::load`], durable when it returns.
    pub fn load_into(store: &Store, entries: &[(&[u8], &[u8])]) {
        store.load(entries.iter().copied()).expect("lqft bulk load");
    }
}

/// One durable batch of `entries`.
fn commit(store: &Store, entries: &[(&[u8], &[u8])]) {
    let mut batch = Batch::new();
    for (key, value) in entries {
        batch.put(key, value).expect("lqft batch put");
    }
    store
        .map()
        .try_write_batch(&batch)
        .expect("lqft batch commit");
}

impl Engine for Lqft {
    const NAME: &'static str = "lqft";

    fn create(dir: &Path) -> Lqft {
        Lqft::at(dir)
    }

    fn open(dir: &Path) -> Lqft {
        Lqft::at(dir)
    }

    fn put_durable(&self, key: &[u8], value: &[u8]) {
        self.store.put(key, value).expect("lqft put");
    }

    fn batch_durable(&self, entries: &[(&[u8], &[u8])]) {
        self.commit(entries);
    }

    fn bulk_load(&self, entries: &[(&[u8], &[u8])]) {
        Lqft::load_into(&self.store, entries);
    }

    fn with_reader<R>(&self, read: impl FnOnce(&dyn Fn(&[u8]) -> Option<usize>) -> R) -> R {
        // A view is the store's read transaction: a version taken in O(1), which every read
        // borrows from, as LMDB's and redb's reads borrow from theirs.
        let view = self.store.view();
        read(&|key| view.try_get(key).expect("lqft get").map(<[u8]>::len))
    }
}
