//! Node layout of the trie.
//!
//! The trie routes on the key's nibbles (4-bit digits, high nibble first) and compresses paths:
//! a branch records only the nibble position where its keys diverge (`pos`), and the skipped
//! nibbles are checked against the full key stored in the leaf at the end of a lookup.
//!
//! Invariants (the canonical form):
//! - every branch has at least two children;
//! - all keys below a branch share their first `pos` nibbles and do not all agree on nibble `pos`
//!   (or one of them ends exactly at `pos`);
//! - a branch's children are ordered by digit: digit 0 is "the key ends here", digit `1 + n` is
//!   nibble `n`, so child order is key order.
//!
//! Because the position of every branch is a function of the key set alone, the shape of the tree
//! depends only on its contents.

use std::ops::Deref;
use std::sync::Arc;

use crate::tree::hash::HashCell;

/// Digit meaning "the key ends at this position"; it sorts before every nibble.
pub(crate) const END: u32 = 0;

/// Number of digits a branch can route on: the end marker and sixteen nibbles.
pub(crate) const RADIX: usize = 17;

/// A reference to a child node: either a leaf or a branch.
///
/// A leaf is one allocation laid out as `[key_len: u16 LE][key][value]`; beside the pointer the
/// slot keeps the key's [`fingerprint`], so a lookup that ends at the wrong leaf is usually
/// rejected without reading the leaf. The fingerprint fits in the enum's tag word.
#[derive(Clone)]
pub(crate) enum Child {
    Leaf(Arc<[u8]>, u32),
    /// A branch and its [`Route`], copied from the branch into the slot so that a lookup reads
    /// only the slot it follows, never the branch header.
    Branch(BranchRef, Route),
    /// A slot whose child was moved out of a branch that is being replaced or freed. Never
    /// reachable from a tree.
    Vacant,
}

/// A 32-bit digest of a key: equal keys have equal fingerprints.
#[inline]
pub(crate) fn fingerprint(key: &[u8]) -> u32 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, word: u64| (h ^ word).wrapping_mul(K).rotate_left(29);
    let mut h = (key.len() as u64).wrapping_mul(K);
    let mut words = key.chunks_exact(8);
    for word in &mut words {
        h = mix(
            h,
            u64::from_le_bytes(word.try_into().expect("8-byte chunks")),
        );
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(last));
    }
    (h ^ (h >> 32)) as u32
}

/// A shared reference to a branch.
///
/// Dropping the last reference to a branch frees its subtree with a loop instead of the nested
/// drops `Arc` would do, so the deepest tree cannot overflow the call stack.
#[derive(Clone)]
pub(crate) struct BranchRef(pub(crate) Arc<Branch>);

impl Deref for BranchRef {
    type Target = Branch;
    #[inline]
    fn deref(&self) -> &Branch {
        &self.0
    }
}

impl Drop for BranchRef {
    fn drop(&mut self) {
        if Arc::strong_count(&self.0) != 1 {
            return;
        }
        let Some(branch) = Arc::get_mut(&mut self.0) else {
            return;
        };
        // This is the last reference: detach the child branches, then free them one at a time,
        // each after detaching its own children in turn.
        let mut detached = Vec::new();
        detach(branch, &mut detached);
        while let Some(mut next) = detached.pop() {
            let branch = Arc::get_mut(&mut next.0).expect("only sole-owned branches are detached");
            detach(branch, &mut detached);
        }
    }
}

/// Reads the reference count of every child with plain loads, whose cache misses overlap, so that
/// the locked increments or decrements that follow find the counts in cache (x86 runs locked
/// instructions one at a time, each waiting for its own miss).
pub(crate) fn warm(children: &[Child]) {
    let sum = children
        .iter()
        .fold(0usize, |sum, child| sum.wrapping_add(touch(child)));
    std::hint::black_box(sum);
}

/// Reads a child's reference count: a plain load that brings the head of its allocation into
/// cache.
#[inline]
pub(crate) fn touch(child: &Child) -> usize {
    match child {
        Child::Leaf(leaf, _) => Arc::strong_count(leaf),
        Child::Branch(branch, _) => Arc::strong_count(&branch.0),
        Child::Vacant => 0,
    }
}

