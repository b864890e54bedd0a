//! The versioned node codec: how a node is written to and read from bytes.
//!
//! A node record is `[NODE_FORMAT_VERSION][preimage]`, where the preimage is the node's Merkle
//! preimage (see `hash`): a branch names its children by their hashes, so a stored tree is
//! content addressed and every node read back is checked against the hash it was asked for.
//! The byte layout is in `docs/FORMAT.md`, "Node records".

use crate::error::{Error, MAX_KEY_LEN, Result};
use crate::tree::Tree;
use crate::tree::hash::{
    Hash, KIND_BRANCH, KIND_LEAF, branch_header, child_hash, empty_hash, kid_hash, pair_hash,
};
use crate::tree::node::{
    Branch, Child, END, Kids, Next, RADIX, leaf_key, leaf_value, new_leaf, pair_route,
};

/// Version byte that starts every node record.
pub const NODE_FORMAT_VERSION: u8 = 1;

const LEAF_HEADER: usize = 1 + 2 + 4;
const BRANCH_HEADER: usize = 1 + 4 + 4;
/// Bitmap bits a branch may use: the end marker and sixteen nibbles.
const BITMAP_MASK: u32 = (1 << RADIX) - 1;
/// Deepest split position a key of the maximum length allows.
const MAX_POS: u32 = 2 * MAX_KEY_LEN as u32;

