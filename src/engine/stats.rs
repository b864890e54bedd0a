//! Counted statistics as JSON. Every figure is counted when asked for; see `docs/STATS.md` for
//! the meaning of each key.

use serde_json::{Value, json};

use crate::engine::map::Map;
use crate::error::Result;
use crate::tree::{Census, Tree, census};

/// Version tag of the stats document.
const STATS_FORMAT: &str = "lqft-stats-v1";

impl Map {
    /// Counted statistics of the live state, the retained snapshots and the map's history.
    ///
    /// Walks every node reachable from the live state and the registered snapshots, so it costs
    /// O(nodes); the keys are documented in `docs/STATS.md`.
    pub fn stats(&self) -> Value {
        let state = self.state.lock();
        let pinned = self.pins.lock().len() as u64;
        let tree = self.view();
        let live = census(&[&tree]);
        let mut versions: Vec<&Tree> = vec![&tree];
        versions.extend(state.registry.values().map(|s| s.tree()));
        let all = census(&versions);
        let c = &state.counters;
        let mut stats = json!({
            "format": STATS_FORMAT,
            "items": tree.len(),
            "key_bytes": tree.key_bytes(),
            "value_bytes": tree.value_bytes(),
            "pending_mutations": state.pending,
            "live": nodes(&live),
            "retained": {
                "versions": versions.len(),
                "nodes": nodes(&all),
                "shared_nodes": all.shared_nodes,
            },
            "snapshots": {
                "registered": c.snapshots_taken + c.snapshots_imported,
                "taken": c.snapshots_taken,
                "imported": c.snapshots_imported,
                "retained": state.registry.len(),
                "pinned": pinned,
                "current_id": state.current.as_ref().map(|s| s.id()),
                "next_id": state.next_id,
            },
            "compaction": {
                "runs": c.compactions,
                "snapshots_pruned": c.snapshots_pruned,
            },
            "operations": {
                "puts": c.puts,
                "deletes": c.deletes,
                "clears": c.clears,
                "batches": c.batches,
                "rollbacks": c.rollbacks,
                "discarded_mutations": c.discarded_mutations,
            },
        });
        if let Some(store) = self.journal_stats() {
            stats["store"] = store;
        }
        stats
    }

    /// [`stats`](Map::stats) as compact JSON text.
    pub fn stats_json(&self) -> String {
        self.stats().to_string()
    }

    /// [`stats`](Map::stats) for a store-backed map: loads every stored node of the live state
    /// and the registered snapshots first, reporting a failed load as an error (`stats` loads
    /// them too, but panics on a failed load).
    pub fn try_stats(&self) -> Result<Value> {
        let (image, ()) = self.image_with(|| ());
        let versions = std::iter::once(&image.live).chain(image.snapshots.iter().map(|(_, t)| t));
        for tree in versions {
            tree.try_iter().try_for_each(|entry| entry.map(drop))?;
        }
        Ok(self.stats())
    }
}

fn nodes(census: &Census) -> Value {
    json!({
        "leaf_nodes": census.leaves,
        "branch_nodes": census.branches,
        "node_bytes": census.node_bytes,
        "structure_bytes": census.node_bytes - census.payload_bytes,
        "max_depth": census.max_depth,
    })
}