/// Moves the child branches that `branch` alone holds into `out`, leaving holes in their place.
/// Shared children stay: freeing `branch` only drops its reference to them.
fn detach(branch: &mut Branch, out: &mut Vec<BranchRef>) {
    warm(&branch.slots);
    for child in branch.slots.iter_mut() {
        if let Child::Branch(inner, _) = child
            && Arc::strong_count(&inner.0) == 1
            && let Child::Branch(taken, _) = take(child)
        {
            out.push(taken);
        }
    }
}

/// The arm for [`Child::Vacant`] in walks over a tree, which never meet one.
macro_rules! vacant {
    () => {
        unreachable!("a vacant slot is never part of a tree")
    };
}
pub(crate) use vacant;

/// Leaves a slot [`Child::Vacant`] and returns what it held: moving a child out of a branch
/// this way touches no reference count.
#[inline]
pub(crate) fn take(slot: &mut Child) -> Child {
    std::mem::replace(slot, Child::Vacant)
}

/// A branch with its children stored inline (a dynamically sized type).
pub(crate) struct BranchOf<C: ?Sized> {
    /// Nibble index at which the keys below this branch diverge.
    pub(crate) pos: u32,
    /// Bit `d` is set when a child with digit `d` exists.
    pub(crate) bitmap: u32,
    /// The Merkle hash of this subtree, filled on first request.
    pub(crate) hash: HashCell,
    /// The children in digit order, then vacant slots up to the capacity.
    pub(crate) slots: C,
}

pub(crate) type Branch = BranchOf<[Child]>;

/// Builds a leaf allocation. The caller has checked `key.len() <= u16::MAX`.
pub(crate) fn new_leaf(key: &[u8], value: &[u8]) -> Arc<[u8]> {
    let len = 2 + key.len() + value.len();
    let fill = |bytes: &mut Vec<u8>| {
        bytes.extend_from_slice(&(key.len() as u16).to_le_bytes());
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(value);
    };
    if len > SCRATCH_LIMIT {
        let mut bytes = Vec::with_capacity(len);
        fill(&mut bytes);
        return Arc::from(bytes);
    }
    // Small leaves are laid out in a reused buffer and copied once into their allocation.
    SCRATCH.with_borrow_mut(|bytes| {
        bytes.clear();
        fill(bytes);
        Arc::from(&bytes[..])
    })
}

/// Leaves up to this size are assembled in [`SCRATCH`]; larger ones in a buffer of their own.
const SCRATCH_LIMIT: usize = 4096;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(Vec::with_capacity(SCRATCH_LIMIT));
}

/// The key stored in a leaf.
#[inline]
pub(crate) fn leaf_key(leaf: &[u8]) -> &[u8] {
    let key_len = u16::from_le_bytes([leaf[0], leaf[1]]) as usize;
    &leaf[2..2 + key_len]
}

/// The value stored in a leaf.
#[inline]
pub(crate) fn leaf_value(leaf: &[u8]) -> &[u8] {
    let key_len = u16::from_le_bytes([leaf[0], leaf[1]]) as usize;
    &leaf[2 + key_len..]
}

/// The digit of `key` at nibble position `pos`: [`END`] when the key ends exactly there,
/// `1 + nibble` inside the key, and `None` when the key ends before `pos`.
#[inline]
pub(crate) fn digit(key: &[u8], pos: u32) -> Option<u32> {
    let byte = (pos / 2) as usize;
    match key.get(byte) {
        Some(&b) => Some(
            1 + if pos.is_multiple_of(2) {
                (b >> 4) as u32
            } else {
                (b & 0x0f) as u32
            },
        ),
        None if byte == key.len() && pos.is_multiple_of(2) => Some(END),
        None => None,
    }
}

/// The first nibble position at which two distinct keys differ (a key that ends counts as
/// differing from one that goes on). `None` when the keys are equal.
pub(crate) fn first_difference(a: &[u8], b: &[u8]) -> Option<u32> {
    let common = a.iter().zip(b).position(|(x, y)| x != y);
    match common {
        Some(i) => {
            let high_differs = (a[i] ^ b[i]) & 0xf0 != 0;
            Some(2 * i as u32 + u32::from(!high_differs))
        }
        None if a.len() == b.len() => None,
        None => Some(2 * a.len().min(b.len()) as u32),
    }
}

