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
//! One more rule fixes the layout in memory: a branch of exactly two leaves that has a parent is
//! not a node of its own but a *pair*: its two leaf slots sit side by side in the parent, in the
//! place of the one slot that would refer to it, and a bit of the parent's `pairs` mask marks
//! the digit. (Most keys of a large random tree end under such a branch; a lookup then finds the
//! leaf in the line of the parent it reads anyway instead of one more node away.) Only the root
//! may be a branch of two leaves. Pairs are a layout: hashes, records and every walk's view of
//! the tree are those of the logical trie, where a pair is a branch at the first nibble where
//! its two keys differ.
//!
//! Because the position of every branch is a function of the key set alone, the shape of the tree
//! depends only on its contents.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::tree::hash::HashCell;
use crate::tree::stored::{Location, Stored};

/// Digit meaning "the key ends at this position"; it sorts before every nibble.
pub(crate) const END: u32 = 0;

/// Number of digits a branch can route on: the end marker and sixteen nibbles.
pub(crate) const RADIX: usize = 17;

/// Defines [`Child`] and the functions that must name each of its variants.
///
/// Safe Rust has thin (one-word) pointers only to sized values, so every allocation size a slot
/// can point to is a variant of its own: a leaf of `N` bytes is an `Arc<[u8; N]>` in one of the
/// size classes listed below (the slot keeps the leaf's true length), a branch of `N` slots is a
/// [`Shared<N>`]. With one word of pointer, a tag byte, the leaf length or the branch's pairs, a
/// [`Next`] digit and a 32-bit fingerprint or route, a slot is 16 bytes.
macro_rules! child {
    (leaves: [$($leaf:ident $size:literal)*] branches: [$($branch:ident $slots:literal)*]) => {
        /// A reference to a node from its parent's slot (or from the tree's root).
        ///
        /// A leaf is one allocation laid out as `[key_len: u16 LE][key][value]`, padded to its
        /// size class; the slot keeps its true length, the key's [`fingerprint`], so a lookup
        /// that ends at the wrong leaf is usually rejected without reading the leaf, and the
        /// key's [`Next`] digit, so an insert can usually split the slot without reading the
        /// leaf either. A branch slot keeps the branch's [`Route`] (its position, bitmap and
        /// pairs), so a lookup reads only the slot it follows, never the branch header.
        pub(crate) enum Child {
            $($leaf(Arc<LeafOf<[u8; $size - LEAF_HEAD]>>, u16, Next, u32),)*
            /// A leaf larger than the largest size class. (Its `u16`, like a branch's, is zero:
            /// every variant that points somewhere has the same shape, so cloning, counting and
            /// comparing compile to a single path.)
            Large(Arc<LeafOf<Box<[u8]>>>, u16, Next, u32),
            /// A branch: its `pairs` mask without the end digit's bit, which is never set
            /// ([`Route::pairs_bits`]), and its packed position and bitmap. (Its [`Next`] is
            /// always [`Next::UNKNOWN`].)
            $($branch(Shared<$slots>, u16, Next, u32),)*
            /// A node in a [`NodeSource`](crate::tree::NodeSource), loaded on first use: the
            /// `u16` says which of the [`Stored`] reference's nodes this slot is (0, or 1 for
            /// the second leaf of a pair). It reads as the node it stands for; its [`Next`] is
            /// always unknown.
            Stored(Arc<Stored>, u16, Next, u32),
            /// A slot whose child was moved out of a branch that is being replaced or freed.
            /// Never reachable from a tree.
            Vacant,
        }

        impl Clone for Child {
            #[inline(always)]
            fn clone(&self) -> Child {
                match self {
                    $(Child::$leaf(leaf, len, next, tag) => {
                        Child::$leaf(leaf.clone(), *len, *next, *tag)
                    })*
                    Child::Large(leaf, zero, next, tag) => {
                        Child::Large(leaf.clone(), *zero, *next, *tag)
                    }
                    $(Child::$branch(branch, pairs, next, route) => {
                        Child::$branch(branch.clone(), *pairs, *next, *route)
                    })*
                    Child::Stored(stored, index, next, zero) => {
                        Child::Stored(stored.clone(), *index, *next, *zero)
                    }
                    Child::Vacant => Child::Vacant,
                }
            }
        }

        impl Child {
            /// What this slot refers to, for reading.
            #[inline(always)]
            pub(crate) fn node(&self) -> Node<'_> {
                self.node_of::<true>()
            }

            /// [`node`](Child::node) for a walk that meets stored slots (`S`) or knows it
            /// meets none: with `S` false, the stored arms of every accessor compile away.
            #[inline(always)]
            pub(crate) fn node_of<const S: bool>(&self) -> Node<'_> {
                match self.as_branch_of::<S>() {
                    Some((branch, route)) => Node::Branch(branch, route),
                    None => Node::Leaf(self.leaf_of::<S>().0),
                }
            }

            /// The branch this slot refers to and the slot's route, if it refers to one. Small
            /// enough to inline into every walk: the widest class (every branch near the root of
            /// a large tree) is one predictable test, the others one jump on the class.
            #[inline(always)]
            pub(crate) fn as_branch(&self) -> Option<(&Branch, Route)> {
                self.as_branch_of::<true>()
            }

            /// [`as_branch`](Child::as_branch), for a walk that meets stored slots (`S`) or
            /// knows it meets none. A stored slot resolves to its node, and the match runs
            /// again on it (a loaded node is never a stored slot), so every result stays in
            /// registers.
            #[inline(always)]
            pub(crate) fn as_branch_of<const S: bool>(&self) -> Option<(&Branch, Route)> {
                let mut node = self;
                loop {
                    // The first arm repeats the widest class so that it is tested first.
                    #[allow(unreachable_patterns)]
                    return match node {
                        Child::B17(branch, pairs, _, route) => {
                            Some((&*branch.0, Route::stored(*route, *pairs)))
                        }
                        $(Child::$branch(branch, pairs, _, route) => {
                            Some((&*branch.0, Route::stored(*route, *pairs)))
                        })*
                        Child::Stored(stored, index, ..) if S => {
                            node = stored_node(stored, *index);
                            continue;
                        }
                        _ => None,
                    };
                }
            }

            /// [`as_branch`](Child::as_branch) without loading: `None` for a stored slot whose
            /// node is not loaded yet (or is a leaf).
            #[inline(always)]
            pub(crate) fn loaded_branch(&self) -> Option<(&Branch, Route)> {
                let mut node = self;
                loop {
                    #[allow(unreachable_patterns)]
                    return match node {
                        Child::B17(branch, pairs, _, route) => {
                            Some((&*branch.0, Route::stored(*route, *pairs)))
                        }
                        $(Child::$branch(branch, pairs, _, route) => {
                            Some((&*branch.0, Route::stored(*route, *pairs)))
                        })*
                        Child::Stored(stored, index, ..) => {
                            node = stored.loaded(*index)?;
                            continue;
                        }
                        _ => None,
                    };
                }
            }

            /// The fingerprint of the key of the leaf this slot refers to (0 for any other slot).
            /// Read from the slot; every leaf arm is the same load.
            #[inline(always)]
            pub(crate) fn leaf_tag(&self) -> u32 {
                self.leaf_tag_of::<true>()
            }

            /// [`leaf_tag`](Child::leaf_tag), as [`as_branch_of`](Child::as_branch_of).
            #[inline(always)]
            pub(crate) fn leaf_tag_of<const S: bool>(&self) -> u32 {
                let mut node = self;
                loop {
                    return match node {
                        $(Child::$leaf(_, _, _, tag) => *tag,)*
                        Child::Large(_, _, _, tag) => *tag,
                        Child::Stored(stored, index, ..) if S => {
                            node = stored_node(stored, *index);
                            continue;
                        }
                        _ => 0,
                    };
                }
            }

            /// The [`Next`] digit this slot keeps ([`Next::UNKNOWN`] for a branch).
            #[inline(always)]
            pub(crate) fn next(&self) -> Next {
                match self {
                    $(Child::$leaf(_, _, next, _) => *next,)*
                    Child::Large(_, _, next, _) => *next,
                    _ => Next::UNKNOWN,
                }
            }

            /// Sets the [`Next`] digit of a leaf slot; a branch slot keeps [`Next::UNKNOWN`].
            #[inline]
            pub(crate) fn set_next(&mut self, digit: Next) {
                match self {
                    $(Child::$leaf(_, _, next, _) => *next = digit,)*
                    Child::Large(_, _, next, _) => *next = digit,
                    _ => {}
                }
            }

            /// The bytes (without padding) and key fingerprint of the leaf this slot refers to,
            /// which must be one. Inline: walks decode leaves in their inner loops, where the
            /// classes' arms (which differ only in the bound the length is checked against)
            /// cost one predictable jump on the class.
            #[inline(always)]
            pub(crate) fn leaf(&self) -> (&[u8], u32) {
                self.leaf_of::<true>()
            }

            /// [`leaf`](Child::leaf), as [`as_branch_of`](Child::as_branch_of).
            #[inline(always)]
            pub(crate) fn leaf_of<const S: bool>(&self) -> (&[u8], u32) {
                let mut node = self;
                loop {
                    if let Child::Large(leaf, _, _, tag) = node {
                        return (&leaf.bytes[..], *tag);
                    }
                    let (leaf, len, tag) = match node {
                        $(Child::$leaf(leaf, len, _, tag) => {
                            (&leaf.bytes[..], usize::from(*len), *tag)
                        })*
                        Child::Stored(stored, index, ..) if S => {
                            node = stored_node(stored, *index);
                            continue;
                        }
                        _ => not_a_leaf(node),
                    };
                    return (&leaf[..len], tag);
                }
            }

            /// The branch this slot refers to and the slot's route, for editing in place:
            /// `None` for a leaf or a branch that other trees share.
            #[inline]
            pub(crate) fn branch_mut(&mut self) -> Option<(&mut Branch, RouteMut<'_>)> {
                match self {
                    $(Child::$branch(branch, pairs, _, route) => {
                        let branch: &mut Branch = Arc::get_mut(&mut branch.0)?;
                        Some((branch, RouteMut { route, pairs }))
                    })*
                    _ => None,
                }
            }

            /// Whether this slot refers to a branch (a stored slot: whether the node it stands
            /// for is one, which loads it).
            #[inline(always)]
            pub(crate) fn is_branch(&self) -> bool {
                self.is_branch_of::<true>()
            }

            /// [`is_branch`](Child::is_branch), as [`as_branch_of`](Child::as_branch_of).
            #[inline(always)]
            pub(crate) fn is_branch_of<const S: bool>(&self) -> bool {
                let mut node = self;
                loop {
                    return match node {
                        $(Child::$branch(..))|* => true,
                        Child::Stored(stored, index, ..) if S => {
                            node = stored_node(stored, *index);
                            continue;
                        }
                        _ => false,
                    };
                }
            }

            /// Whether this slot holds a branch in memory (not through a stored reference).
            #[inline(always)]
            pub(crate) fn is_branch_in_memory(&self) -> bool {
                matches!(self, $(Child::$branch(..))|*)
            }

            /// Where the node this slot refers to is stored, if it was written or loaded
            /// (a branch only once hashed).
            pub(crate) fn location(&self) -> Option<Location> {
                match self {
                    $(Child::$leaf(leaf, ..) => unpack(&leaf.at),)*
                    Child::Large(leaf, ..) => unpack(&leaf.at),
                    $(Child::$branch(branch, ..) => branch.0.hash.location(),)*
                    Child::Stored(stored, index, ..) => Some(stored.location(*index)),
                    Child::Vacant => None,
                }
            }

            /// Records that the leaf or (hashed) branch this slot refers to is stored at `at`.
            pub(crate) fn set_location(&self, at: Location) {
                match self {
                    $(Child::$leaf(leaf, ..) => pack(&leaf.at, at),)*
                    Child::Large(leaf, ..) => pack(&leaf.at, at),
                    $(Child::$branch(branch, ..) => branch.0.hash.set_location(at),)*
                    Child::Stored(..) | Child::Vacant => {}
                }
            }

            /// The reference count of the node: a plain load that brings the head of its
            /// allocation into cache.
            #[inline(always)]
            pub(crate) fn strong_count(&self) -> usize {
                match self {
                    $(Child::$leaf(leaf, ..) => Arc::strong_count(leaf),)*
                    Child::Large(leaf, ..) => Arc::strong_count(leaf),
                    $(Child::$branch(branch, ..) => Arc::strong_count(&branch.0),)*
                    Child::Stored(stored, ..) => Arc::strong_count(stored),
                    Child::Vacant => 0,
                }
            }

            /// Reads the bytes of the node a walk reads first (a leaf's key length and key, a
            /// branch's first slot): a plain load that starts its cache miss. Every leaf arm and
            /// every branch arm reads at the same offset, so the match compiles to two paths.
            #[inline(always)]
            pub(crate) fn preload(&self) -> usize {
                match self {
                    $(Child::$leaf(leaf, ..) => usize::from(leaf.bytes[2]),)*
                    Child::Large(leaf, ..) => usize::from(leaf.bytes.get(2).copied().unwrap_or(0)),
                    $(Child::$branch(branch, ..) => {
                        usize::from(matches!(branch.0.slots[0], Child::Vacant))
                    })*
                    Child::Stored(..) | Child::Vacant => 0,
                }
            }

            /// The node's allocation and the slot's `u16` (a leaf's length, a branch's pairs,
            /// which one of a stored reference's nodes): two slots refer to the same node
            /// exactly when these are equal (slots of one leaf or one branch agree on the
            /// `u16`). Every arm is the same two loads, so comparing compiles to a few
            /// instructions and inlines into every loop.
            #[inline(always)]
            fn identity(&self) -> (usize, u16) {
                match self {
                    $(Child::$leaf(leaf, extra, ..) => (Arc::as_ptr(leaf) as usize, *extra),)*
                    Child::Large(leaf, extra, ..) => (Arc::as_ptr(leaf) as usize, *extra),
                    $(Child::$branch(branch, extra, ..) => {
                        (Arc::as_ptr(&branch.0) as usize, *extra)
                    })*
                    Child::Stored(stored, index, ..) => (Arc::as_ptr(stored) as usize, *index),
                    Child::Vacant => (0, 0),
                }
            }

            /// The address of the node's allocation: its identity while it lives.
            #[inline]
            pub(crate) fn address(&self) -> usize {
                match self {
                    $(Child::$leaf(leaf, ..) => Arc::as_ptr(leaf) as usize,)*
                    Child::Large(leaf, ..) => Arc::as_ptr(leaf) as usize,
                    $(Child::$branch(branch, ..) => Arc::as_ptr(&branch.0) as usize,)*
                    Child::Stored(stored, index, ..) => {
                        Arc::as_ptr(stored) as usize + usize::from(*index)
                    }
                    Child::Vacant => 0,
                }
            }

            /// Bytes allocated for the node, reference counts and a cached hash included.
            pub(crate) fn allocated_bytes(&self) -> usize {
                const COUNTS: usize = 2 * size_of::<usize>();
                match self {
                    $(Child::$leaf(..) => COUNTS + $size,)*
                    Child::Large(leaf, ..) => {
                        COUNTS + size_of::<LeafOf<Box<[u8]>>>() + leaf.bytes.len()
                    }
                    $(Child::$branch(branch, ..) => {
                        COUNTS
                            + size_of::<BranchOf<[Child; $slots]>>()
                            + branch.0.hash.allocated_bytes()
                    })*
                    Child::Stored(..) => COUNTS + size_of::<Stored>(),
                    Child::Vacant => 0,
                }
            }
        }

        /// A leaf slot holding `key` and `value`, its [`Next`] digit unknown. The caller has
        /// checked `key.len() <= u16::MAX`.
        pub(crate) fn new_leaf(key: &[u8], value: &[u8]) -> Child {
            let len = 2 + key.len() + value.len();
            let tag = fingerprint(key);
            let fill = |bytes: &mut [u8]| {
                bytes[..2].copy_from_slice(&(key.len() as u16).to_le_bytes());
                bytes[2..2 + key.len()].copy_from_slice(key);
                bytes[2 + key.len()..len].copy_from_slice(value);
            };
            match size_class(len + LEAF_HEAD) {
                $($size => {
                    let mut bytes = [0u8; $size - LEAF_HEAD];
                    fill(&mut bytes);
                    Child::$leaf(Arc::new(LeafOf::new(bytes)), len as u16, Next::UNKNOWN, tag)
                })*
                _ => {
                    let mut bytes = vec![0u8; len].into_boxed_slice();
                    fill(&mut bytes);
                    Child::Large(Arc::new(LeafOf::new(bytes)), 0, Next::UNKNOWN, tag)
                }
            }
        }

        /// A branch slot for a new branch of the [`slot_class`] for its slots, whose slots (in
        /// key order, both leaves of each pair included) `fill` writes over: it gets them all
        /// vacant, and must leave none of them so (moving slots in with `swap_with_slice`
        /// touches no reference count). The slots past them stay vacant.
        pub(crate) fn new_branch(pos: u32, bitmap: u32, pairs: u32, fill: impl FnOnce(&mut [Child])) -> Child {
            debug_assert!(bitmap.count_ones() >= 2 && pairs & !bitmap == 0 && pairs & 1 == 0);
            let count = (bitmap.count_ones() + pairs.count_ones()) as usize;
            let route = Route::new(pos, bitmap, pairs);
            match slot_class(count) {
                $($slots => {
                    let mut slots = [const { Child::Vacant }; $slots];
                    fill(&mut slots[..count]);
                    debug_assert!(slots[..count].iter().all(|slot| !matches!(slot, Child::Vacant)));
                    let branch =
                        BranchOf { pos, bitmap, pairs, hash: HashCell::default(), slots };
                    Child::$branch(
                        Shared(Arc::new(branch)),
                        route.pairs,
                        Next::UNKNOWN,
                        route.packed,
                    )
                })*
                n => unreachable!("no branch class has {n} slots"),
            }
        }
    };
}

