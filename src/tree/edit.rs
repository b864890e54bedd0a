//! Insert and remove, persistent and in place.
//!
//! Both walk from the root to the edit point through `unique`, which edits a branch in place when
//! this tree is its only owner and copies it otherwise. A tree with no live snapshot therefore
//! writes in place, and a tree that shares nodes copies exactly the path it changes.
//! Every edit keeps the canonical form described in `node`, pairs included: an edit that leaves
//! a branch of two leaves below the root turns it into a pair of its parent, and one that adds
//! a key to a pair turns the pair into a branch of its own.

use crate::tree::node::{
    Branch, Child, LeafRef, Next, Node, RouteMut, closest_difference, count_bits, digit,
    first_difference, leaf_key, locate, pair_route, rank, take, warm,
};

/// The branch in `slot`, made this tree's own: edited in place when this tree is its only owner
/// (no `Weak` references to nodes exist, so a count of one means sole ownership), copied
/// otherwise; its cached hash cleared. With the route the slot keeps for it.
fn unique(slot: &mut Child) -> (&mut Branch, RouteMut<'_>) {
    if slot.strong_count() != 1 {
        let (branch, _) = slot.as_branch().expect("only branches are made unique");
        warm(branch.children());
        let copy = branch.copy();
        *slot = copy;
    }
    let (owned, route) = slot
        .branch_mut()
        .expect("a freshly copied branch has one owner");
    owned.hash.clear();
    (owned, route)
}

/// Slot `index` of the branch in `slot`, which is made this tree's own.
fn child_slot(slot: &mut Child, index: usize) -> &mut Child {
    &mut unique(slot).0.slots[index]
}

/// Replaces the `removed` slots of the branch in `slot` that start at `at` with `inserted`, and
/// gives the branch `bitmap` and `pairs` (its position stays): in place when this tree owns it
/// alone and it has room, else in a new branch of the class for the result.
fn splice<const K: usize>(
    slot: &mut Child,
    at: usize,
    removed: usize,
    inserted: [Child; K],
    bitmap: u32,
    pairs: u32,
) {
    let (branch, _) = slot.as_branch().expect("slots are spliced into branches");
    let (pos, old_count) = (branch.pos, branch.count());
    let count = old_count - removed + K;
    let mut inserted = inserted.map(Some);
    let mut new = |j: usize| inserted[j].take().expect("each new slot is placed once");
    if count <= branch.slots.len() && slot.strong_count() == 1 {
        let (owned, route) = slot.branch_mut().expect("sole owner");
        for old in &mut owned.slots[at..at + removed] {
            drop(take(old));
        }
        if K >= removed {
            owned.slots[at..count].rotate_right(K - removed);
        } else {
            owned.slots[at..old_count].rotate_left(removed - K);
        }
        for j in 0..K {
            owned.slots[at + j] = new(j);
        }
        owned.bitmap = bitmap;
        owned.pairs = pairs;
        owned.hash.clear();
        route.set(pos, bitmap, pairs);
        return;
    }
    // Slot `i` of the result: an old slot before `at`, a new one, or an old one past the gap.
    // Old slots are moved out when this tree owns the branch alone (no reference count
    // touched), cloned otherwise.
    let old = |i: usize| match i {
        i if i < at => Some(i),
        i if i < at + K => None,
        i => Some(i - K + removed),
    };
    let replacement = match slot.branch_mut() {
        Some((owned, _)) => Branch::from_fn(pos, bitmap, pairs, |i| match old(i) {
            Some(j) => take(&mut owned.slots[j]),
            None => new(i - at),
        }),
        None => {
            let (branch, _) = slot.as_branch().expect("checked above");
            warm(branch.children());
            Branch::from_fn(pos, bitmap, pairs, |i| match old(i) {
                Some(j) => branch.slots[j].clone(),
                None => new(i - at),
            })
        }
    };
    *slot = replacement;
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
            // Only a root can be a leaf here: the walk handles every other leaf from its parent.
            let (old, _) = slot.leaf();
            return match first_difference(leaf_key(old), key) {
                None => {
                    leaf.set_next(slot.next());
                    Some(LeafRef::new(std::mem::replace(slot, leaf)))
                }
                Some(at) => {
                    split(slot, at, key, leaf);
                    None
                }
            };
        };
        let (pos, bitmap, pairs) = route.read(branch);
        if pos > known {
            match closest_difference(slot, key, true) {
                Some(at) if at < pos => {
                    split(slot, at, key, leaf);
                    return None;
                }
                agreed => known = agreed.unwrap_or(u32::MAX),
            }
        }
        let d = digit(key, pos).expect("the key shares this branch's prefix");
        let Some((index, pair)) = locate(bitmap, pairs, d) else {
            leaf.set_next(Next::of(key, pos));
            splice(slot, rank(bitmap, pairs, d), 0, [leaf], bitmap | 1 << d, pairs);
            return None;
        };
        if pair {
            return insert_into_pair(slot, index, d, key, leaf);
        }
        let child = &branch.slots[index];
        if !child.is_branch() {
            return insert_beside_leaf(slot, index, d, key, leaf);
        }
        // Start the misses of the child and of this branch's reference count together, before
        // the ownership check waits for the latter.
        std::hint::black_box(child.preload());
        slot = child_slot(slot, index);
        known = known.max(pos + 1);
    }
}

