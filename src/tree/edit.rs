//! Insert and remove, persistent and in place.
//!
//! Both walk from the root to the edit point through `unique`, which edits a branch in place when
//! this tree is its only owner and copies it otherwise. A tree with no live snapshot therefore
//! writes in place, and a tree that shares nodes copies exactly the path it changes.
//! Every edit keeps the canonical form described in `node`.

use std::sync::Arc;

use crate::tree::node::{
    Branch, BranchRef, Child, Route, closest_difference, digit, index_in, leaf_key, take, vacant,
    warm,
};

/// A mutable view of a branch that this tree owns alone, with its cached hash cleared.
fn unique(branch: &mut BranchRef) -> &mut Branch {
    if !sole_owner(branch) {
        warm(branch.children());
        *branch =
            Branch::with_children(branch.pos, branch.bitmap, branch.children().iter().cloned());
    }
    let owned = Arc::get_mut(&mut branch.0).expect("a freshly copied branch has one owner");
    owned.hash.clear();
    owned
}

/// Whether this tree holds the only reference to `branch`. No `Weak` references to branches
/// exist, so a strong count of one means `Arc::get_mut` succeeds.
#[inline]
fn sole_owner(branch: &BranchRef) -> bool {
    Arc::strong_count(&branch.0) == 1
}

/// The children of a branch about to be replaced, in order: moved out when this tree owns the
/// branch alone (no reference count touched), cloned otherwise.
fn take_children(branch: &mut BranchRef) -> impl Iterator<Item = Child> + '_ {
    let (owned, shared) = if sole_owner(branch) {
        let owned = Arc::get_mut(&mut branch.0).expect("sole owner");
        let count = owned.count();
        (Some(owned.slots[..count].iter_mut().map(take)), None)
    } else {
        warm(branch.children());
        (None, Some(branch.children().iter().cloned()))
    };
    owned
        .into_iter()
        .flatten()
        .chain(shared.into_iter().flatten())
}

/// The slot of the child with digit `d`, which the caller knows exists.
fn child_slot(branch: &mut BranchRef, d: u32) -> &mut Child {
    let branch = unique(branch);
    let index = branch
        .index_of(d)
        .expect("the walk follows existing children");
    &mut branch.slots[index]
}

/// Inserts `leaf` (whose key is `key`) below `root`. Returns the replaced leaf, if any.
pub(crate) fn insert(root: &mut Child, key: &[u8], leaf: Arc<[u8]>) -> Option<Arc<[u8]>> {
    let split = closest_difference(root, key, true);
    let mut slot = root;
    loop {
        let pos = slot.pos();
        match split {
            None if pos == u32::MAX => {
                return match std::mem::replace(slot, Child::leaf(leaf)) {
                    Child::Leaf(old, _) => Some(old),
                    Child::Branch(..) | Child::Vacant => unreachable!("pos is MAX only for leaves"),
                };
            }
            Some(at) if pos >= at => break,
            _ => {}
        }
        let Child::Branch(branch, _) = slot else {
            unreachable!("pos < MAX means a branch")
        };
        let d = digit(key, pos).expect("the key shares this branch's prefix");
        slot = child_slot(branch, d);
    }
    let at = split.expect("loop breaks only on a split");
    let key_digit = digit(key, at).expect("the split lies within the key");
    if slot.pos() == at {
        let Child::Branch(branch, route) = slot else {
            unreachable!("pos < MAX means a branch")
        };
        let index = branch.rank(key_digit);
        let count = branch.count() + 1;
        let bitmap = branch.bitmap | (1 << key_digit);
        if branch.has_room() && sole_owner(branch) {
            let owned = Arc::get_mut(&mut branch.0).expect("sole owner");
            owned.slots[index..count].rotate_right(1);
            owned.slots[index] = Child::leaf(leaf);
            owned.bitmap = bitmap;
            owned.hash.clear();
            *route = Route::new(at, bitmap);
            return None;
        }
        let replacement = {
            let mut old = take_children(branch);
            let mut new = Some(Child::leaf(leaf));
            let children = (0..count)
                .map(|i| if i == index { new.take() } else { old.next() }.expect("counted"));
            Branch::with_room(at, bitmap, children)
        };
        *slot = Child::branch(replacement);
    } else {
        let old = take(slot);
        let old_digit = digit(leaf_key(old.any_leaf()), at).expect("keys below share the split");
        let bitmap = (1 << key_digit) | (1 << old_digit);
        let children = if key_digit < old_digit {
            [Child::leaf(leaf), old]
        } else {
            [old, Child::leaf(leaf)]
        };
        *slot = Child::branch(Branch::with_children(at, bitmap, children));
    }
    None
}

