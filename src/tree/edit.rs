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
    fingerprint, first_difference, leaf_key, locate, new_branch, pair_route, put, rank, shift_left,
    shift_right, take, warm,
};

/// The branch in `slot`, made this tree's own: edited in place when this tree is its only owner
/// (no `Weak` references to nodes exist, so a count of one means sole ownership), copied
/// otherwise; its cached hash cleared. With the route the slot keeps for it.
fn unique<const S: bool>(slot: &mut Child) -> (&mut Branch, RouteMut<'_>) {
    if S {
        slot.materialize();
    }
    if slot.strong_count() != 1 {
        let (branch, _) = slot
            .as_branch_of::<S>()
            .expect("only branches are made unique");
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
fn child_slot<const S: bool>(slot: &mut Child, index: usize) -> &mut Child {
    &mut unique::<S>(slot).0.slots[index]
}

/// Replaces the `removed` slots of the branch in `slot` that start at `at` with `inserted`, and
/// gives the branch `bitmap` and `pairs` (its position stays): in place when this tree owns it
/// alone and it has room, else in a new branch of the class for the result.
fn splice<const S: bool, const K: usize>(
    slot: &mut Child,
    at: usize,
    removed: usize,
    inserted: [Child; K],
    bitmap: u32,
    pairs: u32,
) {
    if S {
        slot.materialize();
    }
    let (branch, _) = slot
        .as_branch_of::<S>()
        .expect("slots are spliced into branches");
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
            shift_right(&mut owned.slots[at..count], K - removed);
        } else {
            shift_left(&mut owned.slots[at..old_count], removed - K);
        }
        for (j, slot) in owned.slots[at..at + K].iter_mut().enumerate() {
            put(slot, new(j));
        }
        owned.bitmap = bitmap;
        owned.pairs = pairs;
        owned.hash.clear();
        route.set(pos, bitmap, pairs);
        return;
    }
    let replacement = match slot.branch_mut() {
        // Moved out in bulk when this tree owns the branch alone (no reference count touched;
        // the removed slots stay behind and go with it).
        Some((owned, _)) => new_branch(pos, bitmap, pairs, |slots| {
            slots[..at].swap_with_slice(&mut owned.slots[..at]);
            slots[at + K..].swap_with_slice(&mut owned.slots[at + removed..old_count]);
            for (j, slot) in slots[at..at + K].iter_mut().enumerate() {
                put(slot, new(j));
            }
        }),
        // Cloned otherwise.
        None => {
            let (branch, _) = slot.as_branch_of::<S>().expect("checked above");
            warm(branch.children());
            let old = |i: usize| match i {
                i if i < at => Some(i),
                i if i < at + K => None,
                i => Some(i - K + removed),
            };
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
pub(crate) fn insert<const S: bool>(
    root: &mut Child,
    key: &[u8],
    mut leaf: Child,
) -> Option<LeafRef> {
    let mut slot = root;
    // The key is known to agree with every key below `slot` on its first `known` nibbles.
    let mut known = 0;
    loop {
        let Some((branch, route)) = slot.as_branch_of::<S>() else {
            // Only a root can be a leaf here: the walk handles every other leaf from its parent.
            let (old, _) = slot.leaf_of::<S>();
            return match first_difference(leaf_key(old), key) {
                None => {
                    leaf.set_next(slot.next());
                    Some(LeafRef::new(std::mem::replace(slot, leaf)))
                }
                Some(at) => {
                    split::<S>(slot, at, key, leaf);
                    None
                }
            };
        };
        let (pos, bitmap, pairs) = route.read(branch);
        if pos > known {
            match closest_difference::<S>(slot, key, true) {
                Some(at) if at < pos => {
                    split::<S>(slot, at, key, leaf);
                    return None;
                }
                agreed => known = agreed.unwrap_or(u32::MAX),
            }
        }
        let d = digit(key, pos).expect("the key shares this branch's prefix");
        let Some((index, pair)) = locate(bitmap, pairs, d) else {
            leaf.set_next(Next::of(key, pos));
            splice::<S, _>(
                slot,
                rank(bitmap, pairs, d),
                0,
                [leaf],
                bitmap | 1 << d,
                pairs,
            );
            return None;
        };
        if pair {
            return insert_into_pair::<S>(slot, index, d, key, leaf);
        }
        let child = &branch.slots[index];
        if !child.is_branch_of::<S>() {
            return insert_beside_leaf::<S>(slot, index, d, key, leaf);
        }
        // Start the misses of the child and of this branch's reference count together, before
        // the ownership check waits for the latter.
        std::hint::black_box(child.preload());
        slot = child_slot::<S>(slot, index);
        known = known.max(pos + 1);
    }
}

/// Inserts `leaf` (whose key is `key`) at the leaf child with digit `d` in slot `index` of the
/// branch in `slot`: replaces it when the keys are equal, else the two leaves become a pair.
fn insert_beside_leaf<const S: bool>(
    slot: &mut Child,
    index: usize,
    d: u32,
    key: &[u8],
    mut leaf: Child,
) -> Option<LeafRef> {
    let (branch, route) = slot.as_branch_of::<S>().expect("the leaf's parent");
    let (pos, bitmap, pairs) = route.read(branch);
    let old = &branch.slots[index];
    // The key agrees with the leaf up to `pos`: a leaf whose next digit differs from the key's
    // first differs from it right after `pos`, which is all the pair needs.
    let known = old
        .next()
        .get()
        .filter(|&old_digit| digit(key, pos + 1).is_some_and(|d| d != old_digit));
    let (at, old_digit, old_next) = match known {
        Some(old_digit) => (pos + 1, old_digit, None),
        None => {
            let old_key = leaf_key(old.leaf_of::<S>().0);
            match first_difference(old_key, key) {
                None => return Some(replace_leaf::<S>(slot, index, leaf)),
                Some(at) => {
                    let old_digit = digit(old_key, at).expect("both keys reach the split");
                    (at, old_digit, Some(Next::of(old_key, pos)))
                }
            }
        }
    };
    let key_digit = digit(key, at).expect("the split lies within the key");
    // The pair's leaves stay in this branch: their next digits are at `pos + 1`.
    leaf.set_next(Next::of(key, pos));
    let after = key_digit > old_digit;
    splice::<S, _>(
        slot,
        index + usize::from(after),
        0,
        [leaf],
        bitmap,
        pairs | 1 << d,
    );
    if let Some(next) = old_next {
        unique::<S>(slot).0.slots[index + usize::from(!after)].set_next(next);
    }
    None
}

/// Inserts `leaf` (whose key is `key`) at the pair with digit `d` in slots `index` and
/// `index + 1` of the branch in `slot`: replaces one of its leaves when a key is equal, else the
/// pair and the new leaf become a branch of three keys.
fn insert_into_pair<const S: bool>(
    slot: &mut Child,
    index: usize,
    d: u32,
    key: &[u8],
    leaf: Child,
) -> Option<LeafRef> {
    let (branch, route) = slot.as_branch_of::<S>().expect("the pair's parent");
    let (pos, bitmap, pairs) = route.read(branch);
    let pair = &branch.slots[index..index + 2];
    if let Some(i) = (0..2).find(|&i| holds_key::<S>(&pair[i], key)) {
        return Some(replace_leaf::<S>(slot, index + i, leaf));
    }
    // The pair's leaves move into the new branch; taken rather than cloned, their reference
    // counts (the first line of each leaf) are not touched.
    let (owned, route) = unique::<S>(slot);
    let count = owned.count();
    let pair = [
        take(&mut owned.slots[index]),
        take(&mut owned.slots[index + 1]),
    ];
    owned.slots[index] = grow_pair::<S>(pair, pos, key, leaf);
    shift_left(&mut owned.slots[index + 1..count], 1);
    owned.pairs = pairs & !(1 << d);
    route.set(pos, bitmap, owned.pairs);
    None
}

/// Puts `leaf` in place of the leaf with the same key in slot `index` of the branch in `slot`
/// (its next digit too) and returns the old one.
fn replace_leaf<const S: bool>(slot: &mut Child, index: usize, mut leaf: Child) -> LeafRef {
    let old = &mut unique::<S>(slot).0.slots[index];
    leaf.set_next(old.next());
    LeafRef::new(std::mem::replace(old, leaf))
}

/// The branch of three keys that the leaves of `pair` (held by a branch at `pos`) and `leaf`
/// (whose key `key` is in neither) form.
///
/// When the pair's next digits are known and differ, the pair splits right below `pos` and its
/// digits there are those: a key with a third digit there needs no leaf read, and one sharing a
/// leaf's digit reads that leaf only. Otherwise both leaves are read.
fn grow_pair<const S: bool>(pair: [Child; 2], pos: u32, key: &[u8], mut leaf: Child) -> Child {
    let key_next = digit(key, pos + 1).expect("a key routed to a pair goes on past it");
    let [mut a, mut b] = pair;
    if let (Some(da), Some(db)) = (a.next().get(), b.next().get())
        && da != db
    {
        let at = pos + 1;
        if key_next != da && key_next != db {
            a.set_next(Next::UNKNOWN);
            b.set_next(Next::UNKNOWN);
            leaf.set_next(Next::of(key, at));
            return three(at, [(da, a), (db, b), (key_next, leaf)]);
        }
        b.set_next(Next::UNKNOWN);
        a.set_next(Next::UNKNOWN);
        return if key_next == da {
            join::<S>(at, (da, a), (db, b), key, leaf)
        } else {
            join::<S>(at, (db, b), (da, a), key, leaf)
        };
    }
    let keys = [&a, &b].map(|leaf| leaf_key(leaf.leaf_of::<S>().0).to_vec());
    let at = first_difference(&keys[0], &keys[1]).expect("the keys of a pair differ");
    let digits = keys
        .each_ref()
        .map(|k| digit(k, at).expect("both keys reach the split"));
    let reach = keys
        .each_ref()
        .map(|k| first_difference(k, key).expect("the key is new"));
    let split = reach[0].max(reach[1]);
    if split < at {
        // The key leaves the pair's prefix above its split: a branch over the leaf and the pair.
        let key_digit = digit(key, split).expect("the split lies within the key");
        let pair_digit = digit(&keys[0], split).expect("both keys reach the split");
        a.set_next(Next::of(&keys[0], split));
        b.set_next(Next::of(&keys[1], split));
        leaf.set_next(Next::of(key, split));
        let bitmap = 1 << key_digit | 1 << pair_digit;
        let pairs = 1 << pair_digit;
        return if key_digit < pair_digit {
            Branch::with_children(split, bitmap, pairs, [leaf, a, b])
        } else {
            Branch::with_children(split, bitmap, pairs, [a, b, leaf])
        };
    }
    a.set_next(Next::of(&keys[0], at));
    b.set_next(Next::of(&keys[1], at));
    if split == at {
        leaf.set_next(Next::of(key, at));
        let key_digit = digit(key, at).expect("the key reaches the pair's split");
        return three(at, [(digits[0], a), (digits[1], b), (key_digit, leaf)]);
    }
    if reach[0] > reach[1] {
        join::<S>(at, (digits[0], a), (digits[1], b), key, leaf)
    } else {
        join::<S>(at, (digits[1], b), (digits[0], a), key, leaf)
    }
}

/// A branch at `at` over three leaves, given with their digits there (all different).
fn three(at: u32, mut leaves: [(u32, Child); 3]) -> Child {
    leaves.sort_by_key(|(d, _)| *d);
    let bitmap = leaves.iter().fold(0, |bits, (d, _)| bits | 1 << d);
    Branch::with_children(at, bitmap, 0, leaves.map(|(_, leaf)| leaf))
}

/// A branch at `at` over the leaf `near` and `far` (given with their digits there), where
/// `leaf` (whose key is `key`) shares `near`'s digit and forms a pair with it. Reads `near`.
fn join<const S: bool>(
    at: u32,
    near: (u32, Child),
    far: (u32, Child),
    key: &[u8],
    mut leaf: Child,
) -> Child {
    let ((near_digit, mut near), (far_digit, far)) = (near, far);
    let near_key = leaf_key(near.leaf_of::<S>().0);
    let split = first_difference(near_key, key).expect("the key is new");
    let key_first = digit(key, split) < digit(near_key, split);
    near.set_next(Next::of(near_key, at));
    leaf.set_next(Next::of(key, at));
    let [first, second] = if key_first {
        [leaf, near]
    } else {
        [near, leaf]
    };
    let bitmap = 1 << near_digit | 1 << far_digit;
    let pairs = 1 << near_digit;
    if near_digit < far_digit {
        Branch::with_children(at, bitmap, pairs, [first, second, far])
    } else {
        Branch::with_children(at, bitmap, pairs, [far, first, second])
    }
}

/// Puts a new branch at nibble `at` in `slot`, above what it held: that subtree and `leaf`
/// (whose key is `key`) differ first at `at`. A root branch of two leaves moving below the new
/// branch becomes its pair.
fn split<const S: bool>(slot: &mut Child, at: u32, key: &[u8], mut leaf: Child) {
    let key_digit = digit(key, at).expect("the split lies within the key");
    let old = take(slot);
    let old_key = leaf_key(old.any_leaf_of::<S>());
    let old_digit = digit(old_key, at).expect("keys below share the split");
    let old_next = Next::of(old_key, at);
    leaf.set_next(Next::of(key, at));
    let bitmap = 1 << key_digit | 1 << old_digit;
    *slot = match into_pair::<S>(old) {
        Ok(mut pair) => {
            for leaf in &mut pair {
                let next = Next::of(leaf_key(leaf.leaf_of::<S>().0), at);
                leaf.set_next(next);
            }
            let [a, b] = pair;
            if key_digit < old_digit {
                Branch::with_children(at, bitmap, 1 << old_digit, [leaf, a, b])
            } else {
                Branch::with_children(at, bitmap, 1 << old_digit, [a, b, leaf])
            }
        }
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
fn into_pair<const S: bool>(mut node: Child) -> Result<[Child; 2], Child> {
    let two_leaves = node.as_branch_of::<S>().is_some_and(|(branch, _)| {
        branch.pairs == 0
            && branch.count() == 2
            && branch
                .children()
                .iter()
                .all(|child| !child.is_branch_of::<S>())
    });
    if !two_leaves {
        return Err(node);
    }
    Ok(match node.branch_mut() {
        Some((owned, _)) => [take(&mut owned.slots[0]), take(&mut owned.slots[1])],
        None => {
            let (branch, _) = node.as_branch_of::<S>().expect("checked above");
            [branch.slots[0].clone(), branch.slots[1].clone()]
        }
    })
}

/// A root branch for the two leaves of a pair.
fn pair_branch(mut pair: [Child; 2]) -> Child {
    let (pos, bitmap) = pair_route(&pair);
    for leaf in &mut pair {
        let next = Next::of(leaf_key(leaf.leaf().0), pos);
        leaf.set_next(next);
    }
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
fn find<const S: bool>(root: &Child, key: &[u8]) -> Found {
    let mut node = root;
    let mut depth = 0usize;
    let mut touched = 0usize;
    loop {
        match node.node_of::<S>() {
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
                    return if pair.iter().any(|leaf| holds_key::<S>(leaf, key)) {
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
fn holds<const S: bool>(node: &Child, key: &[u8]) -> bool {
    let (branch, route) = node.as_branch_of::<S>().expect("the key is below");
    let (pos, bitmap, pairs) = route.read(branch);
    let d = digit(key, pos).expect("the key is below this branch");
    let (index, pair) = locate(bitmap, pairs, d).expect("the key is below this branch");
    pair || !branch.slots[index].is_branch_of::<S>()
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
pub(crate) fn remove<const S: bool>(root: &mut Child, key: &[u8]) -> Option<(LeafRef, bool)> {
    match find::<S>(root, key) {
        Found::Absent => None,
        Found::AtRoot => Some((LeafRef::new(root.clone()), true)),
        Found::Below if holds::<S>(root, key) => {
            let (removed, rest) = remove_held::<S>(root, key, None);
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
                let (branch, route) = slot.as_branch_of::<S>().expect("the leaf is below");
                let (pos, bitmap, pairs) = route.read(branch);
                let d = digit(key, pos).expect("located below this branch");
                let (index, _) = locate(bitmap, pairs, d).expect("located below this branch");
                if holds::<S>(&branch.slots[index], key) {
                    let (removed, rest) =
                        remove_held::<S>(child_slot::<S>(slot, index), key, Some(pos));
                    match rest {
                        Rest::Branch => {}
                        Rest::One(child) => *child_slot::<S>(slot, index) = child,
                        Rest::Pair(pair) => {
                            splice::<S, _>(slot, index, 1, pair, bitmap, pairs | 1 << d)
                        }
                    }
                    return Some((removed, false));
                }
                slot = child_slot::<S>(slot, index);
            }
        }
    }
}

/// Removes `key` from the branch in `slot`, which holds it as a leaf child or in a pair, and
/// says what is left of the branch. `above` is the position of the branch's parent, if any.
fn remove_held<const S: bool>(slot: &mut Child, key: &[u8], above: Option<u32>) -> (LeafRef, Rest) {
    let (owned, route) = unique::<S>(slot);
    let (pos, bitmap, pairs) = (owned.pos, owned.bitmap, owned.pairs);
    let count = owned.count();
    let d = digit(key, pos).expect("the key is below this branch");
    let (index, pair) = locate(bitmap, pairs, d).expect("the key is below this branch");
    let (removed, bitmap, pairs) = if pair {
        // The other leaf of the pair stays, as the child with digit `d`.
        let first_is_key = holds_key::<S>(&owned.slots[index], key);
        let removed = take(&mut owned.slots[index + usize::from(!first_is_key)]);
        if first_is_key {
            owned.slots.swap(index, index + 1);
        }
        shift_left(&mut owned.slots[index + 1..count], 1);
        (removed, bitmap, pairs & !(1 << d))
    } else if count_bits(bitmap) == 2 {
        // One child is left: it takes the branch's place.
        let removed = take(&mut owned.slots[index]);
        let other = usize::from(index == 0);
        let next = lifted(key, above, pos, (bitmap & !(1 << d)).trailing_zeros());
        let rest = if pairs != 0 {
            let mut pair = [
                take(&mut owned.slots[other]),
                take(&mut owned.slots[other + 1]),
            ];
            pair.iter_mut().for_each(|leaf| leaf.set_next(next));
            Rest::Pair(pair)
        } else {
            let mut child = take(&mut owned.slots[other]);
            child.set_next(next);
            Rest::One(child)
        };
        return (LeafRef::new(removed), rest);
    } else {
        let removed = take(&mut owned.slots[index]);
        shift_left(&mut owned.slots[index..count], 1);
        (removed, bitmap & !(1 << d), pairs)
    };
    let two_leaves = count_bits(bitmap) == 2
        && pairs == 0
        && owned.slots[..2]
            .iter()
            .all(|child| !child.is_branch_of::<S>());
    let rest = if two_leaves && above.is_some() {
        let mut pair = [take(&mut owned.slots[0]), take(&mut owned.slots[1])];
        let mut digits = bitmap;
        for leaf in &mut pair {
            leaf.set_next(lifted(key, above, pos, digits.trailing_zeros()));
            digits &= digits - 1;
        }
        Rest::Pair(pair)
    } else {
        owned.bitmap = bitmap;
        owned.pairs = pairs;
        route.set(pos, bitmap, pairs);
        Rest::Branch
    };
    (LeafRef::new(removed), rest)
}

/// The next digit of a leaf lifted from a branch at `pos` to the branch above it (at `above`),
/// whose digit at `pos` is `digit`: its key agrees with `key` before `pos`.
fn lifted(key: &[u8], above: Option<u32>, pos: u32, digit: u32) -> Next {
    match above {
        Some(up) if up + 1 < pos => Next::of(key, up),
        Some(_) => Next::digit(Some(digit)),
        None => Next::UNKNOWN,
    }
}

/// Whether the leaf in `leaf` holds `key`: the fingerprint rules out most other leaves without
/// reading them.
fn holds_key<const S: bool>(leaf: &Child, key: &[u8]) -> bool {
    leaf.leaf_tag_of::<S>() == fingerprint(key) && leaf_key(leaf.leaf_of::<S>().0) == key
}