/// Inserts `leaf` (whose key is `key`) at the leaf child with digit `d` in slot `index` of the
/// branch in `slot`: replaces it when the keys are equal, else the two leaves become a pair.
fn insert_beside_leaf(
    slot: &mut Child,
    index: usize,
    d: u32,
    key: &[u8],
    mut leaf: Child,
) -> Option<LeafRef> {
    let (branch, route) = slot.as_branch().expect("the leaf's parent");
    let (pos, bitmap, pairs) = route.read(branch);
    let old = &branch.slots[index];
    // The key agrees with the leaf up to `pos`: a leaf whose next digit differs from the key's
    // first differs from it right after `pos`, which is all the pair needs.
    let known = old
        .next()
        .get()
        .filter(|&old_digit| digit(key, pos + 1).is_some_and(|d| d != old_digit));
    let (at, old_digit, old_next) = match known {
        Some(old_digit) => (pos + 1, old_digit, Next::UNKNOWN),
        None => {
            let old_key = leaf_key(old.leaf().0);
            match first_difference(old_key, key) {
                None => {
                    let old = &mut unique(slot).0.slots[index];
                    leaf.set_next(old.next());
                    return Some(LeafRef::new(std::mem::replace(old, leaf)));
                }
                Some(at) => {
                    let old_digit = digit(old_key, at).expect("both keys reach the split");
                    (at, old_digit, Next::of(old_key, at))
                }
            }
        }
    };
    let key_digit = digit(key, at).expect("the split lies within the key");
    leaf.set_next(Next::of(key, at));
    let after = key_digit > old_digit;
    splice(
        slot,
        index + usize::from(after),
        0,
        [leaf],
        bitmap,
        pairs | 1 << d,
    );
    unique(slot).0.slots[index + usize::from(!after)].set_next(old_next);
    None
}

/// Inserts `leaf` (whose key is `key`) at the pair with digit `d` in slots `index` and
/// `index + 1` of the branch in `slot`: replaces one of its leaves when a key is equal, else the
/// pair and the new leaf become a branch of three keys.
fn insert_into_pair(
    slot: &mut Child,
    index: usize,
    d: u32,
    key: &[u8],
    mut leaf: Child,
) -> Option<LeafRef> {
    let (branch, route) = slot.as_branch().expect("the pair's parent");
    let (_, bitmap, pairs) = route.read(branch);
    let pair = &branch.slots[index..index + 2];
    if let Some(i) = (0..2).find(|&i| leaf_key(pair[i].leaf().0) == key) {
        let old = &mut unique(slot).0.slots[index + i];
        leaf.set_next(old.next());
        return Some(LeafRef::new(std::mem::replace(old, leaf)));
    }
    let grown = grow_pair([pair[0].clone(), pair[1].clone()], key, leaf);
    splice(slot, index, 2, [grown], bitmap, pairs & !(1 << d));
    None
}

