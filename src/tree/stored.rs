//! Nodes that live in a node source (the store's packs): locations, stored references and the
//! node records they are written as.
//!
//! A node is found by its [`Location`] and verified by its hash: a stored reference keeps the
//! location beside the hash its parent's Merkle preimage already holds, and a record read back
//! is checked against that hash, so the root hash authenticates every read. The record of a
//! node is a compact form of its Merkle preimage (lengths and header fields as varints, from
//! which the preimage is rebuilt to check the hash) followed, for a branch, by what a loaded
//! branch needs to rebuild its slots without loading its children: which children are pairs,
//! and where every child is stored (`docs/FORMAT.md`, "Stored node records").
//!
//! A pair (a branch of two leaves stored as two slots of its parent) has no record of its own:
//! its parent lists the locations of its two leaves, and loading either loads both and checks
//! them against the pair's hash. So a loaded branch has the same slots as the branch that was
//! written, pairs included.

use std::sync::{Arc, OnceLock};

use crate::error::{Error, MAX_KEY_LEN, Result};
use crate::tree::hash::{
    Hash, KIND_BRANCH, KIND_LEAF, branch_hash_of, child_hash, leaf_hash, pair_hash,
};
use crate::tree::node::{
    Branch, Child, END, Kids, RADIX, leaf_key, leaf_value, new_branch, new_leaf, pair_route,
    split_route,
};
use crate::varint::{put_varint, varint};

/// The format of stored node records: what a store's manifest names as its node format
/// (`docs/FORMAT.md`, "Stored node records"). Records carry no version byte of their own.
pub const STORED_NODE_FORMAT_VERSION: u32 = 2;

/// Where a node record is stored: opaque to the tree, chosen by the sink that wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// The pack holding the record.
    pub pack: u32,
    /// The record's number within the pack.
    pub ordinal: u32,
}

impl Location {
    /// The one location a sink may not return: it marks "not stored" inside nodes.
    pub const RESERVED: Location = Location {
        pack: u32::MAX,
        ordinal: u32::MAX,
    };
}

/// Where a store-backed tree loads its nodes from.
pub trait NodeSource: Send + Sync {
    /// The record bytes exactly as the sink was given them when it returned `at`.
    fn read(&self, at: Location) -> Result<Vec<u8>>;
}

/// A reference to a stored node (or to the two leaves of a stored pair), with a cell that keeps
/// the node once loaded. Slots refer to it through [`Child::Stored`]; the cell is filled at most
/// once and never emptied while the reference is shared, so a node read through it stays valid
/// as long as the slot does.
///
/// Laid out with the cell first, so that a read through a loaded reference touches one line
/// of it (after the reference counts) before the node itself.
#[repr(C)]
pub(crate) struct Stored {
    loaded: OnceLock<[Child; 2]>,
    /// The node's hash as its parent's preimage holds it (for a pair, the hash of the branch
    /// the pair stands for).
    hash: Hash,
    /// The node's location; a pair's two leaves.
    at: [Location; 2],
    pair: bool,
    source: Arc<dyn NodeSource>,
}

impl Stored {
    /// A slot for the node stored at `at` whose hash is `hash`.
    pub(crate) fn one(hash: Hash, at: Location, source: Arc<dyn NodeSource>) -> Child {
        let stored = Stored {
            hash,
            at: [at, at],
            pair: false,
            source,
            loaded: OnceLock::new(),
        };
        Child::Stored(Arc::new(stored), 0, crate::tree::node::Next::UNKNOWN, 0)
    }

    /// The two slots of a pair whose leaves are stored at `at`, and whose branch hashes to
    /// `hash`.
    pub(crate) fn pair(hash: Hash, at: [Location; 2], source: Arc<dyn NodeSource>) -> [Child; 2] {
        let stored = Arc::new(Stored {
            hash,
            at,
            pair: true,
            source,
            loaded: OnceLock::new(),
        });
        let unknown = crate::tree::node::Next::UNKNOWN;
        [
            Child::Stored(stored.clone(), 0, unknown, 0),
            Child::Stored(stored, 1, unknown, 0),
        ]
    }

