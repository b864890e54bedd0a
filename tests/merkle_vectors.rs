//! Pinned Merkle roots and node records: the hash and record formats of `docs/FORMAT.md` may
//! not change silently, whatever the in-memory node layout. Each case builds a tree, checks its
//! root against the value recorded when the format was fixed, and checks a digest of every node
//! record `encode_tree` emits (sorted by hash), so a layout change that alters one preimage or
//! one record fails here.

use lqft::Tree;
use lqft::tree::{decode_tree, encode_tree};

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The root and a digest of the sorted node records of `tree`, as hex.
fn fingerprint(tree: &Tree) -> (String, String) {
    let mut records = encode_tree(tree);
    records.sort();
    let mut all = blake3::Hasher::new();
    for (hash, bytes) in &records {
        all.update(hash);
        all.update(&(bytes.len() as u64).to_le_bytes());
        all.update(bytes);
    }
    (hex(&tree.root_hash()), hex(all.finalize().as_bytes()))
}

/// 2,000 random 16-byte keys with 100-byte values, then every third one removed.
fn random_tree() -> Tree {
    let mut s = 0x5eed_0001_u64;
    let mut tree = Tree::new();
    let mut keys = Vec::new();
    for i in 0..2_000u64 {
        let mut key = xorshift(&mut s).to_le_bytes().to_vec();
        key.extend_from_slice(&xorshift(&mut s).to_le_bytes());
        let mut value = vec![0u8; 100];
        value[..8].copy_from_slice(&i.to_le_bytes());
        tree.insert(&key, &value).unwrap();
        keys.push(key);
    }
    for key in keys.iter().step_by(3) {
        tree.remove(key).unwrap();
    }
    tree
}

/// Keys that are prefixes of one another, the empty key, shared long prefixes and short keys
/// over a small alphabet.
fn structured_tree() -> Tree {
    let mut tree = Tree::new();
    tree.insert(b"", b"empty").unwrap();
    for i in 0..500u32 {
        tree.insert(format!("user:{i:05}").as_bytes(), &i.to_le_bytes())
            .unwrap();
        tree.insert(format!("user:{i:05}/name").as_bytes(), b"n")
            .unwrap();
    }
    let long = vec![0xab_u8; 300];
    for tail in 0..40u8 {
        let mut key = long.clone();
        key.push(tail);
        tree.insert(&key, &[tail]).unwrap();
        tree.insert(&key[..200 + usize::from(tail)], b"").unwrap();
    }
    let mut s = 7u64;
    for _ in 0..800 {
        let len = (xorshift(&mut s) % 5) as usize;
        let key: Vec<u8> = (0..len)
            .map(|_| (xorshift(&mut s) % 3) as u8 * 0x11)
            .collect();
        if xorshift(&mut s).is_multiple_of(4) {
            tree.remove(&key).unwrap();
        } else {
            tree.insert(&key, &key).unwrap();
        }
    }
    tree
}

fn two_leaves() -> Tree {
    let mut tree = Tree::new();
    tree.insert(b"a", b"1").unwrap();
    tree.insert(b"b", b"2").unwrap();
    tree
}

fn one_leaf() -> Tree {
    let mut tree = Tree::new();
    tree.insert(b"only", b"value").unwrap();
    tree
}

/// (case, root, digest of the node records), recorded when the formats were fixed.
const PINNED: [(&str, &str, &str); 5] = [
    (
        "empty",
        "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    ),
    (
        "one leaf",
        "62088b914220369d1d06211dc2c780733befdd5378f56c40164acae026e2e805",
        "b03ae073d18bc8f98f89ecb82bc3535e39da742d70bf666775a6de0dded40d23",
    ),
    (
        "two leaves",
        "179c9914299466877b1f8b7ec1b904a1e49955a8703f8deac619f721fa72da43",
        "344b638a228237aff1427feafb6480178940869b685ded646158cd022b5a921c",
    ),
    (
        "random",
        "642b3d56ecc20a7ed48b43db75d18bf3e3968f4111b8cfb9bb2e9bb4c2cf1c7a",
        "7b47179955465f2b92202b487000362466a5f25c1ad4676a65d7e6ef9db57bdd",
    ),
    (
        "structured",
        "9cefa8a7466659ab98a8daf1776387fecec182f1f77d2dd4d6cd2d9246bcd21f",
        "27bf5a308a3a3d6e5a4ae8d10da27e2fbcb9b8e7a674e78678f62ee797011e0d",
    ),
];

fn build(case: &str) -> Tree {
    match case {
        "empty" => Tree::new(),
        "one leaf" => one_leaf(),
        "two leaves" => two_leaves(),
        "random" => random_tree(),
        "structured" => structured_tree(),
        _ => unreachable!("a pinned case"),
    }
}

#[test]
fn roots_and_records_are_pinned() {
    for (case, root, records) in PINNED {
        let tree = build(case);
        assert_eq!(
            fingerprint(&tree),
            (root.to_owned(), records.to_owned()),
            "{case}"
        );
        assert_eq!(tree.verify().unwrap(), tree.root_hash(), "{case}");
    }
}

#[test]
fn pinned_trees_decode_to_the_same_root() {
    for (case, root, records) in PINNED {
        let tree = build(case);
        let store: std::collections::HashMap<_, _> = encode_tree(&tree).into_iter().collect();
        let decoded = decode_tree(&tree.root_hash(), |hash| store.get(hash).cloned()).unwrap();
        assert_eq!(
            fingerprint(&decoded),
            (root.to_owned(), records.to_owned()),
            "{case}"
        );
        assert!(decoded.iter().eq(tree.iter()), "{case}");
    }
}