child! {
    leaves: [
        L16 16 L32 32 L48 48 L64 64 L80 80 L96 96 L112 112 L128 128 L144 144 L160 160 L176 176
        L192 192 L208 208 L224 224 L240 240 L256 256 L320 320 L384 384 L448 448 L512 512 L576 576
        L640 640 L704 704 L768 768 L832 832 L896 896 L960 960 L1024 1024 L1152 1152 L1280 1280
        L1408 1408 L1536 1536 L1664 1664 L1792 1792 L1920 1920 L2048 2048 L2560 2560 L3072 3072
        L3584 3584 L4096 4096
    ]
    branches: [
        B2 2 B3 3 B4 4 B8 8 B17 17 B24 24 B33 33
    ]
}

/// Bytes a leaf allocation spends before its contents: the location it was stored at.
const LEAF_HEAD: usize = size_of::<AtomicU64>();

/// A leaf allocation: where the leaf is stored (once written to or loaded from a node source;
/// a leaf's contents never change, so neither does its location), then its bytes.
pub(crate) struct LeafOf<B: ?Sized> {
    at: AtomicU64,
    bytes: B,
}

impl<B> LeafOf<B> {
    fn new(bytes: B) -> LeafOf<B> {
        LeafOf {
            at: AtomicU64::new(NOWHERE),
            bytes,
        }
    }
}