    /// Where node `index` of this reference is stored.
    pub(crate) fn location(&self, index: u16) -> Location {
        self.at[usize::from(index)]
    }

    /// The hash of the node this reference stands for, when it is a single node (a pair's
    /// leaves have no hash of their own in the parent).
    pub(crate) fn single_hash(&self) -> Option<&Hash> {
        (!self.pair).then_some(&self.hash)
    }

    /// The hash of the pair, when this is one.
    pub(crate) fn pair_hash(&self) -> Option<&Hash> {
        self.pair.then_some(&self.hash)
    }

    /// Node `index`, if loaded.
    #[inline]
    pub(crate) fn loaded(&self, index: u16) -> Option<&Child> {
        self.loaded.get().map(|nodes| &nodes[usize::from(index)])
    }

    /// Node `index`, loaded (and verified) on first use.
    #[inline]
    pub(crate) fn node(&self, index: u16) -> Result<&Child> {
        match self.loaded(index) {
            Some(node) => Ok(node),
            None => self.load(index),
        }
    }

    /// Loads and verifies the node(s), keeps them, and returns node `index`.
    #[cold]
    #[inline(never)]
    fn load(&self, index: u16) -> Result<&Child> {
        let nodes = if self.pair {
            let leaves = [0, 1].map(|i| self.read_leaf(self.at[i]));
            let [a, b] = leaves;
            let (a, b) = (a?, b?);
            let (pos, bitmap) = {
                let (ka, kb) = (leaf_key_of(&a), leaf_key_of(&b));
                if ka >= kb {
                    return Err(self.corrupt("a stored pair's leaves are out of order"));
                }
                split_route(ka, kb)
            };
            let hashes = [leaf_hash(a.leaf().0), leaf_hash(b.leaf().0)];
            if branch_hash_of(pos, bitmap, &hashes) != self.hash {
                return Err(self.corrupt("a stored pair does not match its hash"));
            }
            [a, b]
        } else {
            let bytes = self.source.read(self.at[0])?;
            [self.decode(&bytes)?, Child::Vacant]
        };
        // A racing load of the same node keeps its own copy: both are the same node.
        let _ = self.loaded.set(nodes);
        Ok(self.loaded(index).expect("filled above"))
    }

    /// The loaded nodes, taken out of a reference no one else holds (to free them in a loop).
    pub(crate) fn take_loaded(&mut self) -> impl Iterator<Item = Child> {
        self.loaded.take().into_iter().flatten()
    }

    fn corrupt(&self, why: &str) -> Error {
        let at = self.at[0];
        Error::Corrupt(format!(
            "stored node at pack {} record {}: {why}",
            at.pack, at.ordinal
        ))
    }

    /// Reads and checks the leaf record at `at` (a leaf of this pair).
    fn read_leaf(&self, at: Location) -> Result<Child> {
        let bytes = self.source.read(at)?;
        let Record::Leaf { key, value } = self.parse(&bytes)? else {
            return Err(self.corrupt("a pair's record is not a leaf"));
        };
        let leaf = new_leaf(key, value);
        leaf.set_location(at);
        Ok(leaf)
    }

