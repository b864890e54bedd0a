//! Insert and remove, persistent and in place.
//!
//! Both walk from the root to the edit point through `unique`, which edits a branch in place when
//! this tree is its only owner and copies it otherwise. A tree with no live snapshot therefore
//! writes in place, and a tree that shares nodes copies exactly the path it changes.
//! Every edit keeps the canonical form described in `node`.

use crate::tree::node::{
    Branch, Child, LeafRef, Next, Node, Route, closest_difference, digit, first_difference,
    index_in, leaf_key, take, warm,
};

/// The branch in `slot`, made this tree's own: edited in place when this tree is its only owner
/// (no `Weak` references to nodes exist, so a count of one means sole ownership), copied
/// otherwise; its cached hash cleared.
fn unique(slot: &mut Child) -> &mut Branch {
    if slot.strong_count() != 1 {
        let (branch, _) = slot.as_branch().expect("only branches are made unique");
        warm(branch.children());
        let copy = branch.copy();
        *slot = copy;
    }
    let (owned, _) = slot
        .branch_mut()
        .expect("a freshly copied branch has one owner");
    owned.hash.clear();
    owned
}

/// The slot of the child with digit `d` of the branch in `slot`, which the caller knows exists.
fn child_slot(slot: &mut Child, d: u32) -> &mut Child {
    let branch = unique(slot);
    let index = branch
        .index_of(d)
        .expect("the walk follows existing children");
    &mut branch.slots[index]
}

/// Inserts `leaf` (a leaf slot whose key is `key`) below `root`. Returns the replaced leaf, if
/// any.
///
/// One walk down: every branch it passes is on the path the insert changes, so it is made this
/// tree's own on the way. While the walk has routed on every nibble of the key above a branch,
/// the key shares that branch's prefix without reading a leaf; at the first branch that skips
/// nibbles, one leaf shows how far the key agrees with the subtree. That agreement covers every
/// branch below on the key's path until the key leaves the subtree, so a second leaf is read at
/// most once more, where the insert then ends: O(depth) in all. Where the walk reaches a leaf
/// whose [`Next`] digit is known and differs from the key's, it reads no leaf at all.
pub(crate) fn insert(root: &mut Child, key: &[u8], mut leaf: Child) -> Option<LeafRef> {
    let mut slot = root;
    // The key is known to agree with every key below `slot` on its first `known` nibbles.
    let mut known = 0;
    loop {
        let Some((branch, route)) = slot.as_branch() else {
            let (old, _) = slot.leaf();
            return match first_difference(leaf_key(old), key) {
                None => {
                    leaf.set_next(slot.next());
                    Some(LeafRef::new(std::mem::replace(slot, leaf)))
                }
                Some(at) => {
                    split(slot, at, key, leaf, None);
                    None
                }
            };
        };
        let (pos, bitmap) = route.read(branch);
        if pos > known {
            match closest_difference(slot, key, true) {
                Some(at) if at < pos => {
                    split(slot, at, key, leaf, None);
                    return None;
                }
                agreed => known = agreed.unwrap_or(u32::MAX),
            }
        }
        let d = digit(key, pos).expect("the key shares this branch's prefix");
        let Some(index) = index_in(bitmap, d) else {
            leaf.set_next(Next::of(key, pos));
            add_child(slot, pos, d, leaf);
            return None;
        };
        // The key agrees with every key below the child up to `pos`: a leaf child whose next
        // digit differs from the key's first differs from it right after `pos`.
        let next = branch.slots[index].next().get();
        if let Some(old_digit) = next
            && let Some(key_digit) = digit(key, pos + 1)
            && key_digit != old_digit
        {
            split(child_slot(slot, d), pos + 1, key, leaf, Some(old_digit));
            return None;
        }
        // Start the misses of the child and of this branch's reference count together, before
        // the ownership check waits for the latter.
        std::hint::black_box(branch.slots[index].preload());
        slot = child_slot(slot, d);
        known = known.max(pos + 1);
    }
}

/// Puts a new branch at nibble `at` in `slot`, above what it held: that subtree and `leaf`
/// (whose key is `key`) differ first at `at`, where the subtree's keys have `old_digit`, which
/// is read from one of its leaves when not given.
fn split(slot: &mut Child, at: u32, key: &[u8], mut leaf: Child, old_digit: Option<u32>) {
    let key_digit = digit(key, at).expect("the split lies within the key");
    let mut old = take(slot);
    let (old_digit, old_next) = match old_digit {
        Some(old_digit) => (old_digit, Next::UNKNOWN),
        None => {
            let old_key = leaf_key(old.any_leaf());
            let old_digit = digit(old_key, at).expect("keys below share the split");
            (old_digit, Next::of(old_key, at))
        }
    };
    old.set_next(old_next);
    leaf.set_next(Next::of(key, at));
    let bitmap = (1 << key_digit) | (1 << old_digit);
    let children = if key_digit < old_digit {
        [leaf, old]
    } else {
        [old, leaf]
    };
    *slot = Branch::with_children(at, bitmap, children);
}