/// A location word that names no location.
pub(crate) const NOWHERE: u64 = u64::MAX;

/// The location kept in `word`, if any.
#[inline]
pub(crate) fn unpack(word: &AtomicU64) -> Option<Location> {
    match word.load(Ordering::Relaxed) {
        NOWHERE => None,
        packed => Some(Location {
            pack: (packed >> 32) as u32,
            ordinal: packed as u32,
        }),
    }
}

/// Keeps `at` in `word` (a node written twice, by two racing writers, keeps either location:
/// both hold the same record).
#[inline]
pub(crate) fn pack(word: &AtomicU64, at: Location) {
    word.store(
        u64::from(at.pack) << 32 | u64::from(at.ordinal),
        Ordering::Relaxed,
    );
}

/// The node a stored slot stands for, loaded on first use. A load that fails here, in a walk
/// that cannot fail, panics: callers that read store-backed trees use the `try_` methods of
/// [`Tree`](crate::tree::Tree), which load what they read first.
#[cold]
#[inline(never)]
fn stored_node(stored: &Stored, index: u16) -> &Child {
    match stored.node(index) {
        Ok(node) => node,
        Err(error) => panic!("a stored node failed to load outside a try_ method: {error}"),
    }
}

/// The size class of a leaf of `len` bytes: multiples of 16 bytes up to 256, of 64 up to 1 KiB,
/// of 128 up to 2 KiB and of 512 up to 4 KiB; larger leaves get their exact size.
#[inline]
fn size_class(len: usize) -> usize {
    match len {
        0..=256 => len.next_multiple_of(16).max(16),
        257..=1024 => len.next_multiple_of(64),
        1025..=2048 => len.next_multiple_of(128),
        _ => len.next_multiple_of(512),
    }
}