    /// The fields of a record, its form checked (not its hash).
    fn parse<'b>(&self, bytes: &'b [u8]) -> Result<Record<'b>> {
        let mut rest = bytes;
        let bad = |why: &str| self.corrupt(why);
        let Some((&kind, body)) = rest.split_first() else {
            return Err(bad("empty record"));
        };
        rest = body;
        match kind {
            KIND_LEAF => {
                let key_len = varint(&mut rest).ok_or_else(|| bad("truncated leaf header"))?;
                let value_len = varint(&mut rest).ok_or_else(|| bad("truncated leaf header"))?;
                if key_len > MAX_KEY_LEN as u64 || value_len > u64::from(u32::MAX) {
                    return Err(bad("leaf lengths out of range"));
                }
                if key_len + value_len != rest.len() as u64 {
                    return Err(bad("leaf lengths do not match the record's size"));
                }
                let (key, value) = rest.split_at(key_len as usize);
                Ok(Record::Leaf { key, value })
            }
            KIND_BRANCH => {
                let mut field = || varint(&mut rest).ok_or_else(|| bad("truncated branch header"));
                let (pos, bitmap, pairs) = (field()?, field()?, field()?);
                if pos > u64::from(MAX_POS)
                    || bitmap & !u64::from(BITMAP_MASK) != 0
                    || pairs & !bitmap != 0
                    || pairs & 1 << END != 0
                {
                    return Err(bad("branch header out of range"));
                }
                let (pos, bitmap, pairs) = (pos as u32, bitmap as u32, pairs as u32);
                let count = bitmap.count_ones() as usize;
                if count < 2 || pos % 2 == 1 && bitmap & 1 << END != 0 {
                    return Err(bad("branch header out of range"));
                }
                let Some((hashes, locations)) = rest.split_at_checked(32 * count) else {
                    return Err(bad("truncated child hashes"));
                };
                Ok(Record::Branch {
                    pos,
                    bitmap,
                    pairs,
                    hashes,
                    locations,
                })
            }
            _ => Err(bad("unknown node kind")),
        }
    }

    /// The node of a single record, checked against this reference's hash.
    fn decode(&self, bytes: &[u8]) -> Result<Child> {
        let node = match self.parse(bytes)? {
            Record::Leaf { key, value } => {
                let leaf = new_leaf(key, value);
                if leaf_hash(leaf.leaf().0) != self.hash {
                    return Err(self.corrupt("contents do not match the hash"));
                }
                leaf
            }
            Record::Branch {
                pos,
                bitmap,
                pairs,
                hashes,
                locations,
            } => {
                let mut hasher = blake3::Hasher::new();
                hasher.update(&crate::tree::hash::branch_header(pos, bitmap));
                hasher.update(hashes);
                if hasher.finalize().as_bytes() != &self.hash {
                    return Err(self.corrupt("contents do not match the hash"));
                }
                self.branch(pos, bitmap, pairs, hashes, locations)?
            }
        };
        node.set_location(self.at[0]);
        Ok(node)
    }

    /// A branch from its (verified) fields and its child locations: every child a stored
    /// reference.
    fn branch(
        &self,
        pos: u32,
        bitmap: u32,
        pairs: u32,
        hashes: &[u8],
        mut locations: &[u8],
    ) -> Result<Child> {
        let count = bitmap.count_ones() as usize;
        let slots = count + pairs.count_ones() as usize;
        let mut at = Vec::with_capacity(slots);
        let mut previous = Location {
            pack: 0,
            ordinal: 0,
        };
        for _ in 0..slots {
            previous = read_location(&mut locations, previous)
                .ok_or_else(|| self.corrupt("a child location is malformed or missing"))?;
            at.push(previous);
        }
        if !locations.is_empty() {
            return Err(self.corrupt("bytes after the child locations"));
        }
        let mut at = at.into_iter();
        let mut children = Vec::with_capacity(slots);
        let mut digits = bitmap;
        for hash in hashes.chunks_exact(32) {
            let d = digits.trailing_zeros();
            digits &= digits - 1;
            let hash: Hash = hash.try_into().expect("32-byte chunks");
            let mut next = || at.next().expect("counted above");
            if pairs & 1 << d != 0 {
                children.extend(Stored::pair(hash, [next(), next()], self.source.clone()));
            } else {
                children.push(Stored::one(hash, next(), self.source.clone()));
            }
        }
        let mut children = children.into_iter();
        let node = new_branch(pos, bitmap, pairs, |slots| {
            for slot in slots {
                crate::tree::node::put(slot, children.next().expect("one per slot"));
            }
        });
        let (branch, _) = node.as_branch().expect("a new branch");
        branch.hash.set(self.hash);
        Ok(node)
    }
}