/// Adds `leaf` as the child with digit `d` of the branch in `slot`, which splits at `pos` and
/// has no such child: in place when this tree owns it alone and it has room, else in a new
/// branch of the next class.
fn add_child(slot: &mut Child, pos: u32, d: u32, mut leaf: Child) {
    let (branch, _) = slot.as_branch().expect("children are added to branches");
    let index = branch.rank(d);
    let count = branch.count() + 1;
    let bitmap = branch.bitmap | (1 << d);
    if branch.has_room() && slot.strong_count() == 1 {
        let (owned, route) = slot.branch_mut().expect("sole owner");
        owned.slots[index..count].rotate_right(1);
        owned.slots[index] = leaf;
        owned.bitmap = bitmap;
        owned.hash.clear();
        *route = Route::new(pos, bitmap);
        return;
    }
    // The new branch's child `i` is the old branch's `i`, or `i - 1` past the new leaf. The old
    // children are moved out when this tree owns the branch alone (no reference count touched),
    // cloned otherwise.
    let old = |i: usize| (i != index).then(|| i - usize::from(i > index));
    let replacement = match slot.branch_mut() {
        Some((owned, _)) => Branch::from_fn(pos, bitmap, |i| {
            take(old(i).map_or(&mut leaf, |j| &mut owned.slots[j]))
        }),
        None => {
            let (branch, _) = slot.as_branch().expect("children are added to branches");
            warm(branch.children());
            Branch::from_fn(pos, bitmap, |i| {
                old(i).map_or_else(|| take(&mut leaf), |j| branch.slots[j].clone())
            })
        }
    };
    *slot = replacement;
}

/// Where a key's leaf sits, found without modifying anything.
enum Found {
    Absent,
    /// The root itself is the leaf.
    AtRoot,
    /// The leaf is a child of a branch.
    Below,
}

/// Where `key`'s leaf sits below `root`, if anywhere.
///
/// Like `closest_difference` for writes, it reads each branch's reference count on the way.
fn locate(root: &Child, key: &[u8]) -> Found {
    let mut node = root;
    let mut depth = 0usize;
    let mut touched = 0usize;
    loop {
        match node.node() {
            Node::Leaf(leaf, _) => {
                std::hint::black_box(touched);
                return match (leaf_key(leaf) == key, depth) {
                    (false, _) => Found::Absent,
                    (true, 0) => Found::AtRoot,
                    (true, _) => Found::Below,
                };
            }
            Node::Branch(branch, route) => {
                touched = touched.wrapping_add(node.strong_count());
                let (pos, bitmap) = route.read(branch);
                let Some(index) = digit(key, pos).and_then(|d| index_in(bitmap, d)) else {
                    return Found::Absent;
                };
                node = &branch.slots[index];
                depth += 1;
            }
        }
    }
}

/// Removes `key` from the tree rooted at `root`. Returns the removed leaf, and whether the root
/// itself was that leaf (the caller then empties the tree).
pub(crate) fn remove(root: &mut Child, key: &[u8]) -> Option<(LeafRef, bool)> {
    match locate(root, key) {
        Found::Absent => None,
        Found::AtRoot => Some((LeafRef::new(root.clone()), true)),
        Found::Below => {
            let mut slot = root;
            // The position of the branch holding `slot`, if any.
            let mut above = None;
            loop {
                let (branch, _) = slot.as_branch().expect("the leaf is below");
                let d = digit(key, branch.pos).expect("located below this branch");
                let index = branch.index_of(d).expect("located below this branch");
                if !branch.slots[index].is_branch() {
                    let (pos, bitmap) = (branch.pos, branch.bitmap & !(1 << d));
                    let count = branch.count();
                    let (removed, mut replacement) = if slot.strong_count() == 1 {
                        let (owned, route) = slot.branch_mut().expect("sole owner");
                        let removed = LeafRef::new(take(&mut owned.slots[index]));
                        if count > 2 {
                            owned.slots[index..count].rotate_left(1);
                            owned.bitmap = bitmap;
                            owned.hash.clear();
                            *route = Route::new(pos, bitmap);
                            return Some((removed, false));
                        }
                        (removed, take(&mut owned.slots[1 - index]))
                    } else {
                        let (branch, _) = slot.as_branch().expect("checked above");
                        let removed = LeafRef::new(branch.slots[index].clone());
                        let replacement = if count == 2 {
                            branch.slots[1 - index].clone()
                        } else {
                            warm(branch.children());
                            Branch::from_fn(pos, bitmap, |i| {
                                branch.slots[i + usize::from(i >= index)].clone()
                            })
                        };
                        (removed, replacement)
                    };
                    if count == 2 {
                        // The sibling moves up, under the branch above. Its key agrees with
                        // `key` before `pos` and has the one digit left at `pos`.
                        replacement.set_next(match above {
                            Some(up) if up + 1 < pos => Next::of(key, up),
                            Some(_) => Next::digit(Some(bitmap.trailing_zeros())),
                            None => Next::UNKNOWN,
                        });
                    }
                    *slot = replacement;
                    return Some((removed, false));
                }
                above = Some(branch.pos);
                slot = child_slot(slot, d);
            }
        }
    }
}
