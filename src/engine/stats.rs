//! Counted statistics as JSON. Every figure is counted when asked for; see `docs/STATS.md` for
//! the meaning of each key.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::engine::map::{Counters, Map};
use crate::engine::sharded::ShardedMap;
use crate::engine::sharded_version::ShardedSnapshot;
use crate::engine::snapshot::Snapshot;
use crate::error::Result;
use crate::tree::{Census, Tree, census};

/// Version tag of the stats document.
const STATS_FORMAT: &str = "lqft-stats-v1";

impl Map {
    /// Counted statistics of the live state, the retained snapshots and the map's history.
    ///
    /// Walks every node reachable from the live state and the registered snapshots, so it costs
    /// O(nodes); the keys are documented in `docs/STATS.md`. On a store-backed map the walk
    /// loads stored nodes and panics on a failed load: use [`try_stats`](Map::try_stats).
    pub fn stats(&self) -> Value {
        self.try_stats()
            .unwrap_or_else(|error| panic!("a stored node failed to load in Map::stats: {error}"))
    }

    /// [`stats`](Map::stats) as compact JSON text.
    pub fn stats_json(&self) -> String {
        self.stats().to_string()
    }

    /// [`stats`](Map::stats), reporting a failed load of a stored node (on a store-backed
    /// map) as an error. One walk over the versions, outside the map's lock: the versions and
    /// counters are taken together under it (O(1) per version), then walked.
    pub fn try_stats(&self) -> Result<Value> {
        let state = self.state.lock();
        let pinned = self.pins.lock().len() as u64;
        let mut versions: Vec<Tree> = vec![self.view()];
        versions.extend(state.registry.values().map(|s| s.tree().clone()));
        let pending = state.pending;
        let c = state.counters.clone();
        let retained = state.registry.len();
        let current_id = state.current.as_ref().map(|s| s.id());
        let next_id = state.next_id;
        drop(state);
        let tree = &versions[0];
        let (live, all) = census(&versions.iter().collect::<Vec<_>>(), 1)?;
        let mut stats = json!({
            "format": STATS_FORMAT,
            "items": tree.len(),
            "key_bytes": tree.key_bytes(),
            "value_bytes": tree.value_bytes(),
            "pending_mutations": pending,
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
                "retained": retained,
                "pinned": pinned,
                "current_id": current_id,
                "next_id": next_id,
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
        Ok(stats)
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

impl ShardedMap {
    /// Counted statistics as [`Map::stats`] gives them, for the whole map as of one cut, plus
    /// `shard_count` and per-shard figures under `shards` (`docs/STATS.md`). The history's
    /// figures (snapshots, compaction, rollbacks) are the sharded map's own.
    ///
    /// Walks every node reachable from the live state and the registered snapshots: O(nodes).
    pub fn stats(&self) -> Value {
        let history = self.history.lock();
        let pinned = self.pins.lock().len() as u64;
        // Every shard's writer lock at once: one cut of the live states and their counters.
        let states: Vec<_> = self.shards.iter().map(Map::lock_writer).collect();
        let shards: Vec<(Tree, u64, Counters)> = self
            .shards
            .iter()
            .zip(&states)
            .map(|(shard, state)| (shard.view(), state.pending, state.counters.clone()))
            .collect();
        drop(states);
        let registered: Vec<ShardedSnapshot> = history.registry.values().cloned().collect();
        let h = history.counters.clone();
        let current_id = history.current.as_ref().map(ShardedSnapshot::id);
        let next_id = history.next_id;
        let retained = history.registry.len();
        drop(history);

        let trees: Vec<&Tree> = shards.iter().map(|(tree, ..)| tree).collect();
        let mut versions = trees.clone();
        versions.extend(
            registered
                .iter()
                .flat_map(|s| s.shards().iter().map(Snapshot::tree)),
        );
        let census = |versions: &[&Tree], first| {
            census(versions, first).expect("a sharded map's shards hold no stored nodes")
        };
        let (live, all) = census(&versions, trees.len());
        let sum = |field: fn(&Tree, u64, &Counters) -> u64| -> u64 {
            shards.iter().map(|(t, p, c)| field(t, *p, c)).sum()
        };
        let per_shard: Vec<Value> = shards
            .iter()
            .map(|(tree, pending, c)| {
                json!({
                    "items": tree.len(),
                    "key_bytes": tree.key_bytes(),
                    "value_bytes": tree.value_bytes(),
                    "pending_mutations": pending,
                    "live": nodes(&census(&[tree], 1).0),
                    "operations": {
                        "puts": c.puts,
                        "deletes": c.deletes,
                        "clears": c.clears,
                        "batches": c.batches,
                    },
                })
            })
            .collect();
        json!({
            "format": STATS_FORMAT,
            "items": sum(|t, _, _| t.len()),
            "key_bytes": sum(|t, _, _| t.key_bytes()),
            "value_bytes": sum(|t, _, _| t.value_bytes()),
            "pending_mutations": sum(|_, p, _| p),
            "live": nodes(&live),
            "retained": {
                "versions": 1 + registered.len(),
                "nodes": nodes(&all),
                "shared_nodes": all.shared_nodes,
            },
            "snapshots": {
                "registered": h.snapshots_taken + h.snapshots_imported,
                "taken": h.snapshots_taken,
                "imported": h.snapshots_imported,
                "retained": retained,
                "pinned": pinned,
                "current_id": current_id,
                "next_id": next_id,
            },
            "compaction": {
                "runs": h.compactions,
                "snapshots_pruned": h.snapshots_pruned,
            },
            "operations": {
                "puts": sum(|_, _, c| c.puts),
                "deletes": sum(|_, _, c| c.deletes),
                "clears": self.clears.load(Ordering::Relaxed),
                "batches": self.batches.load(Ordering::Relaxed),
                "rollbacks": h.rollbacks,
                "discarded_mutations": h.discarded_mutations,
            },
            "shard_count": self.shards.len(),
            "shards": per_shard,
        })
    }

    /// [`stats`](ShardedMap::stats) as compact JSON text.
    pub fn stats_json(&self) -> String {
        self.stats().to_string()
    }
}