/// The slot count of the branch class for `count` slots: exact up to 4, then 8, [`RADIX`], 24
/// and [`MAX_SLOTS`]. Few classes keep the walks' jump on the class predictable; the wider
/// classes leave room for slots added in place.
#[inline]
fn slot_class(count: usize) -> usize {
    match count {
        0..=4 => count,
        5..=8 => 8,
        9..=RADIX => RADIX,
        18..=24 => 24,
        _ => MAX_SLOTS,
    }
}

/// The most slots a branch holds: one per digit, and a second for each of the sixteen nibble
/// digits that can hold a pair (the end digit holds one leaf at most).
const MAX_SLOTS: usize = 2 * RADIX - 1;

/// What a slot refers to, borrowed for reading.
#[derive(Clone, Copy)]
pub(crate) enum Node<'a> {
    /// The leaf's bytes (without padding).
    Leaf(&'a [u8]),
    /// The branch and its route.
    Branch(&'a Branch, Route),
}

/// A branch of `N` slots, shared by the trees that reach it.
///
/// Dropping the last reference to a branch frees its subtree with a loop instead of the nested
/// drops `Arc` would do, so the deepest tree cannot overflow the call stack.
pub(crate) struct Shared<const N: usize>(Arc<BranchOf<[Child; N]>>);

impl<const N: usize> Clone for Shared<N> {
    #[inline]
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<const N: usize> Drop for Shared<N> {
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
            if let Some((branch, _)) = next.branch_mut() {
                detach(branch, &mut detached);
            }
        }
    }
}

