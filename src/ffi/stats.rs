//! Counted statistics as JSON.

use super::args::{Out, handle};
use super::bytes::lqft_bytes;
use super::guard::call;
use super::map::{Kind, lqft_map};
use super::status::*;

/// Stores the map's counted statistics as compact JSON text (UTF-8, NUL-terminated) in `*out`:
/// items, key and value bytes, nodes by kind, structure bytes, snapshots registered / retained
/// / pinned, shared nodes, compaction and operation counters (every key is documented in
/// `docs/STATS.md`). A sharded map's JSON has the same keys for the whole map (one cut) plus
/// `shard_count` and per-shard figures under `shards`. Costs O(nodes) across the live state
/// and retained snapshots.
///
/// Ownership: the caller owns `*out` and releases it with `lqft_bytes_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`; `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` when a node of a
/// store-backed map fails to load (the count loads every node first; nothing written).
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_stats_json(
    map: *const lqft_map,
    out: *mut lqft_bytes,
) -> lqft_status {
    call("lqft_map_stats_json", || {
        // SAFETY: the caller promised a live map and a writable `out`.
        let (map, out) = unsafe { (handle(map, "map")?, Out::new(out, "out")?) };
        let json = match &map.kind {
            Kind::Plain(map) => map.try_stats()?.to_string(),
            Kind::Sharded(map) => map.stats_json(),
        };
        out.write(lqft_bytes::copy_of(json.as_bytes()));
        Ok(LQFT_OK)
    })
}