impl Branch {
    /// The children, in digit order.
    #[inline]
    pub(crate) fn children(&self) -> &[Child] {
        &self.slots[..self.count()]
    }

    /// Number of children.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        self.bitmap.count_ones() as usize
    }

    /// Whether a child can be added without reallocating.
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        self.count() < self.slots.len()
    }

    /// Index in `children` of the child with digit `d`, if present.
    #[inline]
    pub(crate) fn index_of(&self, d: u32) -> Option<usize> {
        index_in(self.bitmap, d)
    }

    /// Number of children whose digit is below `d`.
    #[inline]
    pub(crate) fn rank(&self, d: u32) -> usize {
        (self.bitmap & ((1u32 << d) - 1)).count_ones() as usize
    }

    /// The digit of the child at index `i`.
    pub(crate) fn digit_at(&self, i: usize) -> u32 {
        let mut bits = self.bitmap;
        for _ in 0..i {
            bits &= bits - 1;
        }
        bits.trailing_zeros()
    }

    /// A branch whose children, in digit order, are the first `popcount(bitmap)` items of
    /// `children`, with no room to spare.
    pub(crate) fn with_children(
        pos: u32,
        bitmap: u32,
        children: impl IntoIterator<Item = Child>,
    ) -> BranchRef {
        let count = bitmap.count_ones() as usize;
        BranchRef(new_branch(pos, bitmap, count, children.into_iter()))
    }

    /// Like [`with_children`](Branch::with_children) for a branch that is growing: wider
    /// branches get spare slots, so that the next children are added in place.
    pub(crate) fn with_room(
        pos: u32,
        bitmap: u32,
        children: impl IntoIterator<Item = Child>,
    ) -> BranchRef {
        let capacity = match bitmap.count_ones() as usize {
            count @ 0..=4 => count,
            5..=8 => 8,
            _ => RADIX,
        };
        BranchRef(new_branch(pos, bitmap, capacity, children.into_iter()))
    }
}

/// Allocates a branch whose children live inline in the same allocation.
///
/// Safe Rust builds a dynamically sized value by unsizing a fixed-size array, so the capacity
/// (2 to [`RADIX`] slots) selects one of the array sizes below. Slots past the children are
/// vacant.
fn new_branch(
    pos: u32,
    bitmap: u32,
    capacity: usize,
    mut children: impl Iterator<Item = Child>,
) -> Arc<Branch> {
    let count = bitmap.count_ones() as usize;
    debug_assert!((2..=capacity).contains(&count));
    let mut fill = |i: usize| match i < count {
        true => children.next().expect("one child per bitmap bit"),
        false => Child::Vacant,
    };
    macro_rules! sized {
        ($($n:literal)*) => {
            match capacity {
                $($n => {
                    let slots: [Child; $n] = std::array::from_fn(&mut fill);
                    Arc::new(BranchOf { pos, bitmap, hash: HashCell::default(), slots })
                        as Arc<Branch>
                })*
                n => unreachable!("a branch has 2 to 17 slots, not {n}"),
            }
        };
    }
    sized!(2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17)
}

/// A branch's split position and bitmap packed in 32 bits: the bitmap in the low 17 bits, the
/// position above them. A position too large for the 15 bits left is marked by
/// [`Route::IN_BRANCH`] and read from the branch itself. (A real packing is never all ones: at an
/// odd position the end digit cannot be set.)
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Route(u32);

impl Route {
    const IN_BRANCH: Route = Route(u32::MAX);
    const POS_LIMIT: u32 = (1 << 15) - 1;

    pub(crate) fn new(pos: u32, bitmap: u32) -> Route {
        if pos < Route::POS_LIMIT {
            Route(pos << RADIX | bitmap)
        } else {
            Route::IN_BRANCH
        }
    }

    /// The split position and bitmap of `branch`, whose route this is.
    #[inline]
    pub(crate) fn read(self, branch: &Branch) -> (u32, u32) {
        if self == Route::IN_BRANCH {
            (branch.pos, branch.bitmap)
        } else {
            (self.0 >> RADIX, self.0 & ((1 << RADIX) - 1))
        }
    }
}