/// The branch of three keys that the leaves of `pair` and `leaf` (whose key `key` is in neither)
/// form.
fn grow_pair(pair: [Child; 2], key: &[u8], mut leaf: Child) -> Child {
    let (at, _) = pair_route(&pair);
    let keys = [0, 1].map(|i| leaf_key(pair[i].leaf().0));
    let digits = keys.map(|k| digit(k, at).expect("both keys reach the split"));
    let reach = keys.map(|k| first_difference(k, key).expect("the key is in neither leaf"));
    let split = reach[0].max(reach[1]);
    if split < at {
        // The key leaves the pair's prefix above its split: a branch over the leaf and the pair.
        let key_digit = digit(key, split).expect("the split lies within the key");
        let pair_digit = digit(keys[0], split).expect("both keys reach the split");
        leaf.set_next(Next::of(key, split));
        let [a, b] = pair;
        let bitmap = 1 << key_digit | 1 << pair_digit;
        let pairs = 1 << pair_digit;
        return if key_digit < pair_digit {
            Branch::with_children(split, bitmap, pairs, [leaf, a, b])
        } else {
            Branch::with_children(split, bitmap, pairs, [a, b, leaf])
        };
    }
    let key_digit = digit(key, at).expect("the key reaches the pair's split");
    if split == at {
        // A third digit at the pair's split.
        leaf.set_next(Next::of(key, at));
        let bitmap = 1 << digits[0] | 1 << digits[1] | 1 << key_digit;
        let [a, b] = pair;
        return match (key_digit < digits[0], key_digit < digits[1]) {
            (true, _) => Branch::with_children(at, bitmap, 0, [leaf, a, b]),
            (false, true) => Branch::with_children(at, bitmap, 0, [a, leaf, b]),
            (false, false) => Branch::with_children(at, bitmap, 0, [a, b, leaf]),
        };
    }
    // The key shares its digit at the split with one leaf: those two form a pair below it.
    let near = usize::from(reach[1] > reach[0]);
    let near_digit = digit(keys[near], split).expect("both keys reach the split");
    let near_next = Next::of(keys[near], split);
    let key_below = digit(key, split).expect("the split lies within the key");
    let [a, b] = pair;
    let (mut near_leaf, far_leaf) = if near == 0 { (a, b) } else { (b, a) };
    near_leaf.set_next(near_next);
    leaf.set_next(Next::of(key, split));
    let [first, second] = if key_below < near_digit {
        [leaf, near_leaf]
    } else {
        [near_leaf, leaf]
    };
    let bitmap = 1 << digits[0] | 1 << digits[1];
    let pairs = 1 << digits[near];
    if near == 0 {
        Branch::with_children(at, bitmap, pairs, [first, second, far_leaf])
    } else {
        Branch::with_children(at, bitmap, pairs, [far_leaf, first, second])
    }
}

/// Puts a new branch at nibble `at` in `slot`, above what it held: that subtree and `leaf`
/// (whose key is `key`) differ first at `at`. A root branch of two leaves moving below the new
/// branch becomes its pair.
fn split(slot: &mut Child, at: u32, key: &[u8], mut leaf: Child) {
    let key_digit = digit(key, at).expect("the split lies within the key");
    let old = take(slot);
    let old_key = leaf_key(old.any_leaf());
    let old_digit = digit(old_key, at).expect("keys below share the split");
    let old_next = Next::of(old_key, at);
    leaf.set_next(Next::of(key, at));
    let bitmap = 1 << key_digit | 1 << old_digit;
    *slot = match into_pair(old) {
        Ok([a, b]) if key_digit < old_digit => {
            Branch::with_children(at, bitmap, 1 << old_digit, [leaf, a, b])
        }
        Ok([a, b]) => Branch::with_children(at, bitmap, 1 << old_digit, [a, b, leaf]),
        Err(mut old) => {
            old.set_next(old_next);
            if key_digit < old_digit {
                Branch::with_children(at, bitmap, 0, [leaf, old])
            } else {
                Branch::with_children(at, bitmap, 0, [old, leaf])
            }
        }
    };
}