/// An owned reference to a branch, for walks that must not borrow a tree.
#[derive(Clone)]
pub(crate) struct BranchRef(Child);

impl BranchRef {
    /// The branch `child` refers to (which must be one).
    pub(crate) fn new(child: &Child) -> BranchRef {
        debug_assert!(child.is_branch());
        BranchRef(child.clone())
    }
}

impl Deref for BranchRef {
    type Target = Branch;
    #[inline]
    fn deref(&self) -> &Branch {
        self.0.as_branch().expect("a BranchRef holds a branch").0
    }
}

/// An owned reference to a leaf; derefs to the leaf's bytes.
#[derive(Clone)]
pub(crate) struct LeafRef(Child);

impl LeafRef {
    /// The leaf `child` refers to (which must be one).
    pub(crate) fn new(child: Child) -> LeafRef {
        debug_assert!(!child.is_branch());
        LeafRef(child)
    }

    /// A new leaf holding `key` and `value` (checked against the limits), to insert with
    /// [`Tree::insert_entry`](crate::tree::Tree::insert_entry).
    pub(crate) fn entry(key: &[u8], value: &[u8]) -> LeafRef {
        LeafRef(new_leaf(key, value))
    }

    /// The leaf's slot.
    pub(crate) fn slot(&self) -> &Child {
        &self.0
    }

    /// The entry's key.
    pub(crate) fn key(&self) -> &[u8] {
        leaf_key(self)
    }

    /// The entry's value.
    pub(crate) fn value(&self) -> &[u8] {
        leaf_value(self)
    }
}

impl Deref for LeafRef {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.0.leaf().0
    }
}

/// The digit of a leaf's key just past the position of the branch whose slots hold it (for
/// the leaves of a pair, that branch, not the pair's own split): [`digit`] at `pos + 1`, or
/// [`Next::UNKNOWN`]. A leaf slot keeps it where a walk knew it when placing the
/// slot, so that an insert meeting the leaf with a key of another digit there knows the two keys
/// first differ there (they agree up to `pos`, where the branch routed both) without reading the
/// leaf. Unknown is always correct; a known digit is always the true one, and slots moved under
/// another branch are updated or marked unknown. Never part of the tree's contents or hashes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Next(u8);

impl Next {
    pub(crate) const UNKNOWN: Next = Next(u8::MAX);

    /// The next digit of `key` below a branch at `pos`.
    #[inline]
    pub(crate) fn of(key: &[u8], pos: u32) -> Next {
        Next::digit(digit(key, pos + 1))
    }

    /// `digit` as kept in a slot.
    #[inline]
    pub(crate) fn digit(digit: Option<u32>) -> Next {
        digit.map_or(Next::UNKNOWN, |d| Next(d as u8))
    }

    /// The digit, if known.
    #[inline]
    pub(crate) fn get(self) -> Option<u32> {
        (self != Next::UNKNOWN).then_some(u32::from(self.0))
    }
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

/// Reads the reference count of every child with plain loads, whose cache misses overlap, so that
/// the locked increments or decrements that follow find the counts in cache (x86 runs locked
/// instructions one at a time, each waiting for its own miss).
pub(crate) fn warm(children: &[Child]) {
    let sum = children
        .iter()
        .fold(0usize, |sum, child| sum.wrapping_add(child.strong_count()));
    std::hint::black_box(sum);
}

/// Moves the child branches that `branch` alone holds into `out`, leaving holes in their place.
/// Shared children stay: freeing `branch` only drops its reference to them.
fn detach(branch: &mut Branch, out: &mut Vec<Child>) {
    warm(&branch.slots);
    for child in branch.slots.iter_mut() {
        if child.is_branch_in_memory() && child.strong_count() == 1 {
            out.push(take(child));
        } else if let Child::Stored(stored, ..) = child
            && let Some(stored) = Arc::get_mut(stored)
        {
            // A loaded subtree is freed by the same loop, not by nested drops.
            out.extend(
                stored
                    .take_loaded()
                    .filter(|node| node.is_branch_in_memory() && node.strong_count() == 1),
            );
        }
    }
}

/// Panics: `child`, read as a leaf, is a branch or vacant.
#[cold]
#[inline(never)]
fn not_a_leaf(child: &Child) -> ! {
    match child {
        Child::Vacant => vacant!(),
        _ => unreachable!("the slot refers to a branch, not a leaf"),
    }
}

/// The arm for [`Child::Vacant`] in walks over a tree, which never meet one.
macro_rules! vacant {
    () => {
        unreachable!("a vacant slot is never part of a tree")
    };
}
pub(crate) use vacant;

/// Writes `child` into a vacant slot (nothing to drop there, so no drop is run).
#[inline]
pub(crate) fn put(slot: &mut Child, child: Child) {
    debug_assert!(matches!(slot, Child::Vacant));
    std::mem::forget(std::mem::replace(slot, child));
}

/// Moves the slots of `slots` `by` places right, its last `by` slots (vacant) coming to the
/// front. Swaps, because the slices' own rotation walks cycles one element at a time on
/// slices this short.
#[inline]
pub(crate) fn shift_right(slots: &mut [Child], by: usize) {
    debug_assert!(
        slots[slots.len() - by..]
            .iter()
            .all(|slot| matches!(slot, Child::Vacant))
    );
    for i in (by..slots.len()).rev() {
        slots.swap(i, i - by);
    }
}

/// Moves the slots of `slots` `by` places left, its first `by` slots (vacant) going to the
/// end.
#[inline]
pub(crate) fn shift_left(slots: &mut [Child], by: usize) {
    debug_assert!(slots[..by].iter().all(|slot| matches!(slot, Child::Vacant)));
    for i in by..slots.len() {
        slots.swap(i - by, i);
    }
}

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
    /// Bit `d` is set when the child with digit `d` is a pair: two leaf slots.
    pub(crate) pairs: u32,
    /// The Merkle hash of this subtree, filled on first request.
    pub(crate) hash: HashCell,
    /// The children in digit order (two slots for a pair), then vacant slots up to the capacity.
    pub(crate) slots: C,
}