/// A stored record's fields (`docs/FORMAT.md`, "Stored node records").
enum Record<'b> {
    Leaf {
        key: &'b [u8],
        value: &'b [u8],
    },
    Branch {
        pos: u32,
        bitmap: u32,
        pairs: u32,
        /// The child hashes, 32 bytes each, in digit order.
        hashes: &'b [u8],
        locations: &'b [u8],
    },
}

/// Appends `at`, relative to the location before it in the record (`previous`; the first is
/// relative to pack 0, ordinal 0): in the same pack, `zigzag(ordinal delta) << 1`; in another,
/// `pack << 1 | 1` then the ordinal, each a varint.
fn put_location(out: &mut Vec<u8>, at: Location, previous: Location) {
    if at.pack == previous.pack {
        let delta = i64::from(at.ordinal) - i64::from(previous.ordinal);
        let zigzag = ((delta << 1) ^ (delta >> 63)) as u64;
        put_varint(out, zigzag << 1);
    } else {
        put_varint(out, u64::from(at.pack) << 1 | 1);
        put_varint(out, u64::from(at.ordinal));
    }
}

/// Reads a location written by [`put_location`] after `previous`.
fn read_location(bytes: &mut &[u8], previous: Location) -> Option<Location> {
    let tag = varint(bytes)?;
    if tag & 1 == 1 {
        let pack = u32::try_from(tag >> 1).ok()?;
        let ordinal = u32::try_from(varint(bytes)?).ok()?;
        return Some(Location { pack, ordinal });
    }
    let zigzag = tag >> 1;
    let delta = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
    let ordinal = i64::from(previous.ordinal).checked_add(delta)?;
    Some(Location {
        pack: previous.pack,
        ordinal: u32::try_from(ordinal).ok()?,
    })
}

fn leaf_key_of(leaf: &Child) -> &[u8] {
    crate::tree::node::leaf_key(leaf.leaf().0)
}

const BITMAP_MASK: u32 = (1 << RADIX) - 1;
const MAX_POS: u32 = 2 * MAX_KEY_LEN as u32;

/// The stored record of a leaf.
#[cfg(test)]
pub(crate) fn stored_leaf_record(leaf: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    stored_leaf_record_into(&mut out, leaf);
    out
}