/// The two leaves of a branch of exactly two leaves, or the node itself for any other.
fn into_pair(mut node: Child) -> Result<[Child; 2], Child> {
    let two_leaves = node.as_branch().is_some_and(|(branch, _)| {
        branch.pairs == 0
            && branch.count() == 2
            && branch.children().iter().all(|child| !child.is_branch())
    });
    if !two_leaves {
        return Err(node);
    }
    Ok(match node.branch_mut() {
        Some((owned, _)) => [take(&mut owned.slots[0]), take(&mut owned.slots[1])],
        None => {
            let (branch, _) = node.as_branch().expect("checked above");
            [branch.slots[0].clone(), branch.slots[1].clone()]
        }
    })
}

/// A root branch for the two leaves of a pair.
fn pair_branch(pair: [Child; 2]) -> Child {
    let (pos, bitmap) = pair_route(&pair);
    Branch::with_children(pos, bitmap, 0, pair)
}

/// Where a key's leaf sits, found without modifying anything.
enum Found {
    Absent,
    /// The root itself is the leaf.
    AtRoot,
    /// The leaf is a child of a branch, or one of a pair.
    Below,
}

/// Where `key`'s leaf sits below `root`, if anywhere.
///
/// Like `closest_difference` for writes, it reads each branch's reference count on the way.
fn find(root: &Child, key: &[u8]) -> Found {
    let mut node = root;
    let mut depth = 0usize;
    let mut touched = 0usize;
    loop {
        match node.node() {
            Node::Leaf(leaf) => {
                std::hint::black_box(touched);
                return match (leaf_key(leaf) == key, depth) {
                    (false, _) => Found::Absent,
                    (true, 0) => Found::AtRoot,
                    (true, _) => Found::Below,
                };
            }
            Node::Branch(branch, route) => {
                touched = touched.wrapping_add(node.strong_count());
                let (pos, bitmap, pairs) = route.read(branch);
                let Some((index, pair)) = digit(key, pos).and_then(|d| locate(bitmap, pairs, d))
                else {
                    return Found::Absent;
                };
                if pair {
                    std::hint::black_box(touched);
                    let pair = &branch.slots[index..index + 2];
                    return if pair.iter().any(|leaf| leaf_key(leaf.leaf().0) == key) {
                        Found::Below
                    } else {
                        Found::Absent
                    };
                }
                node = &branch.slots[index];
                depth += 1;
            }
        }
    }
}

/// Whether the branch in `node` holds `key` (which is in its subtree) as a leaf child or in a
/// pair, rather than further down.
fn holds(node: &Child, key: &[u8]) -> bool {
    let (branch, route) = node.as_branch().expect("the key is below");
    let (pos, bitmap, pairs) = route.read(branch);
    let d = digit(key, pos).expect("the key is below this branch");
    let (index, pair) = locate(bitmap, pairs, d).expect("the key is below this branch");
    pair || !branch.slots[index].is_branch()
}

/// What is left of a branch after one of its leaves is removed.
enum Rest {
    /// A branch still, in its slot.
    Branch,
    /// One child, which takes the branch's place.
    One(Child),
    /// Two leaves: a pair of the branch above, or the root's branch of two leaves.
    Pair([Child; 2]),
}