pub(crate) type Branch = BranchOf<[Child]>;

/// The key stored in a leaf.
#[inline]
pub(crate) fn leaf_key(leaf: &[u8]) -> &[u8] {
    let key_len = u16::from_le_bytes([leaf[0], leaf[1]]) as usize;
    &leaf[2..2 + key_len]
}

/// Starts loading the lines of a leaf of up to 256 bytes beyond its first while the first (key
/// length and key) is still on its way: a lookup that finds its key reads the value next, and
/// the value's lines then arrive with the key's instead of one miss later. Nothing waits for
/// these loads (`black_box` keeps them without making anything depend on them). Larger values
/// are copied in a stream the hardware prefetcher follows.
#[inline(always)]
pub(crate) fn touch_value(leaf: &[u8]) {
    if leaf.len() <= 256 {
        std::hint::black_box(leaf[leaf.len() / 2]);
        std::hint::black_box(leaf[leaf.len() - 1]);
    }
}

/// The key and the value stored in a leaf.
#[inline]
pub(crate) fn leaf_entry(leaf: &[u8]) -> (&[u8], &[u8]) {
    let (key_len, rest) = leaf
        .split_first_chunk()
        .expect("a leaf starts with its key length");
    rest.split_at(usize::from(u16::from_le_bytes(*key_len)))
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
    /// The slots in use, in key order (both leaves of each pair included).
    #[inline]
    pub(crate) fn children(&self) -> &[Child] {
        &self.slots[..self.count()]
    }

    /// Number of slots in use.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        count_bits(self.bitmap) + count_bits(self.pairs)
    }

    /// The first slot of the child with digit `d` and whether it is a pair, if present.
    #[inline]
    pub(crate) fn locate(&self, d: u32) -> Option<(usize, bool)> {
        locate(self.bitmap, self.pairs, d)
    }

    /// Number of slots of the children whose digit is below `d`.
    #[inline]
    pub(crate) fn rank(&self, d: u32) -> usize {
        rank(self.bitmap, self.pairs, d)
    }

    /// The children in digit order, each as its digit and its slots (two for a pair).
    pub(crate) fn kids(&self) -> Kids<'_> {
        Kids {
            branch: self,
            left: self.bitmap,
            front: 0,
            back: self.count(),
        }
    }

    /// A slot for a new branch whose slots, in key order, are the first items of `children`
    /// (one per child, two per pair), in the smallest [`slot_class`] that holds them.
    pub(crate) fn with_children(
        pos: u32,
        bitmap: u32,
        pairs: u32,
        children: impl IntoIterator<Item = Child>,
    ) -> Child {
        let mut children = children.into_iter();
        Branch::from_fn(pos, bitmap, pairs, |_| {
            children
                .next()
                .expect("one slot per child and two per pair")
        })
    }

    /// A slot for a new branch (in the class for its slots) whose `i`th slot in key order is
    /// `child(i)`.
    pub(crate) fn from_fn(
        pos: u32,
        bitmap: u32,
        pairs: u32,
        mut child: impl FnMut(usize) -> Child,
    ) -> Child {
        new_branch(pos, bitmap, pairs, |slots| {
            for (i, slot) in slots.iter_mut().enumerate() {
                put(slot, child(i));
            }
        })
    }

    /// A slot for a copy of this branch (in the class for its slots): the copy shares every
    /// child.
    pub(crate) fn copy(&self) -> Child {
        let children = self.children();
        Branch::from_fn(self.pos, self.bitmap, self.pairs, |i| children[i].clone())
    }
}

/// The children of a branch in digit order, each as its digit and its slots: one, or the two
/// leaves of a pair.
#[derive(Clone)]
pub(crate) struct Kids<'a> {
    branch: &'a Branch,
    /// Digits not yet visited from either end.
    left: u32,
    /// Slots before `front` and from `back` on are visited.
    front: usize,
    back: usize,
}

impl<'a> Kids<'a> {
    fn width(&self, d: u32) -> usize {
        1 + (self.branch.pairs >> d & 1) as usize
    }
}

impl<'a> Iterator for Kids<'a> {
    type Item = (u32, &'a [Child]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let d = self.left.trailing_zeros();
        self.left &= self.left - 1;
        let at = self.front;
        self.front += self.width(d);
        Some((d, &self.branch.slots[at..self.front]))
    }
}

impl DoubleEndedIterator for Kids<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let d = 31 - self.left.leading_zeros();
        self.left &= !(1 << d);
        let end = self.back;
        self.back -= self.width(d);
        Some((d, &self.branch.slots[self.back..end]))
    }
}

