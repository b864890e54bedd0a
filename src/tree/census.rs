//! Counting and checking nodes: the figures behind `stats()` and `Tree::verify`.
//!
//! Everything here is counted by walking nodes; nothing is estimated. Allocation sizes are the
//! exact layouts the nodes were allocated with (reference counts included).

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::tree::Tree;
use crate::tree::hash::{Hash, branch_hash_of, empty_hash, leaf_hash};
use crate::tree::node::{
    Branch, Child, Node, Route, digit, fingerprint, first_difference, leaf_key, leaf_value,
};

/// Node figures for a set of versions, each node counted once by identity.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Census {
    /// Distinct leaf nodes.
    pub(crate) leaves: u64,
    /// Distinct branch nodes.
    pub(crate) branches: u64,
    /// Bytes allocated for all distinct nodes, key and value bytes included.
    pub(crate) node_bytes: u64,
    /// Key and value bytes held in distinct leaves.
    pub(crate) payload_bytes: u64,
    /// Distinct nodes reachable from more than one of the versions.
    pub(crate) shared_nodes: u64,
    /// Longest root-to-leaf path, in nodes.
    pub(crate) max_depth: u64,
}

/// Counts the nodes of `versions`. A node reached from a second version is shared, and so is
/// everything below it.
pub(crate) fn census(versions: &[&Tree]) -> Census {
    // For each node seen: the version that first reached it, and whether it is known shared.
    let mut seen: HashMap<usize, (usize, bool)> = HashMap::new();
    let mut out = Census::default();
    for (version, tree) in versions.iter().enumerate() {
        let Some(root) = tree.root() else { continue };
        let mut stack: Vec<(&Child, u64)> = vec![(root, 1)];
        while let Some((node, depth)) = stack.pop() {
            match seen.get_mut(&node.address()) {
                Some((first, shared)) => {
                    if *first == version || *shared {
                        continue;
                    }
                    *shared = true;
                    out.shared_nodes += 1;
                }
                None => {
                    seen.insert(node.address(), (version, false));
                    out.max_depth = out.max_depth.max(depth);
                    out.node_bytes += node.allocated_bytes() as u64;
                    match node.node() {
                        Node::Leaf(leaf, _) => {
                            out.leaves += 1;
                            out.payload_bytes +=
                                (leaf_key(leaf).len() + leaf_value(leaf).len()) as u64;
                        }
                        Node::Branch(..) => out.branches += 1,
                    }
                }
            }
            if let Some((branch, _)) = node.as_branch() {
                stack.extend(branch.children().iter().map(|child| (child, depth + 1)));
            }
        }
    }
    out
}

/// Recomputes every hash from scratch and checks the canonical form; returns the root hash.
pub(crate) fn verify(tree: &Tree) -> Result<Hash> {
    let Some(root) = tree.root() else {
        return if tree.is_empty() && tree.key_bytes() == 0 && tree.value_bytes() == 0 {
            Ok(empty_hash())
        } else {
            Err(Error::Corrupt("an empty tree reports entries".into()))
        };
    };
    // A finished subtree: its hash and one of its keys (all keys below share its prefix).
    struct Done<'a> {
        hash: Hash,
        key: &'a [u8],
    }
    let (mut len, mut key_bytes, mut value_bytes) = (0u64, 0u64, 0u64);
    let mut frames: Vec<(&Branch, usize, usize)> = Vec::new();
    let mut done: Vec<Done<'_>> = Vec::new();
    let mut next = Some(root);
    loop {
        if let Some(node) = next.take() {
            match node.node() {
                Node::Branch(branch, route) => {
                    if route != Route::new(branch.pos, branch.bitmap) {
                        return Err(Error::Corrupt(
                            "a slot's route does not match its branch".into(),
                        ));
                    }
                    frames.push((branch, 0, done.len()));
                }
                Node::Leaf(leaf, tag) => {
                    if tag != fingerprint(leaf_key(leaf)) {
                        return Err(Error::Corrupt(
                            "a leaf's fingerprint does not match its key".into(),
                        ));
                    }
                    len += 1;
                    key_bytes += leaf_key(leaf).len() as u64;
                    value_bytes += leaf_value(leaf).len() as u64;
                    done.push(Done {
                        hash: leaf_hash(leaf),
                        key: leaf_key(leaf),
                    });
                }
            }
        }
        let Some((branch, index, base)) = frames.last_mut() else {
            break;
        };
        if *index < branch.children().len() {
            next = Some(&branch.slots[*index]);
            *index += 1;
            continue;
        }
        let (branch, base) = (*branch, *base);
        frames.pop();
        check_branch(
            branch,
            &done[base..].iter().map(|d| d.key).collect::<Vec<_>>(),
        )?;
        let hashes: Vec<Hash> = done[base..].iter().map(|d| d.hash).collect();
        let hash = branch_hash_of(branch.pos, branch.bitmap, &hashes);
        if branch.hash.get().is_some_and(|cached| *cached != hash) {
            return Err(Error::Corrupt("a cached branch hash is stale".into()));
        }
        let key = done[base].key;
        done.truncate(base);
        done.push(Done { hash, key });
    }
    if (len, key_bytes, value_bytes) != (tree.len(), tree.key_bytes(), tree.value_bytes()) {
        return Err(Error::Corrupt(
            "the tree's counters do not match its leaves".into(),
        ));
    }
    Ok(done[0].hash)
}

/// Checks one branch against sample keys of its children (in child order).
fn check_branch(branch: &Branch, keys: &[&[u8]]) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::Corrupt(format!(
            "branch at nibble {}: {why}",
            branch.pos
        )))
    };
    if keys.len() < 2 || branch.bitmap.count_ones() as usize != keys.len() {
        return bad("fewer than two children or a bitmap that does not match them");
    }
    for (index, (child, key)) in branch.children().iter().zip(keys).enumerate() {
        if digit(key, branch.pos) != Some(branch.digit_at(index)) {
            return bad("a child sits under the wrong digit");
        }
        if first_difference(key, keys[0]).is_some_and(|at| at < branch.pos) {
            return bad("children do not share the branch prefix");
        }
        if child.pos() <= branch.pos {
            return bad("a child branch does not split below its parent");
        }
        if child
            .next()
            .get()
            .is_some_and(|next| Some(next) != digit(key, branch.pos + 1))
        {
            return bad("a leaf slot keeps a next digit its key does not have");
        }
    }
    Ok(())
}
