//! The in-memory tree's hot paths as separate functions, for counting their instructions.
//!
//! Run under callgrind by `scripts/instructions.sh`, which reads each `phase_*` function's
//! inclusive instruction count and divides it by the operations the phase printed. Counts are
//! deterministic (unlike wall-clock time on a shared machine), so two builds compare to the
//! instruction. Uses only API every version of the tree has had, so the script can build this
//! file against older commits too (the transaction and `ShardedMap` phases need a library that
//! has them). `-- --n N` picks the tree size (default 100,000); `-- --smoke`
//! runs N = 2,000 (for CI).

use std::hint::black_box;

use lqft::{Map, ShardedMap, Tree};

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// `n` random 16-byte keys.
fn keys(n: usize, state: &mut u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let mut k = Vec::with_capacity(16);
            k.extend_from_slice(&xorshift(state).to_le_bytes());
            k.extend_from_slice(&xorshift(state).to_le_bytes());
            k
        })
        .collect()
}

/// Prints how many operations phase `name` ran, for the script to divide by.
fn ops(name: &str, count: usize) {
    println!("phase_{name}\t{count}");
}

#[inline(never)]
fn phase_tree_insert(tree: &mut Tree, keys: &[Vec<u8>], value: &[u8]) {
    for k in keys {
        tree.insert(k, value).unwrap();
    }
}

#[inline(never)]
fn phase_tree_get_hit(tree: &Tree, keys: &[Vec<u8>]) -> usize {
    keys.iter().filter(|k| tree.get(k).is_some()).count()
}

/// Counts the keys absent (a body of its own: identical functions would be merged into one).
#[inline(never)]
fn phase_tree_get_miss(tree: &Tree, keys: &[Vec<u8>]) -> usize {
    keys.iter().filter(|k| tree.get(k).is_none()).count()
}

#[inline(never)]
fn phase_tree_iter(tree: &Tree) -> usize {
    tree.iter().map(|(k, v)| k[0] as usize + v.len()).sum()
}

#[inline(never)]
fn phase_tree_iter_back(tree: &Tree) -> usize {
    tree.iter()
        .rev()
        .map(|(k, v)| k[0] as usize + v.len())
        .sum()
}

#[inline(never)]
fn phase_tree_range100(tree: &Tree, starts: &[Vec<u8>]) -> usize {
    let top = [0xffu8; 17];
    starts
        .iter()
        .map(|start| {
            tree.range(start, &top)
                .take(100)
                .map(|(k, v)| k[0] as usize + v.len())
                .sum::<usize>()
        })
        .sum()
}

/// Inserts with the version before each insert kept alive: every insert copies its path.
#[inline(never)]
fn phase_tree_insert_shared(tree: &mut Tree, keys: &[Vec<u8>], value: &[u8]) {
    let mut kept = tree.clone();
    for k in keys {
        tree.insert(k, value).unwrap();
        kept = black_box(tree.clone());
    }
    drop(kept);
}

#[inline(never)]
fn phase_tree_diff100(a: &Tree, b: &Tree, rounds: usize) -> usize {
    (0..rounds).map(|_| a.diff(b).count()).sum()
}

#[inline(never)]
fn phase_tree_root_hash(tree: &Tree) -> [u8; 32] {
    tree.root_hash()
}

#[inline(never)]
fn phase_tree_remove(tree: &mut Tree, keys: &[Vec<u8>]) {
    for k in keys {
        tree.remove(k).unwrap();
    }
}

#[inline(never)]
fn phase_map_put(map: &Map, keys: &[Vec<u8>], value: &[u8]) {
    for k in keys {
        map.put(k, value).unwrap();
    }
}

#[inline(never)]
fn phase_map_get_hit(map: &Map, keys: &[Vec<u8>]) -> usize {
    keys.iter().filter(|k| map.get(k).is_some()).count()
}

#[inline(never)]
fn phase_map_get_miss(map: &Map, keys: &[Vec<u8>]) -> usize {
    keys.iter().filter(|k| map.get(k).is_none()).count()
}

/// Puts a new value under keys the map holds: the bare put a transaction is compared with.
#[inline(never)]
fn phase_map_update(map: &Map, keys: &[Vec<u8>], value: &[u8]) {
    for k in keys {
        map.put(k, value).unwrap();
    }
}

