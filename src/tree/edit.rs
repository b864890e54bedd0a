//! Insert and remove, persistent and in place.
//!
//! Both walk from the root to the edit point through `unique`, which edits a branch in place when
//! this tree is its only owner and copies it otherwise. A tree with no live snapshot therefore
//! writes in place, and a tree that shares nodes copies exactly the path it changes.
//! Every edit keeps the canonical form described in `node`.

use std::sync::Arc;

use crate::tree::hash::HashCell;

use crate::tree::node::{Branch, BranchRef, Child, digit, first_difference, hole, leaf_key};

/// A mutable view of a branch that this tree owns alone, with its cached hash cleared.
fn unique(branch: &mut BranchRef) -> &mut Branch {
    if Arc::get_mut(&mut branch.0).is_none() {
        *branch = Branch::with_children(branch.pos, branch.bitmap, branch.children.to_vec());
    }
    let owned = Arc::get_mut(&mut branch.0).expect("a freshly copied branch has one owner");
    owned.hash = HashCell::default();
    owned
}

/// The children of a branch about to be replaced, with room for one more: moved out when this
/// tree owns the branch alone (no reference counts touched), cloned otherwise.
fn take_children(branch: &mut BranchRef) -> Vec<Child> {
    let mut children = Vec::with_capacity(branch.children.len() + 1);
    match Arc::get_mut(&mut branch.0) {
        Some(owned) => children.extend(
            owned
                .children
                .iter_mut()
                .map(|c| std::mem::replace(c, hole())),
        ),
        None => children.extend_from_slice(&branch.children),
    }
    children
}

/// The slot of the child with digit `d`, which the caller knows exists.
fn child_slot(branch: &mut BranchRef, d: u32) -> &mut Child {
    let branch = unique(branch);
    let index = branch
        .index_of(d)
        .expect("the walk follows existing children");
    &mut branch.children[index]
}

/// Inserts `leaf` (whose key is `key`) below `root`. Returns the replaced leaf, if any.
pub(crate) fn insert(root: &mut Child, key: &[u8], leaf: Arc<[u8]>) -> Option<Arc<[u8]>> {
    let split = closest_difference(root, key);
    let mut slot = root;
    loop {
        let pos = slot.pos();
        match split {
            None if pos == u32::MAX => {
                return match std::mem::replace(slot, Child::leaf(leaf)) {
                    Child::Leaf(old, _) => Some(old),
                    Child::Branch(_) => unreachable!("pos is MAX only for leaves"),
                };
            }
            Some(at) if pos >= at => break,
            _ => {}
        }
        let Child::Branch(branch) = slot else {
            unreachable!("pos < MAX means a branch")
        };
        let d = digit(key, pos).expect("the key shares this branch's prefix");
        slot = child_slot(branch, d);
    }
    let at = split.expect("loop breaks only on a split");
    let key_digit = digit(key, at).expect("the split lies within the key");
    if slot.pos() == at {
        let Child::Branch(branch) = slot else {
            unreachable!("pos < MAX means a branch")
        };
        let index = branch.rank(key_digit);
        let bitmap = branch.bitmap | (1 << key_digit);
        let mut children = take_children(branch);
        children.insert(index, Child::leaf(leaf));
        *slot = Child::Branch(Branch::with_children(at, bitmap, children));
    } else {
        let old = std::mem::replace(slot, hole());
        let old_digit = digit(leaf_key(old.any_leaf()), at).expect("keys below share the split");
        let bitmap = (1 << key_digit) | (1 << old_digit);
        let children = if key_digit < old_digit {
            vec![Child::leaf(leaf), old]
        } else {
            vec![old, Child::leaf(leaf)]
        };
        *slot = Child::Branch(Branch::with_children(at, bitmap, children));
    }
    None
}

/// The first nibble where `key` differs from the keys of the subtree it would join, found by
/// following `key` down to some leaf; `None` when that leaf holds `key` itself.
fn closest_difference(root: &Child, key: &[u8]) -> Option<u32> {
    let mut node = root;
    loop {
        match node {
            Child::Leaf(leaf, _) => return first_difference(leaf_key(leaf), key),
            Child::Branch(branch) => {
                let index = digit(key, branch.pos).and_then(|d| branch.index_of(d));
                node = &branch.children[index.unwrap_or(0)];
            }
        }
    }
}

/// Where a key's leaf sits, found without modifying anything.
enum Found {
    Absent,
    /// The root itself is the leaf.
    AtRoot,
    /// The leaf is a child of a branch.
    Below,
}

fn locate(root: &Child, key: &[u8]) -> Found {
    let mut node = root;
    let mut depth = 0usize;
    loop {
        match node {
            Child::Leaf(leaf, _) => {
                return match (leaf_key(leaf) == key, depth) {
                    (false, _) => Found::Absent,
                    (true, 0) => Found::AtRoot,
                    (true, _) => Found::Below,
                };
            }
            Child::Branch(branch) => {
                let Some(index) = digit(key, branch.pos).and_then(|d| branch.index_of(d)) else {
                    return Found::Absent;
                };
                node = &branch.children[index];
                depth += 1;
            }
        }
    }
}

/// Removes `key` from the tree rooted at `root`. Returns the removed leaf, and whether the root
/// itself was that leaf (the caller then empties the tree).
pub(crate) fn remove(root: &mut Child, key: &[u8]) -> Option<(Arc<[u8]>, bool)> {
    match locate(root, key) {
        Found::Absent => None,
        Found::AtRoot => match root {
            Child::Leaf(leaf, _) => Some((leaf.clone(), true)),
            Child::Branch(_) => unreachable!("located at the root as a leaf"),
        },
        Found::Below => {
            let mut slot = root;
            loop {
                let Child::Branch(branch) = &*slot else {
                    unreachable!("the leaf is below")
                };
                let d = digit(key, branch.pos).expect("located below this branch");
                let index = branch.index_of(d).expect("located below this branch");
                if matches!(branch.children[index], Child::Leaf(..)) {
                    let Child::Branch(branch) = &mut *slot else {
                        unreachable!("checked above")
                    };
                    let (pos, bitmap) = (branch.pos, branch.bitmap & !(1 << d));
                    let mut children = take_children(branch);
                    let Child::Leaf(removed, _) = children.remove(index) else {
                        unreachable!("checked above")
                    };
                    *slot = match children.len() {
                        1 => children.pop().expect("one child left"),
                        _ => Child::Branch(Branch::with_children(pos, bitmap, children)),
                    };
                    return Some((removed, false));
                }
                let Child::Branch(branch) = slot else {
                    unreachable!("checked above")
                };
                slot = child_slot(branch, d);
            }
        }
    }
}