/// Removes `key` from the tree rooted at `root`. Returns the removed leaf, and whether the root
/// itself was that leaf (the caller then empties the tree).
pub(crate) fn remove(root: &mut Child, key: &[u8]) -> Option<(LeafRef, bool)> {
    match find(root, key) {
        Found::Absent => None,
        Found::AtRoot => Some((LeafRef::new(root.clone()), true)),
        Found::Below if holds(root, key) => {
            let (removed, rest) = remove_held(root, key, None);
            match rest {
                Rest::Branch => {}
                Rest::One(child) => *root = child,
                Rest::Pair(pair) => *root = pair_branch(pair),
            }
            Some((removed, false))
        }
        Found::Below => {
            // The walk stops at the parent of the branch that holds the key, which places what
            // is left of that branch.
            let mut slot = root;
            loop {
                let (branch, route) = slot.as_branch().expect("the leaf is below");
                let (pos, bitmap, pairs) = route.read(branch);
                let d = digit(key, pos).expect("located below this branch");
                let (index, _) = locate(bitmap, pairs, d).expect("located below this branch");
                if holds(&branch.slots[index], key) {
                    let (removed, rest) = remove_held(child_slot(slot, index), key, Some(pos));
                    match rest {
                        Rest::Branch => {}
                        Rest::One(child) => *child_slot(slot, index) = child,
                        Rest::Pair(pair) => splice(slot, index, 1, pair, bitmap, pairs | 1 << d),
                    }
                    return Some((removed, false));
                }
                slot = child_slot(slot, index);
            }
        }
    }
}

/// Removes `key` from the branch in `slot`, which holds it as a leaf child or in a pair, and
/// says what is left of the branch. `above` is the position of the branch's parent, if any.
fn remove_held(slot: &mut Child, key: &[u8], above: Option<u32>) -> (LeafRef, Rest) {
    let (owned, route) = unique(slot);
    let (pos, bitmap, pairs) = (owned.pos, owned.bitmap, owned.pairs);
    let count = owned.count();
    let d = digit(key, pos).expect("the key is below this branch");
    let (index, pair) = locate(bitmap, pairs, d).expect("the key is below this branch");
    let (removed, bitmap, pairs) = if pair {
        // The other leaf of the pair stays, as the child with digit `d`.
        let first_is_key = leaf_key(owned.slots[index].leaf().0) == key;
        let removed = take(&mut owned.slots[index + usize::from(!first_is_key)]);
        if first_is_key {
            owned.slots.swap(index, index + 1);
        }
        owned.slots[index].set_next(Next::UNKNOWN);
        owned.slots[index + 1..count].rotate_left(1);
        (removed, bitmap, pairs & !(1 << d))
    } else if count_bits(bitmap) == 2 {
        // One child is left: it takes the branch's place.
        let removed = take(&mut owned.slots[index]);
        let other = usize::from(index == 0);
        let rest = if pairs != 0 {
            Rest::Pair([take(&mut owned.slots[other]), take(&mut owned.slots[other + 1])])
        } else {
            let mut child = take(&mut owned.slots[other]);
            // Its key agrees with `key` before `pos` and has the one digit left at `pos`.
            child.set_next(match above {
                Some(up) if up + 1 < pos => Next::of(key, up),
                Some(_) => Next::digit(Some((bitmap & !(1 << d)).trailing_zeros())),
                None => Next::UNKNOWN,
            });
            Rest::One(child)
        };
        return (LeafRef::new(removed), rest);
    } else {
        let removed = take(&mut owned.slots[index]);
        owned.slots[index..count].rotate_left(1);
        (removed, bitmap & !(1 << d), pairs)
    };
    let two_leaves = count_bits(bitmap) == 2
        && pairs == 0
        && owned.slots[..2].iter().all(|child| !child.is_branch());
    let rest = if two_leaves && above.is_some() {
        Rest::Pair([take(&mut owned.slots[0]), take(&mut owned.slots[1])])
    } else {
        owned.bitmap = bitmap;
        owned.pairs = pairs;
        route.set(pos, bitmap, pairs);
        Rest::Branch
    };
    (LeafRef::new(removed), rest)
}