/// Where a key's leaf sits, found without modifying anything.
enum Found {
    Absent,
    /// The root itself is the leaf.
    AtRoot,
    /// The leaf is a child of a branch.
    Below,
}

///
/// Like `closest_difference` for writes, it reads each branch's reference count on the way.
fn locate(root: &Child, key: &[u8]) -> Found {
    let mut node = root;
    let mut depth = 0usize;
    let mut touched = 0usize;
    loop {
        match node {
            Child::Leaf(leaf, _) => {
                std::hint::black_box(touched);
                return match (leaf_key(leaf) == key, depth) {
                    (false, _) => Found::Absent,
                    (true, 0) => Found::AtRoot,
                    (true, _) => Found::Below,
                };
            }
            Child::Branch(branch, route) => {
                touched = touched.wrapping_add(Arc::strong_count(&branch.0));
                let (pos, bitmap) = route.read(branch);
                let Some(index) = digit(key, pos).and_then(|d| index_in(bitmap, d)) else {
                    return Found::Absent;
                };
                node = &branch.slots[index];
                depth += 1;
            }
            Child::Vacant => vacant!(),
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
            Child::Branch(..) | Child::Vacant => unreachable!("located at the root as a leaf"),
        },
        Found::Below => {
            let mut slot = root;
            loop {
                let Child::Branch(branch, _) = &*slot else {
                    unreachable!("the leaf is below")
                };
                let d = digit(key, branch.pos).expect("located below this branch");
                let index = branch.index_of(d).expect("located below this branch");
                if matches!(branch.slots[index], Child::Leaf(..)) {
                    let Child::Branch(branch, route) = &mut *slot else {
                        unreachable!("checked above")
                    };
                    let (pos, bitmap) = (branch.pos, branch.bitmap & !(1 << d));
                    let count = branch.count();
                    let (removed, replacement) = if sole_owner(branch) {
                        let owned = Arc::get_mut(&mut branch.0).expect("sole owner");
                        let Child::Leaf(removed, _) = take(&mut owned.slots[index]) else {
                            unreachable!("checked above")
                        };
                        if count > 2 {
                            owned.slots[index..count].rotate_left(1);
                            owned.bitmap = bitmap;
                            owned.hash.clear();
                            *route = Route::new(pos, bitmap);
                            return Some((removed, false));
                        }
                        (removed, take(&mut owned.slots[1 - index]))
                    } else {
                        let Child::Leaf(removed, _) = &branch.slots[index] else {
                            unreachable!("checked above")
                        };
                        let replacement = if count == 2 {
                            branch.slots[1 - index].clone()
                        } else {
                            warm(branch.children());
                            let rest = branch.children().iter().enumerate();
                            let rest = rest.filter(|(i, _)| *i != index).map(|(_, c)| c.clone());
                            Child::branch(Branch::with_children(pos, bitmap, rest))
                        };
                        (removed.clone(), replacement)
                    };
                    *slot = replacement;
                    return Some((removed, false));
                }
                let Child::Branch(branch, _) = slot else {
                    unreachable!("checked above")
                };
                slot = child_slot(branch, d);
            }
        }
    }
}