/// Encodes every node of `tree` once, children before parents. The last record is the root's;
/// an empty tree has none (its root hash is the empty-tree hash). A pair is encoded as the
/// branch it stands for.
pub fn encode_tree(tree: &Tree) -> Vec<(Hash, Vec<u8>)> {
    let mut records = Vec::new();
    let Some(root) = tree.root() else {
        return records;
    };
    let Some((branch, _)) = root.as_branch() else {
        records.push((child_hash(root), leaf_record(root.leaf().0)));
        return records;
    };
    // Frames of (node, its children not visited yet).
    let mut frames: Vec<(&Child, Kids<'_>)> = vec![(root, branch.kids())];
    while let Some((node, kids)) = frames.last_mut() {
        match kids.next() {
            Some((_, [child])) => match child.as_branch() {
                Some((branch, _)) => frames.push((child, branch.kids())),
                None => records.push((child_hash(child), leaf_record(child.leaf().0))),
            },
            Some((_, pair)) => {
                for leaf in pair {
                    records.push((child_hash(leaf), leaf_record(leaf.leaf().0)));
                }
                let (pos, bitmap) = pair_route(pair);
                let hashes = pair.iter().map(child_hash);
                records.push((pair_hash(pair), branch_record(pos, bitmap, hashes)));
            }
            None => {
                let node = *node;
                frames.pop();
                let (branch, _) = node.as_branch().expect("frames hold branches");
                let hashes = branch.kids().map(|(_, slots)| kid_hash(slots));
                let record = branch_record(branch.pos, branch.bitmap, hashes);
                records.push((child_hash(node), record));
            }
        }
    }
    records
}

/// The record of a leaf.
pub(crate) fn leaf_record(leaf: &[u8]) -> Vec<u8> {
    let key = leaf_key(leaf);
    let value = leaf_value(leaf);
    let mut out = Vec::with_capacity(1 + LEAF_HEADER + key.len() + value.len());
    out.push(NODE_FORMAT_VERSION);
    out.push(KIND_LEAF);
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

/// The record of a branch with its children's hashes.
pub(crate) fn branch_record(
    pos: u32,
    bitmap: u32,
    child_hashes: impl Iterator<Item = Hash>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + BRANCH_HEADER + 32 * RADIX);
    out.push(NODE_FORMAT_VERSION);
    out.extend_from_slice(&branch_header(pos, bitmap));
    for hash in child_hashes {
        out.extend_from_slice(&hash);
    }
    out
}

enum Record {
    /// A leaf slot.
    Leaf(Child),
    Branch {
        pos: u32,
        bitmap: u32,
        children: Vec<Hash>,
    },
}

fn corrupt(hash: &Hash, why: &str) -> Error {
    Error::Corrupt(format!("node {}: {why}", hex(hash)))
}

fn hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses one record and checks it against the hash it was fetched by.
fn decode_record(hash: &Hash, bytes: &[u8]) -> Result<Record> {
    let Some((&version, preimage)) = bytes.split_first() else {
        return Err(corrupt(hash, "empty record"));
    };
    if version != NODE_FORMAT_VERSION {
        return Err(corrupt(
            hash,
            &format!("unsupported node format version {version}"),
        ));
    }
    if blake3::hash(preimage).as_bytes() != hash {
        return Err(corrupt(hash, "contents do not match the hash"));
    }
    match preimage.first() {
        Some(&KIND_LEAF) if preimage.len() >= LEAF_HEADER => {
            let key_len = u16::from_le_bytes([preimage[1], preimage[2]]) as usize;
            let value_len =
                u32::from_le_bytes(preimage[3..7].try_into().expect("4 bytes")) as usize;
            let body = &preimage[LEAF_HEADER..];
            if body.len() != key_len + value_len {
                return Err(corrupt(hash, "leaf lengths do not match its size"));
            }
            Ok(Record::Leaf(new_leaf(&body[..key_len], &body[key_len..])))
        }
        Some(&KIND_BRANCH) if preimage.len() >= BRANCH_HEADER => {
            let pos = u32::from_le_bytes(preimage[1..5].try_into().expect("4 bytes"));
            let bitmap = u32::from_le_bytes(preimage[5..9].try_into().expect("4 bytes"));
            let body = &preimage[BRANCH_HEADER..];
            let count = bitmap.count_ones() as usize;
            if bitmap & !BITMAP_MASK != 0 || count < 2 || pos > MAX_POS {
                return Err(corrupt(hash, "branch header out of range"));
            }
            if body.len() != 32 * count {
                return Err(corrupt(
                    hash,
                    "branch child count does not match its bitmap",
                ));
            }
            let children = body
                .chunks_exact(32)
                .map(|c| c.try_into().expect("32-byte chunks"))
                .collect();
            Ok(Record::Branch {
                pos,
                bitmap,
                children,
            })
        }
        _ => Err(corrupt(hash, "unknown node kind or truncated header")),
    }
}

/// Rebuilds the tree whose root hash is `root`, fetching records with `fetch`.
///
/// Every record is checked against its hash and the result against the canonical form, so a
/// tree that decodes is exactly the one that was encoded.
pub fn decode_tree<F>(root: &Hash, mut fetch: F) -> Result<Tree>
where
    F: FnMut(&Hash) -> Option<Vec<u8>>,
{
    if *root == empty_hash() {
        return Ok(Tree::new());
    }
    let mut load = |hash: &Hash| -> Result<Record> {
        let bytes = fetch(hash).ok_or_else(|| corrupt(hash, "missing"))?;
        decode_record(hash, &bytes)
    };
    struct Frame {
        hash: Hash,
        pos: u32,
        bitmap: u32,
        /// Child hashes, in digit order.
        pending: Vec<Hash>,
        /// Children decoded so far.
        done: usize,
        /// Their slots (two for a pair) and pairs mask.
        children: Vec<Child>,
        pairs: u32,
    }
    impl Frame {
        /// The digit of the next child.
        fn digit(&self) -> u32 {
            let mut bits = self.bitmap;
            for _ in 0..self.done {
                bits &= bits - 1;
            }
            bits.trailing_zeros()
        }
    }
    let frame = |hash: Hash, pos, bitmap, pending: Vec<Hash>| Frame {
        hash,
        pos,
        bitmap,
        done: 0,
        children: Vec::with_capacity(pending.len()),
        pending,
        pairs: 0,
    };
    let (mut len, mut key_bytes, mut value_bytes) = (0u64, 0u64, 0u64);
    let mut count = |leaf: &[u8]| {
        len += 1;
        key_bytes += leaf_key(leaf).len() as u64;
        value_bytes += leaf_value(leaf).len() as u64;
    };
    let mut frames = match load(root)? {
        Record::Leaf(leaf) => {
            count(leaf.any_leaf());
            let tree = Tree::from_parts(Some(leaf), len, key_bytes, value_bytes);
            tree.verify()?;
            return Ok(tree);
        }
        Record::Branch {
            pos,
            bitmap,
            children,
        } => vec![frame(*root, pos, bitmap, children)],
    };
    let root_node = loop {
        let top = frames
            .last_mut()
            .expect("loop ends when the root frame completes");
        if top.done == top.pending.len() {
            let done = frames.pop().expect("top exists");
            let two_leaves = done.pending.len() == 2
                && done.pairs == 0
                && done.children.iter().all(|child| !child.is_branch());
            let Some(parent) = frames.last_mut() else {
                let node = Branch::with_children(done.pos, done.bitmap, 0, done.children);
                if let Some((branch, _)) = node.as_branch() {
                    branch.hash.set(done.hash);
                }
                break node;
            };
            let d = parent.digit();
            if d == END {
                return Err(corrupt(&done.hash, "a branch under the end digit"));
            }
            parent.done += 1;
            if two_leaves {
                // A branch of two leaves below the root is its parent's pair.
                parent.pairs |= 1 << d;
                for mut leaf in done.children {
                    leaf.set_next(Next::of(leaf_key(leaf.any_leaf()), parent.pos));
                    parent.children.push(leaf);
                }
            } else {
                let node = Branch::with_children(done.pos, done.bitmap, done.pairs, done.children);
                if let Some((branch, _)) = node.as_branch() {
                    branch.hash.set(done.hash);
                }
                parent.children.push(node);
            }
            continue;
        }
        let hash = top.pending[top.done];
        match load(&hash)? {
            Record::Leaf(mut leaf) => {
                count(leaf.any_leaf());
                leaf.set_next(Next::of(leaf_key(leaf.any_leaf()), top.pos));
                top.children.push(leaf);
                top.done += 1;
            }
            Record::Branch {
                pos,
                bitmap,
                children,
            } => {
                frames.push(frame(hash, pos, bitmap, children));
            }
        }
    };
    let tree = Tree::from_parts(Some(root_node), len, key_bytes, value_bytes);
    tree.verify()?;
    Ok(tree)
}

/// The hash cached in a branch, if any.
#[cfg(test)]
pub(crate) fn cached(branch: &Branch) -> Option<&Hash> {
    branch.hash.get()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::tree::node::Node;

    fn sample() -> Tree {
        let mut tree = Tree::new();
        for i in 0u32..500 {
            let key = (i * 7919).to_be_bytes();
            tree.insert(&key[..(i % 4) as usize + 1], &i.to_le_bytes())
                .unwrap();
        }
        tree.insert(b"", b"empty key").unwrap();
        tree
    }

    fn store(tree: &Tree) -> HashMap<Hash, Vec<u8>> {
        encode_tree(tree).into_iter().collect()
    }

    #[test]
    fn round_trip_keeps_contents_and_root() {
        for tree in [Tree::new(), sample()] {
            let nodes = store(&tree);
            let root = tree.root_hash();
            let back = decode_tree(&root, |h| nodes.get(h).cloned()).unwrap();
            assert_eq!(back.root_hash(), root);
            assert_eq!(back.len(), tree.len());
            assert!(back.iter().eq(tree.iter()));
            assert_eq!(back.key_bytes(), tree.key_bytes());
            assert_eq!(back.value_bytes(), tree.value_bytes());
        }
    }

    #[test]
    fn single_leaf_round_trips() {
        let mut tree = Tree::new();
        tree.insert(b"only", b"one").unwrap();
        let nodes = store(&tree);
        assert_eq!(nodes.len(), 1);
        let back = decode_tree(&tree.root_hash(), |h| nodes.get(h).cloned()).unwrap();
        assert_eq!(back.get(b"only"), Some(&b"one"[..]));
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let tree = sample();
        let root = tree.root_hash();
        let nodes = store(&tree);
        let target = *nodes.keys().next().unwrap();
        for i in 0..nodes[&target].len() {
            let mut bad = nodes.clone();
            bad.get_mut(&target).unwrap()[i] ^= 0x01;
            assert!(
                decode_tree(&root, |h| bad.get(h).cloned()).is_err(),
                "byte {i}"
            );
        }
    }

    #[test]
    fn missing_truncated_and_future_records_fail() {
        let tree = sample();
        let root = tree.root_hash();
        let nodes = store(&tree);
        assert!(decode_tree(&root, |_| None).is_err());
        let truncated: HashMap<_, _> = nodes
            .iter()
            .map(|(h, b)| (*h, b[..b.len() / 2].to_vec()))
            .collect();
        assert!(decode_tree(&root, |h| truncated.get(h).cloned()).is_err());
        let future: HashMap<_, _> = nodes
            .iter()
            .map(|(h, b)| {
                let mut b = b.clone();
                b[0] = NODE_FORMAT_VERSION + 1;
                (*h, b)
            })
            .collect();
        let err = decode_tree(&root, |h| future.get(h).cloned()).unwrap_err();
        assert!(err.to_string().contains("unsupported node format version"));
    }

    #[test]
    fn non_canonical_tree_with_valid_hashes_is_rejected() {
        // A branch whose children are in the wrong digit slots hashes fine but is not canonical.
        let a = new_leaf(&[0x10], b"a");
        let b = new_leaf(&[0x20], b"b");
        let swapped = Branch::with_children(0, (1 << 2) | (1 << 3), 0, vec![b, a]);
        let tree = Tree::from_parts(Some(swapped), 2, 2, 2);
        let nodes = store(&tree);
        assert!(decode_tree(&tree.root_hash(), |h| nodes.get(h).cloned()).is_err());
    }

    #[test]
    fn decoded_branches_carry_their_hash() {
        let tree = sample();
        let nodes = store(&tree);
        let back = decode_tree(&tree.root_hash(), |h| nodes.get(h).cloned()).unwrap();
        match back.root().map(Child::node) {
            Some(Node::Branch(branch, _)) => {
                assert_eq!(cached(branch), Some(&tree.root_hash()))
            }
            _ => panic!("sample has a branch root"),
        }
    }
}