/// The first nibble where `key` differs from the keys of the subtree it would join, found by
/// following `key` down to some leaf (any child where its digit is absent: every key below a
/// branch shares the prefix that matters there); `None` when that leaf holds `key` itself.
///
/// With `for_write`, it also reads each branch's reference count on the way, so that the edit
/// walk that follows, which must check ownership, finds those lines in cache (the loads overlap
/// with the walk's own misses).
pub(crate) fn closest_difference(root: &Child, key: &[u8], for_write: bool) -> Option<u32> {
    let mut node = root;
    let mut touched = 0usize;
    loop {
        match node {
            Child::Leaf(leaf, _) => {
                std::hint::black_box(touched);
                return first_difference(leaf_key(leaf), key);
            }
            Child::Branch(branch, route) => {
                if for_write {
                    touched = touched.wrapping_add(Arc::strong_count(&branch.0));
                }
                let (pos, bitmap) = route.read(branch);
                let index = digit(key, pos).and_then(|d| index_in(bitmap, d));
                node = &branch.slots[index.unwrap_or(0)];
            }
            Child::Vacant => vacant!(),
        }
    }
}

/// Index of digit `d` among the children of a branch with `bitmap`, if present.
#[inline]
pub(crate) fn index_in(bitmap: u32, d: u32) -> Option<usize> {
    if bitmap & (1 << d) == 0 {
        None
    } else {
        Some((bitmap & ((1u32 << d) - 1)).count_ones() as usize)
    }
}

impl Child {
    /// A child slot for a branch.
    pub(crate) fn branch(branch: BranchRef) -> Child {
        let route = Route::new(branch.pos, branch.bitmap);
        Child::Branch(branch, route)
    }

    /// A child slot for a leaf allocation.
    pub(crate) fn leaf(leaf: Arc<[u8]>) -> Child {
        let tag = fingerprint(leaf_key(&leaf));
        Child::Leaf(leaf, tag)
    }

    /// Any leaf below this child (the leftmost one): all keys in a subtree share the prefix up
    /// to the subtree's branch position, so one leaf stands for all of them there.
    pub(crate) fn any_leaf(&self) -> &Arc<[u8]> {
        let mut node = self;
        loop {
            match node {
                Child::Leaf(leaf, _) => return leaf,
                Child::Branch(branch, _) => node = &branch.slots[0],
                Child::Vacant => vacant!(),
            }
        }
    }

    /// The nibble position this node splits at; a leaf splits nowhere (`u32::MAX`).
    #[inline]
    pub(crate) fn pos(&self) -> u32 {
        match self {
            Child::Leaf(..) | Child::Vacant => u32::MAX,
            Child::Branch(branch, route) => route.read(branch).0,
        }
    }

    /// Whether two children are the same allocation.
    #[inline]
    pub(crate) fn ptr_eq(&self, other: &Child) -> bool {
        match (self, other) {
            (Child::Leaf(a, _), Child::Leaf(b, _)) => Arc::ptr_eq(a, b),
            (Child::Branch(a, _), Child::Branch(b, _)) => Arc::ptr_eq(&a.0, &b.0),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_slot_stays_three_words() {
        assert_eq!(std::mem::size_of::<Child>(), 24);
    }

    #[test]
    fn digits_follow_key_order() {
        assert_eq!(digit(b"", 0), Some(END));
        assert_eq!(digit(b"", 1), None);
        assert_eq!(digit(&[0xab], 0), Some(1 + 0xa));
        assert_eq!(digit(&[0xab], 1), Some(1 + 0xb));
        assert_eq!(digit(&[0xab], 2), Some(END));
        assert_eq!(digit(&[0xab], 3), None);
    }

    #[test]
    fn first_difference_finds_the_nibble() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(&[0x12], &[0x13]), Some(1));
        assert_eq!(first_difference(&[0x12], &[0x22]), Some(0));
        assert_eq!(first_difference(b"ab", b"abc"), Some(4));
        assert_eq!(first_difference(b"", b"a"), Some(0));
    }

    #[test]
    fn leaf_layout_round_trips() {
        let leaf = new_leaf(b"k\0ey", b"va\0lue");
        assert_eq!(leaf_key(&leaf), b"k\0ey");
        assert_eq!(leaf_value(&leaf), b"va\0lue");
        let empty = new_leaf(b"", b"");
        assert_eq!(leaf_key(&empty), b"");
        assert_eq!(leaf_value(&empty), b"");
    }
}