/// Where a lookup finds a branch's position, bitmap and pairs: in the slot that refers to it.
///
/// A slot packs the position and bitmap in 32 bits (the bitmap in the low 17 bits, the position
/// above them) and keeps the pairs mask, less its always-clear end bit, in 16 more. A position
/// too large for the 15 bits left is marked by [`Route::IN_BRANCH`], and then all three are read
/// from the branch itself. (A real packing is never all ones: at an odd position the end digit
/// cannot be set.)
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Route {
    packed: u32,
    pairs: u16,
}

impl Route {
    const IN_BRANCH: u32 = u32::MAX;
    const POS_LIMIT: u32 = (1 << 15) - 1;

    pub(crate) fn new(pos: u32, bitmap: u32, pairs: u32) -> Route {
        if pos < Route::POS_LIMIT {
            Route {
                packed: pos << RADIX | bitmap,
                pairs: Route::pairs_bits(pairs),
            }
        } else {
            Route {
                packed: Route::IN_BRANCH,
                pairs: 0,
            }
        }
    }

    /// A route as a slot stores it.
    #[inline(always)]
    fn stored(packed: u32, pairs: u16) -> Route {
        Route { packed, pairs }
    }

    /// The 16 bits a slot keeps of a pairs mask (whose end bit is never set).
    #[inline]
    fn pairs_bits(pairs: u32) -> u16 {
        (pairs >> 1) as u16
    }

    /// The split position, bitmap and pairs of `branch`, whose route this is.
    #[inline(always)]
    pub(crate) fn read(self, branch: &Branch) -> (u32, u32, u32) {
        if self.packed == Route::IN_BRANCH {
            (branch.pos, branch.bitmap, branch.pairs)
        } else {
            (
                self.packed >> RADIX,
                self.packed & ((1 << RADIX) - 1),
                u32::from(self.pairs) << 1,
            )
        }
    }
}

/// The route fields of a slot, for a branch edited in place.
pub(crate) struct RouteMut<'a> {
    route: &'a mut u32,
    pairs: &'a mut u16,
}

impl RouteMut<'_> {
    /// Stores the route of a branch with these fields.
    pub(crate) fn set(self, pos: u32, bitmap: u32, pairs: u32) {
        let route = Route::new(pos, bitmap, pairs);
        *self.route = route.packed;
        *self.pairs = route.pairs;
    }
}

/// The position and bitmap of the branch a pair stands for: the first nibble where the keys of
/// its two leaves differ, and their digits there. Reads both leaves.
pub(crate) fn pair_route(pair: &[Child]) -> (u32, u32) {
    split_route(leaf_key(pair[0].leaf().0), leaf_key(pair[1].leaf().0))
}

/// The position and bitmap of a branch holding just the two different keys `a` and `b`.
pub(crate) fn split_route(a: &[u8], b: &[u8]) -> (u32, u32) {
    let pos = first_difference(a, b).expect("the keys of a pair differ");
    let digits = [a, b].map(|key| digit(key, pos).expect("both keys reach the split"));
    (pos, 1 << digits[0] | 1 << digits[1])
}

/// The first nibble where `key` differs from the keys of the subtree it would join, found by
/// following `key` down to some leaf (any child where its digit is absent: every key below a
/// branch shares the prefix that matters there); `None` when that leaf holds `key` itself.
///
/// With `for_write`, it also reads each branch's reference count on the way, so that the edit
/// walk that follows, which must check ownership, finds those lines in cache (the loads overlap
/// with the walk's own misses).
pub(crate) fn closest_difference<const S: bool>(
    root: &Child,
    key: &[u8],
    for_write: bool,
) -> Option<u32> {
    let mut node = root;
    let mut touched = 0usize;
    // Every nibble before `verified` is one the walk routed on, so the key agrees there with
    // every key below `node`.
    let mut verified = 0;
    loop {
        match node.node_of::<S>() {
            Node::Leaf(leaf) => {
                std::hint::black_box(touched);
                return first_difference(leaf_key(leaf), key);
            }
            Node::Branch(branch, route) => {
                if for_write {
                    touched = touched.wrapping_add(node.strong_count());
                }
                let (pos, bitmap, pairs) = route.read(branch);
                let d = digit(key, pos);
                match d.and_then(|d| locate(bitmap, pairs, d)) {
                    Some((index, false)) => node = &branch.slots[index],
                    Some((index, true)) => {
                        // The key is as close to the pair as to the nearer of its two leaves.
                        std::hint::black_box(touched);
                        let pair = &branch.slots[index..index + 2];
                        let [a, b] = [0, 1]
                            .map(|i| first_difference(leaf_key(pair[i].leaf_of::<S>().0), key));
                        return a.zip(b).map(|(a, b)| a.max(b));
                    }
                    // The key agrees with this branch's prefix and has a digit of its own
                    // here: it differs at `pos`, and no leaf need be read to know it.
                    None if d.is_some() && pos == verified => {
                        std::hint::black_box(touched);
                        return Some(pos);
                    }
                    None => node = &branch.slots[0],
                }
                verified = if pos == verified { pos + 1 } else { u32::MAX };
            }
        }
    }
}

/// The number of set bits of a branch bitmap ([`RADIX`] bits), which is on the critical path of
/// every lookup (it turns a digit into a slot index). Where the target has a population-count
/// instruction (or no x86 baseline to work around), `count_ones`; on baseline x86-64, which
/// lacks one, two lookups in a 256-entry table: measured shorter than the generic expansion.
#[inline(always)]
pub(crate) fn count_bits(bits: u32) -> usize {
    debug_assert!(bits < 1 << RADIX);
    #[cfg(any(
        target_feature = "popcnt",
        not(any(target_arch = "x86", target_arch = "x86_64"))
    ))]
    let count = bits.count_ones() as usize;
    #[cfg(not(any(
        target_feature = "popcnt",
        not(any(target_arch = "x86", target_arch = "x86_64"))
    )))]
    let count = usize::from(BYTE_BITS[(bits & 0xff) as usize])
        + usize::from(BYTE_BITS[(bits >> 8 & 0xff) as usize])
        + (bits >> 16) as usize;
    count
}

