//! Lazy blake3 Merkle hashing.
//!
//! A node's hash is blake3 over its canonical preimage (see `docs/FORMAT.md`, "Merkle hashes"):
//!
//! ```text
//! empty tree: 0x00
//! leaf:       0x01 | key_len u16 LE | value_len u32 LE | key | value
//! branch:     0x02 | pos u32 LE | bitmap u32 LE | child hash × popcount(bitmap), in digit order
//! ```
//!
//! The leading kind byte separates the domains. Branch hashes are cached in the branch on first
//! request and a branch is never mutated while shared, so a cached hash stays valid; leaf hashes
//! are recomputed when needed (a leaf is hashed once per parent recomputation).

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

use crate::tree::node::{
    Branch, Child, Kids, NOWHERE, Node, leaf_key, leaf_value, pack, pair_route, unpack,
};
use crate::tree::stored::Location;

/// A blake3 Merkle hash.
pub type Hash = [u8; 32];

/// A branch's cached hash, and where the branch is stored once it is (a branch is written
/// only after it is hashed: its parent's record holds the hash). Boxed so that an unhashed
/// branch pays one word for it and the children start close to the branch header.
#[derive(Default)]
pub(crate) struct HashCell(OnceLock<Box<Hashed>>);

/// What a hashed branch remembers about itself.
pub(crate) struct Hashed {
    hash: Hash,
    at: AtomicU64,
}

impl HashCell {
    /// The cached hash, if computed.
    #[inline]
    pub(crate) fn get(&self) -> Option<&Hash> {
        self.0.get().map(|hashed| &hashed.hash)
    }

    /// Where the branch is stored, if it was written or loaded since it was last changed.
    #[inline]
    pub(crate) fn location(&self) -> Option<Location> {
        self.0.get().and_then(|hashed| unpack(&hashed.at))
    }

    /// Records where the (hashed) branch is stored.
    pub(crate) fn set_location(&self, at: Location) {
        if let Some(hashed) = self.0.get() {
            pack(&hashed.at, at);
        }
    }

    /// Forgets the cached hash (the branch is being edited in place).
    #[inline]
    pub(crate) fn clear(&mut self) {
        if self.0.get().is_some() {
            self.0 = OnceLock::new();
        }
    }

    /// Bytes allocated for the cached hash: none until it is computed.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.get().map_or(0, size_of_val)
    }

    /// Caches `hash`; a hash already cached stays (both are the same value).
    pub(crate) fn set(&self, hash: Hash) {
        let _ = self.0.set(Box::new(Hashed {
            hash,
            at: AtomicU64::new(NOWHERE),
        }));
    }
}

pub(crate) const KIND_EMPTY: u8 = 0x00;
pub(crate) const KIND_LEAF: u8 = 0x01;
pub(crate) const KIND_BRANCH: u8 = 0x02;

/// The hash of the empty tree.
pub(crate) fn empty_hash() -> Hash {
    *blake3::hash(&[KIND_EMPTY]).as_bytes()
}

/// The hash of a leaf.
pub(crate) fn leaf_hash(leaf: &[u8]) -> Hash {
    let key = leaf_key(leaf);
    let value = leaf_value(leaf);
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[KIND_LEAF]);
    hasher.update(&(key.len() as u16).to_le_bytes());
    hasher.update(&(value.len() as u32).to_le_bytes());
    hasher.update(key);
    hasher.update(value);
    *hasher.finalize().as_bytes()
}

/// The header of a branch preimage, before the child hashes.
pub(crate) fn branch_header(pos: u32, bitmap: u32) -> [u8; 9] {
    let mut header = [0u8; 9];
    header[0] = KIND_BRANCH;
    header[1..5].copy_from_slice(&pos.to_le_bytes());
    header[5..9].copy_from_slice(&bitmap.to_le_bytes());
    header
}