/// The same updates, each a transaction of one get and one put.
#[inline(never)]
fn phase_map_txn_get_put(map: &Map, keys: &[Vec<u8>], value: &[u8]) {
    for k in keys {
        let mut txn = map.begin();
        black_box(txn.get(k));
        txn.put(k, value).unwrap();
        txn.commit().unwrap();
    }
}

/// One put, then a snapshot of the map, per key.
#[inline(never)]
fn phase_map_put_snapshot(map: &Map, keys: &[Vec<u8>]) {
    for k in keys {
        map.put(k, b"snapshot").unwrap();
        black_box(map.snapshot());
    }
}

#[inline(never)]
fn phase_sharded16_put(map: &ShardedMap, keys: &[Vec<u8>], value: &[u8]) {
    for k in keys {
        map.put(k, value).unwrap();
    }
}

#[inline(never)]
fn phase_sharded16_get_hit(map: &ShardedMap, keys: &[Vec<u8>]) -> usize {
    keys.iter().filter(|k| map.get(k).is_some()).count()
}

/// One put, then a snapshot of all 16 shards as one cut, per key.
#[inline(never)]
fn phase_sharded16_put_snapshot(map: &ShardedMap, keys: &[Vec<u8>]) {
    for k in keys {
        map.put(k, b"snapshot").unwrap();
        black_box(map.snapshot());
    }
}

#[inline(never)]
fn phase_map_delete(map: &Map, keys: &[Vec<u8>]) {
    for k in keys {
        map.delete(k).unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let n: usize = args
        .iter()
        .position(|a| a == "--n")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("--n takes a number"))
        .unwrap_or(if smoke { 2_000 } else { 100_000 });
    let mut state = 0x9e37_79b9_7f4a_7c15;
    let hits = keys(n, &mut state);
    let misses = keys(n, &mut state);
    let value = [0x5au8; 100];

    let mut tree = Tree::new();
    phase_tree_insert(&mut tree, &hits, &value);
    ops("tree_insert", n);
    assert_eq!(phase_tree_get_hit(&tree, &hits), n);
    ops("tree_get_hit", n);
    assert_eq!(phase_tree_get_miss(&tree, &misses), n);
    ops("tree_get_miss", n);
    black_box(phase_tree_iter(&tree));
    ops("tree_iter", n);
    black_box(phase_tree_iter_back(&tree));
    ops("tree_iter_back", n);
    let scans = (n / 10).min(1000);
    black_box(phase_tree_range100(&tree, &misses[..scans]));
    ops("tree_range100", scans);

    let mut changed = tree.clone();
    let k = 100.min(n / 2);
    for key in hits.iter().step_by(2).take(k) {
        changed.insert(key, b"changed").unwrap();
    }
    let rounds = 100;
    assert_eq!(phase_tree_diff100(&tree, &changed, rounds), rounds * k);
    ops("tree_diff100", rounds);
    drop(changed);

    black_box(phase_tree_root_hash(&tree));
    ops("tree_root_hash", n);

    let shared = n / 10;
    phase_tree_insert_shared(&mut tree, &misses[..shared], &value);
    ops("tree_insert_shared", shared);

    phase_tree_remove(&mut tree, &hits);
    ops("tree_remove", n);
    drop(tree);

    let map = Map::new();
    phase_map_put(&map, &hits, &value);
    ops("map_put", n);
    assert_eq!(phase_map_get_hit(&map, &hits), n);
    ops("map_get_hit", n);
    assert_eq!(phase_map_get_miss(&map, &misses), n);
    ops("map_get_miss", n);
    phase_map_update(&map, &hits, &[0xa5; 100]);
    ops("map_update", n);
    phase_map_txn_get_put(&map, &hits, &value);
    ops("map_txn_get_put", n);
    let rounds = (n / 10).min(10_000);
    phase_map_put_snapshot(&map, &hits[..rounds]);
    ops("map_put_snapshot", rounds);
    phase_map_delete(&map, &hits);
    ops("map_delete", n);
    drop(map);

    let sharded = ShardedMap::new(16);
    phase_sharded16_put(&sharded, &hits, &value);
    ops("sharded16_put", n);
    assert_eq!(phase_sharded16_get_hit(&sharded, &hits), n);
    ops("sharded16_get_hit", n);
    phase_sharded16_put_snapshot(&sharded, &hits[..rounds]);
    ops("sharded16_put_snapshot", rounds);
}
