//! A store's counters as JSON, for `lqft_store_stats_json` and `lqft store info`; the keys are
//! documented in `docs/STATS.md`.

use serde_json::{Value, json};

use super::handle::{Store, StoreCounters};

/// Version tag of the store stats document.
const STORE_STATS_FORMAT: &str = "lqft-store-stats-v1";

impl Store {
    /// The store's [`counters`](Store::counters) as a JSON object, each under its field's name,
    /// with `"format": "lqft-store-stats-v1"`. O(1): nothing is walked or read.
    pub fn stats(&self) -> Value {
        counters_json(&self.counters())
    }

    /// [`stats`](Store::stats) as compact JSON text.
    pub fn stats_json(&self) -> String {
        self.stats().to_string()
    }
}

/// `c` as the store stats document (also the `store` object of a store-backed map's stats).
pub(super) fn counters_json(c: &StoreCounters) -> Value {
    json!({
        "format": STORE_STATS_FORMAT,
        "wal_records": c.wal_records,
        "wal_bytes": c.wal_bytes,
        "wal_syncs": c.wal_syncs,
        "checkpoints": c.checkpoints,
        "node_loads": c.node_loads,
        "pack_opens": c.pack_opens,
        "manifest": c.manifest,
        "packs": c.packs,
        "cache_bytes": c.cache_bytes,
        "cache_bytes_in_use": c.cache_bytes_in_use,
        "cache_trims": c.cache_trims,
    })
}