/// The hash of a branch from its header fields and child hashes.
pub(crate) fn branch_hash_of(pos: u32, bitmap: u32, child_hashes: &[Hash]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&branch_header(pos, bitmap));
    for hash in child_hashes {
        hasher.update(hash);
    }
    *hasher.finalize().as_bytes()
}

/// The hash of any node, computing and caching the hashes of branches that have none yet.
///
/// Iterative: pending child hashes wait on one shared stack, so the deepest tree the key limit
/// allows costs heap, not call stack.
pub(crate) fn child_hash(child: &Child) -> Hash {
    if let Some(hash) = stored_hash(child) {
        return *hash;
    }
    match child.node() {
        Node::Leaf(leaf) => leaf_hash(leaf),
        Node::Branch(branch, _) => branch_hash(branch),
    }
}

/// The hash of the branch a pair (two leaf slots) stands for. Pairs cache nothing: the hash is
/// computed each time the parent's is.
pub(crate) fn pair_hash(pair: &[Child]) -> Hash {
    if let Some(hash) = stored_pair_hash(&pair[0], &pair[1]) {
        return *hash;
    }
    let (pos, bitmap) = pair_route(pair);
    let leaves = [0, 1].map(|i| leaf_hash(pair[i].leaf().0));
    branch_hash_of(pos, bitmap, &leaves)
}

/// The hash of a child given as its slots: one, or the two of a pair.
pub(crate) fn kid_hash(slots: &[Child]) -> Hash {
    match slots {
        [child] => child_hash(child),
        pair => pair_hash(pair),
    }
}

fn branch_hash(root: &Branch) -> Hash {
    if let Some(hash) = root.hash.get() {
        return *hash;
    }
    // Frames of (branch, its children not hashed yet, where its child hashes start).
    let mut frames: Vec<(&Branch, Kids<'_>, usize)> = vec![(root, root.kids(), 0)];
    let mut hashes: Vec<Hash> = Vec::new();
    while let Some((branch, kids, base)) = frames.last_mut() {
        let Some((_, slots)) = kids.next() else {
            let hash = branch_hash_of(branch.pos, branch.bitmap, &hashes[*base..]);
            branch.hash.set(hash);
            hashes.truncate(*base);
            hashes.push(hash);
            frames.pop();
            continue;
        };
        if slots.len() == 2 {
            hashes.push(pair_hash(slots));
            continue;
        }
        if let Some(hash) = stored_hash(&slots[0]) {
            hashes.push(*hash);
            continue;
        }
        match slots[0].node() {
            Node::Leaf(leaf) => hashes.push(leaf_hash(leaf)),
            Node::Branch(child, _) => match child.hash.get() {
                Some(hash) => hashes.push(*hash),
                None => frames.push((child, child.kids(), hashes.len())),
            },
        }
    }
    hashes[0]
}

/// The hash of a branch only if it is already cached, or of a stored node (known without
/// loading it).
#[inline]
pub(crate) fn cached_hash(child: &Child) -> Option<&Hash> {
    match child {
        Child::Stored(stored, ..) => stored.single_hash(),
        // Not a stored slot: the in-memory arms alone.
        _ => child
            .as_branch_of::<false>()
            .and_then(|(branch, _)| branch.hash.get()),
    }
}

/// The hash of the node a stored slot stands for, known without loading it (not for a slot
/// holding one leaf of a stored pair).
#[inline]
fn stored_hash(child: &Child) -> Option<&Hash> {
    match child {
        Child::Stored(stored, ..) => stored.single_hash(),
        _ => None,
    }
}

/// The hash of a pair whose two slots are the two leaves of one stored pair, known without
/// loading them.
#[inline]
pub(crate) fn stored_pair_hash<'a>(first: &'a Child, second: &Child) -> Option<&'a Hash> {
    match (first, second) {
        (Child::Stored(a, 0, ..), Child::Stored(b, 1, ..)) if std::sync::Arc::ptr_eq(a, b) => {
            a.pair_hash()
        }
        _ => None,
    }
}