/// Set bits of every byte value.
#[cfg(not(any(
    target_feature = "popcnt",
    not(any(target_arch = "x86", target_arch = "x86_64"))
)))]
const BYTE_BITS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = (i as u32).count_ones() as u8;
        i += 1;
    }
    table
};

/// The first slot of the child with digit `d` of a branch with `bitmap` and `pairs`, and whether
/// that child is a pair, if present.
#[inline(always)]
pub(crate) fn locate(bitmap: u32, pairs: u32, d: u32) -> Option<(usize, bool)> {
    (bitmap & (1 << d) != 0).then(|| (rank(bitmap, pairs, d), pairs & (1 << d) != 0))
}

/// Number of slots a branch with `bitmap` and `pairs` uses for the digits below `d`.
#[inline(always)]
pub(crate) fn rank(bitmap: u32, pairs: u32, d: u32) -> usize {
    let below = (1u32 << d) - 1;
    count_bits(bitmap & below) + count_bits(pairs & below)
}

impl Child {
    /// The node this slot refers to, in memory: itself, or the node a stored slot stands for,
    /// loaded (and verified) if it was not yet.
    #[inline]
    pub(crate) fn resolve(&self) -> crate::Result<&Child> {
        match self {
            Child::Stored(stored, index, ..) => stored.node(*index),
            _ => Ok(self),
        }
    }

    /// The node this slot refers to if it is in memory, without loading anything: `None` for
    /// a stored slot not loaded yet.
    #[inline]
    pub(crate) fn peek(&self) -> Option<&Child> {
        match self {
            Child::Stored(stored, index, ..) => stored.loaded(*index),
            _ => Some(self),
        }
    }

    /// Replaces a stored slot by the node it stands for, in memory (loaded first if it was
    /// not); any other slot stays. A reference no other tree shares gives its node up (so an
    /// edit below it can work in place); a shared one gives a clone.
    #[inline(always)]
    pub(crate) fn materialize(&mut self) {
        if matches!(self, Child::Stored(..)) {
            self.materialize_stored();
        }
    }

    #[cold]
    #[inline(never)]
    fn materialize_stored(&mut self) {
        let Child::Stored(stored, index, ..) = self else {
            return;
        };
        let index = *index;
        let node = match Arc::get_mut(stored) {
            Some(owned) => {
                stored_node(owned, index);
                owned.take_loaded().nth(usize::from(index))
            }
            None => None,
        };
        *self = match node {
            Some(node) => node,
            None => stored_node(stored, index).clone(),
        };
    }

    /// Any leaf below this child (the leftmost one): all keys in a subtree share the prefix up
    /// to the subtree's branch position, so one leaf stands for all of them there.
    pub(crate) fn any_leaf(&self) -> &[u8] {
        self.any_leaf_of::<true>()
    }

    /// [`any_leaf`](Child::any_leaf), as [`Child::as_branch_of`].
    #[inline]
    pub(crate) fn any_leaf_of<const S: bool>(&self) -> &[u8] {
        let mut node = self;
        while let Some((branch, _)) = node.as_branch_of::<S>() {
            node = &branch.slots[0];
        }
        node.leaf_of::<S>().0
    }

    /// The nibble position this node splits at; a leaf splits nowhere (`u32::MAX`).
    #[inline]
    pub(crate) fn pos(&self) -> u32 {
        match self.node() {
            Node::Leaf(..) => u32::MAX,
            Node::Branch(branch, route) => route.read(branch).0,
        }
    }

    /// Whether two children are the same allocation.
    #[inline(always)]
    pub(crate) fn ptr_eq(&self, other: &Child) -> bool {
        self.identity() == other.identity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_slot_stays_two_words() {
        assert_eq!(std::mem::size_of::<Child>(), 16);
    }

    #[test]
    fn leaves_keep_their_true_length_in_every_size_class() {
        for len in [
            0, 1, 6, 7, 254, 255, 256, 1022, 1023, 4094, 4095, 4096, 70_000,
        ] {
            let value = vec![0xa5; len];
            let leaf = LeafRef::new(new_leaf(b"k", &value));
            assert_eq!(leaf_key(&leaf), b"k");
            assert_eq!(leaf_value(&leaf), &value[..]);
            // The allocation holds the leaf's location word, then its bytes.
            let allocated = leaf.0.allocated_bytes() - 2 * size_of::<usize>();
            let needed = LEAF_HEAD + 3 + len;
            assert!(allocated >= needed && allocated <= needed * 5 / 4 + 16);
        }
    }

    #[test]
    fn bitmap_ranks_count_every_bit() {
        for bits in 0..1u32 << RADIX {
            assert_eq!(count_bits(bits), bits.count_ones() as usize);
        }
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
        let leaf = LeafRef::new(new_leaf(b"k\0ey", b"va\0lue"));
        assert_eq!(leaf_key(&leaf), b"k\0ey");
        assert_eq!(leaf_value(&leaf), b"va\0lue");
        let empty = LeafRef::new(new_leaf(b"", b""));
        assert_eq!(leaf_key(&empty), b"");
        assert_eq!(leaf_value(&empty), b"");
    }
}