/// Appends the stored record of a leaf to `out`.
fn stored_leaf_record_into(out: &mut Vec<u8>, leaf: &[u8]) {
    let (key, value) = (leaf_key(leaf), leaf_value(leaf));
    out.reserve(1 + 3 + 5 + key.len() + value.len());
    out.push(KIND_LEAF);
    put_varint(out, key.len() as u64);
    put_varint(out, value.len() as u64);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

/// Appends to `out` the stored record of `branch`: its header fields, its pairs mask, its
/// children's hashes and the locations of its children's nodes in slot order (both leaves of
/// a pair).
fn stored_branch_record_into(out: &mut Vec<u8>, branch: &Branch, hashes: &[Hash], at: &[Location]) {
    out.reserve(1 + 5 + 3 + 3 + 32 * hashes.len() + 6 * at.len());
    out.push(KIND_BRANCH);
    put_varint(out, u64::from(branch.pos));
    put_varint(out, u64::from(branch.bitmap));
    put_varint(out, u64::from(branch.pairs));
    for hash in hashes {
        out.extend_from_slice(hash);
    }
    let mut previous = Location {
        pack: 0,
        ordinal: 0,
    };
    for &at in at {
        put_location(out, at, previous);
        previous = at;
    }
}

/// Writes the nodes below `root` that have no location, children first, through `write`;
/// returns the root's location. See [`Tree::store_new_nodes`](crate::tree::Tree).
///
/// Every node is hashed at most once, during the walk: a node written now is hashed when it is
/// written (a branch from its children's hashes, which the walk has by then, unless it has one
/// cached already, and it keeps the hash it gets), a stored node's hash is known. Records are
/// built in one reused buffer: each is written before the next is built.
pub(crate) fn store_new_nodes(
    root: &Child,
    write: &mut dyn FnMut(&[u8]) -> Result<Location>,
) -> Result<Location> {
    if let Some(at) = root.location() {
        return Ok(at);
    }
    let mut record = Vec::new();
    // The location and hash of a leaf slot, writing the leaf if it has no location.
    let mut leaf = |slot: &Child,
                    write: &mut dyn FnMut(&[u8]) -> Result<Location>|
     -> Result<(Location, Hash)> {
        if let Some(at) = slot.location() {
            return Ok((at, child_hash(slot)));
        }
        let bytes = slot.leaf().0;
        record.clear();
        stored_leaf_record_into(&mut record, bytes);
        let at = write(&record)?;
        slot.set_location(at);
        Ok((at, leaf_hash(bytes)))
    };
    let Some((root_branch, _)) = root.as_branch() else {
        return Ok(leaf(root, write)?.0);
    };
    /// A branch being written: its slot, its children not visited yet, and the hashes and
    /// locations of those visited.
    struct Frame<'a> {
        node: &'a Child,
        branch: &'a Branch,
        kids: Kids<'a>,
        hashes: Vec<Hash>,
        at: Vec<Location>,
    }
    fn frame<'a>(node: &'a Child, branch: &'a Branch) -> Frame<'a> {
        Frame {
            node,
            branch,
            kids: branch.kids(),
            hashes: Vec::with_capacity(RADIX),
            at: Vec::with_capacity(2 * RADIX),
        }
    }
    let mut frames = vec![frame(root, root_branch)];
    let mut branch_record = Vec::new();
    loop {
        let top = frames.last_mut().expect("the loop returns with the root");
        match top.kids.next() {
            Some((_, [child])) => match child.location() {
                Some(at) => {
                    top.hashes.push(child_hash(child));
                    top.at.push(at);
                }
                None => match child.as_branch() {
                    Some((branch, _)) => frames.push(frame(child, branch)),
                    None => {
                        let (at, hash) = leaf(child, write)?;
                        top.at.push(at);
                        top.hashes.push(hash);
                    }
                },
            },
            Some((_, pair)) => {
                if let (Some(a), Some(b)) = (pair[0].location(), pair[1].location()) {
                    // Both stored: a stored pair's hash is known without loading it.
                    top.at.extend([a, b]);
                    top.hashes.push(pair_hash(pair));
                    continue;
                }
                let [(a, ha), (b, hb)] = [leaf(&pair[0], write)?, leaf(&pair[1], write)?];
                let (pos, bitmap) = pair_route(pair);
                top.at.extend([a, b]);
                top.hashes.push(branch_hash_of(pos, bitmap, &[ha, hb]));
            }
            None => {
                let done = frames.pop().expect("the top frame");
                let branch = done.branch;
                let hash = match branch.hash.get() {
                    Some(hash) => *hash,
                    None => {
                        let hash = branch_hash_of(branch.pos, branch.bitmap, &done.hashes);
                        branch.hash.set(hash);
                        hash
                    }
                };
                branch_record.clear();
                stored_branch_record_into(&mut branch_record, branch, &done.hashes, &done.at);
                let at = write(&branch_record)?;
                // The branch is hashed, so it keeps its location.
                done.node.set_location(at);
                let Some(parent) = frames.last_mut() else {
                    return Ok(at);
                };
                parent.hashes.push(hash);
                parent.at.push(at);
            }
        }
    }
}

/// What [`rebuild`] does to the nodes of a version.
pub(crate) enum Rebuild<'s> {
    /// Every reference to a loaded node is replaced by the node itself.
    Inline,
    /// Every stored subtree at or below `depth` levels under the root (a branch or leaf with a
    /// location: its whole subtree is stored, unchanged) becomes an unloaded reference into
    /// `source`.
    Unload {
        depth: usize,
        source: &'s Arc<dyn NodeSource>,
    },
}

/// The replacement for `root` that `how` asks for, or `None` when nothing changes. Branches
/// that change are copied (their hash and location carried over: the subtree they stand for
/// is the same); the others stay shared. Loads nothing.
pub(crate) fn rebuild(root: &Child, how: &Rebuild<'_>) -> Option<Child> {
    /// A branch being rebuilt (held by the walk), the slot it visits next, the replacements
    /// of its slots so far, and whether it replaces the slot it came from.
    struct Frame {
        node: Child,
        next: usize,
        replaced: Vec<(usize, Child)>,
        replaces: bool,
    }
    // A slot's replacement, if it has one, and whether the walk looks into the node it stands
    // for afterwards (a branch in memory).
    let visit = |slot: &Child, depth: usize| -> (Option<Child>, bool) {
        match how {
            Rebuild::Inline => match slot {
                Child::Stored(stored, index, ..) => match stored.loaded(*index) {
                    Some(node) => (Some(node.clone()), node.is_branch_in_memory()),
                    None => (None, false),
                },
                _ => (None, slot.is_branch_in_memory()),
            },
            // Above `from`, loaded nodes are inlined so the walk can reach the levels below.
            Rebuild::Unload { depth: from, .. } if depth < *from => match slot {
                Child::Stored(stored, index, ..) => match stored.loaded(*index) {
                    Some(node) => (Some(node.clone()), node.is_branch_in_memory()),
                    None => (None, false),
                },
                _ => (None, slot.is_branch_in_memory()),
            },
            Rebuild::Unload { source, .. } => match slot {
                Child::Stored(stored, index, ..) => match stored.loaded(*index) {
                    // A fresh reference, without the loaded node (a leaf of a pair becomes a
                    // reference to its own record).
                    Some(node) => {
                        let hash = child_hash(node);
                        let at = stored.location(*index);
                        (Some(Stored::one(hash, at, stored.source.clone())), false)
                    }
                    None => (None, false),
                },
                _ => match slot.location() {
                    Some(at) => {
                        let hash = child_hash(slot);
                        (Some(Stored::one(hash, at, Arc::clone(source))), false)
                    }
                    None => (None, slot.is_branch_in_memory()),
                },
            },
        }
    };
    let (replacement, descend) = visit(root, 0);
    if !descend {
        return replacement;
    }
    let mut frames = vec![Frame {
        replaces: replacement.is_some(),
        node: replacement.unwrap_or_else(|| root.clone()),
        next: 0,
        replaced: Vec::new(),
    }];
    loop {
        let depth = frames.len();
        let top = frames.last_mut().expect("the loop returns with the root");
        let (branch, _) = top.node.as_branch().expect("frames hold branches");
        if let Some(slot) = branch.children().get(top.next) {
            top.next += 1;
            let (replacement, descend) = visit(slot, depth);
            match (replacement, descend) {
                (replacement, true) => {
                    let frame = Frame {
                        replaces: replacement.is_some(),
                        node: replacement.unwrap_or_else(|| slot.clone()),
                        next: 0,
                        replaced: Vec::new(),
                    };
                    frames.push(frame);
                }
                (Some(replacement), false) => top.replaced.push((top.next - 1, replacement)),
                (None, false) => {}
            }
            continue;
        }
        let done = frames.pop().expect("the top frame");
        let result = if done.replaced.is_empty() {
            done.replaces.then_some(done.node)
        } else {
            let (branch, _) = done.node.as_branch().expect("frames hold branches");
            let mut replaced = done.replaced.into_iter().peekable();
            let copy = Branch::from_fn(branch.pos, branch.bitmap, branch.pairs, |i| match replaced
                .next_if(|(at, _)| *at == i)
            {
                Some((_, slot)) => slot,
                None => branch.slots[i].clone(),
            });
            if let Some(hash) = branch.hash.get() {
                let (new, _) = copy.as_branch().expect("a new branch");
                new.hash.set(*hash);
                if let Some(at) = branch.hash.location() {
                    new.hash.set_location(at);
                }
            }
            Some(copy)
        };
        match frames.last_mut() {
            None => return result,
            Some(parent) => {
                if let Some(result) = result {
                    parent.replaced.push((parent.next - 1, result));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_round_trip_relative_to_the_one_before() {
        let at = |pack, ordinal| Location { pack, ordinal };
        let locations = [
            at(1, 5),
            at(1, 6),
            at(1, 2),
            at(3, u32::MAX),
            at(3, 0),
            at(0, 0),
            at(u32::MAX, 7),
        ];
        let mut out = Vec::new();
        let mut previous = at(0, 0);
        for &l in &locations {
            put_location(&mut out, l, previous);
            previous = l;
        }
        let mut bytes = &out[..];
        let mut previous = at(0, 0);
        for &l in &locations {
            previous = read_location(&mut bytes, previous).unwrap();
            assert_eq!(previous, l);
        }
        assert!(bytes.is_empty());
        // A neighbour in the same pack costs one byte; an ordinal past u32 is refused.
        let mut one = Vec::new();
        put_location(&mut one, at(1, 6), at(1, 5));
        assert_eq!(one.len(), 1);
        let mut past = Vec::new();
        put_location(&mut past, at(1, u32::MAX), at(1, 0));
        assert_eq!(read_location(&mut &past[..], at(1, 1)), None);
    }

    #[test]
    fn a_leaf_record_is_its_kind_two_varint_lengths_and_its_bytes() {
        let leaf = new_leaf(&[7; 16], &[9; 100]);
        let record = stored_leaf_record(leaf.leaf().0);
        assert_eq!(record.len(), 1 + 1 + 1 + 116);
        assert_eq!(record[..3], [KIND_LEAF, 16, 100]);
    }

    /// Keys of mixed lengths with shared prefixes (pairs, end markers, deep branches) and
    /// their values.
    fn tree_of(n: u32, seed: u32) -> crate::tree::Tree {
        let mut tree = crate::tree::Tree::new();
        for i in 0..n {
            let x = i.wrapping_mul(2_654_435_761) ^ seed;
            let key: Vec<u8> = (0..x % 7).map(|j| (x >> (3 * j)) as u8 & 0x33).collect();
            tree.insert(&key, &x.to_le_bytes()).unwrap();
        }
        tree
    }

    #[test]
    fn storing_new_nodes_hashes_the_branches_it_writes_to_the_in_memory_hashes() {
        let mut records = Vec::new();
        let mut sink = |record: &[u8]| {
            records.push(record.to_vec());
            Ok(Location {
                pack: 1,
                ordinal: records.len() as u32 - 1,
            })
        };
        let mut tree = tree_of(3_000, 0);
        let root = tree.root().unwrap().clone();
        tree.store_new_nodes(&mut sink).unwrap();
        // The walk left the root's hash cached: the one a tree built alike computes.
        let (branch, _) = root.as_branch().unwrap();
        assert_eq!(branch.hash.get(), Some(&tree_of(3_000, 0).root_hash()));
        // Edited after storing: the new nodes beside stored ones hash as in memory too.
        for i in 0..50u32 {
            tree.insert(&i.to_be_bytes(), b"edited").unwrap();
        }
        let mut fresh = tree_of(3_000, 0);
        for i in 0..50u32 {
            fresh.insert(&i.to_be_bytes(), b"edited").unwrap();
        }
        let root = tree.root().unwrap().clone();
        tree.store_new_nodes(&mut sink).unwrap();
        let (branch, _) = root.as_branch().unwrap();
        assert_eq!(branch.hash.get(), Some(&fresh.root_hash()));
    }
}
