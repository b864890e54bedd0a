//! Diff of two versions in O(changes).
//!
//! The walk pairs up the subtrees of both versions that cover the same key space and skips every
//! pair that is the same allocation or whose cached Merkle hashes are equal. Pairs are expanded
//! by the branch positions alone, so only paths leading to a change are visited. Pending work
//! lives on a heap stack, pushed in reverse so entries come out in key order.
//!
//! The walk is written once over [`Hold`]: [`Diff`] borrows the two versions and touches no
//! reference count on its way down; [`OwnedDiff`] owns what it holds, for handles that outlive
//! any borrow (the C ABI).

use crate::tree::hash::cached_hash;
use crate::tree::node::{
    Branch, Child, END, LeafRef, Node, RADIX, digit, first_difference, index_in, leaf_key,
    leaf_value,
};
use crate::tree::preload::load_lines;

/// What happened to a key between two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiffKind {
    /// Present only in the newer version.
    Added,
    /// Present only in the older version.
    Removed,
    /// Present in both with different values.
    Changed,
}

/// One difference between two versions. Holds the entries alive; cloning is cheap.
#[derive(Clone)]
pub struct DiffEntry {
    kind: DiffKind,
    old: Option<LeafRef>,
    new: Option<LeafRef>,
}

impl DiffEntry {
    /// What happened to the key.
    pub fn kind(&self) -> DiffKind {
        self.kind
    }

    /// The key.
    pub fn key(&self) -> &[u8] {
        match (&self.new, &self.old) {
            (Some(leaf), _) | (None, Some(leaf)) => leaf_key(leaf),
            (None, None) => unreachable!("an entry has at least one side"),
        }
    }

    /// The value in the older version (`None` for [`DiffKind::Added`]).
    pub fn old_value(&self) -> Option<&[u8]> {
        self.old.as_deref().map(leaf_value)
    }

    /// The value in the newer version (`None` for [`DiffKind::Removed`]).
    pub fn new_value(&self) -> Option<&[u8]> {
        self.new.as_deref().map(leaf_value)
    }
}

impl std::fmt::Debug for DiffEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiffEntry")
            .field("kind", &self.kind)
            .field("key", &self.key())
            .field("old", &self.old_value())
            .field("new", &self.new_value())
            .finish()
    }
}

/// How the walk holds a node: borrowed from a version, or owned.
pub(crate) trait Hold: Sized {
    /// The slot held.
    fn slot(&self) -> &Child;
    /// The child in slot `index` of the held branch.
    fn child(&self, index: usize) -> Self;
}

impl<'a> Hold for &'a Child {
    fn slot(&self) -> &Child {
        self
    }
    fn child(&self, index: usize) -> Self {
        let node: &'a Child = self;
        let (branch, _) = node.as_branch().expect("only branches have children");
        &branch.slots[index]
    }
}

impl Hold for Child {
    fn slot(&self) -> &Child {
        self
    }
    fn child(&self, index: usize) -> Self {
        (&self).child(index).clone()
    }
}

enum Task<H> {
    /// Two subtrees covering the same key space, whose keys are known to agree on the first
    /// `u32` nibbles.
    Pair(H, H, u32),
    Removed(H),
    Added(H),
}

/// The walk shared by [`Diff`] and [`OwnedDiff`].
struct Walk<H> {
    tasks: Vec<Task<H>>,
    /// Stack index of the pair whose differing subtrees were last preloaded: the tasks above it
    /// came from that pair. `usize::MAX` when none was.
    preloaded: usize,
}

/// The most pairs of subtrees a diff preloads at once: their nodes fit in the L2 cache of any
/// current core.
const PRELOAD_BUDGET: usize = 1024;

/// Starts the cache misses of every node the walk will read below the pair `old`, `new` (where
/// they differ), a level at a time, so that the misses of a whole level overlap instead of
/// following one another down each changed path. Stops early, returning `false`, past
/// [`PRELOAD_BUDGET`] pairs.
fn preload_pairs(old: &Child, new: &Child) -> bool {
    // Breadth first: `queue[level..]` is the level being expanded or queued.
    let mut queue = Vec::with_capacity(16);
    queue.push((old, new));
    let (mut next, mut level) = (0, 0);
    let mut sum = 0usize;
    while next < queue.len() {
        if next == level {
            // A level is queued whole: load all of its lines before expanding any of it.
            sum = queue[next..].iter().fold(sum, |sum, &(a, b)| {
                sum.wrapping_add(load_lines(a)).wrapping_add(load_lines(b))
            });
            level = queue.len();
        }
        if next == PRELOAD_BUDGET {
            std::hint::black_box(sum);
            return false;
        }
        let (a, b) = queue[next];
        next += 1;
        let (Some((x, x_route)), Some((y, y_route))) = (a.as_branch(), b.as_branch()) else {
            continue;
        };
        let ((pos, x_bits), (y_pos, y_bits)) = (x_route.read(x), y_route.read(y));
        if pos != y_pos {
            // Subtrees of different shapes: the walk samples their keys first.
            continue;
        }
        let mut union = x_bits | y_bits;
        while union != 0 {
            let d = union.trailing_zeros();
            union &= union - 1;
            match (index_in(x_bits, d), index_in(y_bits, d)) {
                (Some(i), Some(j)) => {
                    let (c, e) = (&x.slots[i], &y.slots[j]);
                    if !c.ptr_eq(e) {
                        queue.push((c, e));
                    }
                }
                // A subtree on one side only: the walk reads it whole, starting here.
                (Some(i), None) => sum = sum.wrapping_add(load_lines(&x.slots[i])),
                (None, Some(j)) => sum = sum.wrapping_add(load_lines(&y.slots[j])),
                (None, None) => unreachable!("digit is in the union"),
            }
        }
    }
    std::hint::black_box(sum);
    true
}

/// A branch with its position and bitmap, read from the slot's route.
fn routed(node: &Child) -> (&Branch, (u32, u32)) {
    let (branch, route) = node.as_branch().expect("merged nodes are branches");
    (branch, route.read(branch))
}

fn branch(node: &Child) -> &Branch {
    node.as_branch().expect("a smaller pos is a branch").0
}

impl<H: Hold> Walk<H> {
    fn new(old: Option<H>, new: Option<H>) -> Walk<H> {
        let task = match (old, new) {
            (None, None) => None,
            (Some(old), None) => Some(Task::Removed(old)),
            (None, Some(new)) => Some(Task::Added(new)),
            (Some(old), Some(new)) => Some(Task::Pair(old, new, 0)),
        };
        Walk {
            tasks: task.into_iter().collect(),
            preloaded: usize::MAX,
        }
    }

    fn next(&mut self) -> Option<DiffEntry> {
        while let Some(task) = self.tasks.pop() {
            match task {
                Task::Pair(old, new, known) => {
                    let at = self.tasks.len();
                    if at < self.preloaded {
                        self.preloaded = if preload_pairs(old.slot(), new.slot()) {
                            at
                        } else {
                            usize::MAX
                        };
                    }
                    if let Some(entry) = self.expand(old, new, known) {
                        return Some(entry);
                    }
                }
                Task::Removed(node) => match node.slot().node() {
                    Node::Leaf(..) => {
                        let old = Some(LeafRef::new(node.slot().clone()));
                        return Some(DiffEntry {
                            kind: DiffKind::Removed,
                            old,
                            new: None,
                        });
                    }
                    Node::Branch(branch, _) => {
                        let count = branch.count();
                        self.tasks
                            .extend((0..count).rev().map(|i| Task::Removed(node.child(i))));
                    }
                },
                Task::Added(node) => match node.slot().node() {
                    Node::Leaf(..) => {
                        let new = Some(LeafRef::new(node.slot().clone()));
                        return Some(DiffEntry {
                            kind: DiffKind::Added,
                            old: None,
                            new,
                        });
                    }
                    Node::Branch(branch, _) => {
                        let count = branch.count();
                        self.tasks
                            .extend((0..count).rev().map(|i| Task::Added(node.child(i))));
                    }
                },
            }
        }
        None
    }

    /// Expands a pair of subtrees into smaller tasks, or an entry when both are leaves.
    fn expand(&mut self, old: H, new: H, known: u32) -> Option<DiffEntry> {
        let (a, b) = (old.slot(), new.slot());
        if same(a, b) {
            return None;
        }
        if let (Node::Leaf(x, _), Node::Leaf(y, _)) = (a.node(), b.node()) {
            match leaf_key(x).cmp(leaf_key(y)) {
                std::cmp::Ordering::Equal => {
                    return (leaf_value(x) != leaf_value(y)).then(|| DiffEntry {
                        kind: DiffKind::Changed,
                        old: Some(LeafRef::new(a.clone())),
                        new: Some(LeafRef::new(b.clone())),
                    });
                }
                std::cmp::Ordering::Less => {
                    self.tasks.push(Task::Added(new));
                    self.tasks.push(Task::Removed(old));
                }
                std::cmp::Ordering::Greater => {
                    self.tasks.push(Task::Removed(old));
                    self.tasks.push(Task::Added(new));
                }
            }
            return None;
        }
        let (old_pos, new_pos) = (a.pos(), b.pos());
        if old_pos == known && new_pos == known {
            // Both split right where the known common prefix ends: no key sample needed.
            self.merge(&old, &new);
            return None;
        }
        let old_key = leaf_key(a.any_leaf());
        let new_key = leaf_key(b.any_leaf());
        let split = first_difference(old_key, new_key).unwrap_or(u32::MAX);
        if split < old_pos.min(new_pos) {
            // The two subtrees hold disjoint key sets; one sorts wholly before the other.
            if digit(old_key, split) < digit(new_key, split) {
                self.tasks.push(Task::Added(new));
                self.tasks.push(Task::Removed(old));
            } else {
                self.tasks.push(Task::Removed(old));
                self.tasks.push(Task::Added(new));
            }
        } else if old_pos == new_pos {
            self.merge(&old, &new);
        } else if old_pos < new_pos {
            let d = digit(new_key, old_pos).expect("new shares old's prefix");
            self.nest(old, d, new, true);
        } else {
            let d = digit(old_key, new_pos).expect("old shares new's prefix");
            self.nest(new, d, old, false);
        }
        None
    }

    /// Pairs the children of two branches at the same position, digit by digit.
    fn merge(&mut self, old: &H, new: &H) {
        // Positions and bitmaps come from the slots' routes, so only the slots are read.
        let ((a, (pos, old_bits)), (b, (_, new_bits))) = (routed(old.slot()), routed(new.slot()));
        let union = old_bits | new_bits;
        // The pairs are expanded one after another; reading ahead into each of them now lets
        // their cache misses overlap.
        let mut preloaded = 0usize;
        for d in (END..RADIX as u32).rev().filter(|d| union & (1 << d) != 0) {
            let task = match (index_in(old_bits, d), index_in(new_bits, d)) {
                (Some(i), Some(j)) if same(&a.slots[i], &b.slots[j]) => continue,
                (Some(i), Some(j)) => {
                    preloaded = preloaded
                        .wrapping_add(preload_pair_side(&a.slots[i]))
                        .wrapping_add(preload_pair_side(&b.slots[j]));
                    Task::Pair(old.child(i), new.child(j), pos + 1)
                }
                (Some(i), None) => Task::Removed(old.child(i)),
                (None, Some(j)) => Task::Added(new.child(j)),
                (None, None) => unreachable!("digit is in the union"),
            };
            self.tasks.push(task);
        }
        std::hint::black_box(preloaded);
    }

    /// `outer` splits above `inner`, whose keys all fall under `outer`'s digit `d`.
    /// `outer_is_old` says which version `outer` belongs to.
    fn nest(&mut self, outer: H, d: u32, inner: H, outer_is_old: bool) {
        let (pos, bitmap) = {
            let b = branch(outer.slot());
            (b.pos, b.bitmap)
        };
        let alone = |node: H, is_old: bool| {
            if is_old {
                Task::Removed(node)
            } else {
                Task::Added(node)
            }
        };
        let mut inner = Some(inner);
        for index in (0..bitmap.count_ones() as usize).rev() {
            let cd = branch(outer.slot()).digit_at(index);
            if cd < d
                && let Some(inner) = inner.take()
            {
                self.tasks.push(alone(inner, !outer_is_old));
            }
            let child = outer.child(index);
            if cd == d {
                let inner = inner.take().expect("one pairing per digit");
                self.tasks.push(if outer_is_old {
                    Task::Pair(child, inner, pos + 1)
                } else {
                    Task::Pair(inner, child, pos + 1)
                });
            } else {
                self.tasks.push(alone(child, outer_is_old));
            }
        }
        if let Some(inner) = inner {
            self.tasks.push(alone(inner, !outer_is_old));
        }
    }
}

/// Reads ahead into one side of a queued pair: every cache line of a branch's slots (merging
/// the pair compares them all), or a leaf's key.
fn preload_pair_side(child: &Child) -> usize {
    match child.as_branch() {
        Some((branch, _)) => branch
            .children()
            .iter()
            .step_by(64 / size_of::<Child>())
            .fold(0, |sum, slot| {
                sum.wrapping_add(usize::from(slot.is_branch()))
            }),
        None => child.preload(),
    }
}

/// Whether two subtrees are known equal without looking inside: the same allocation, or equal
/// cached hashes. Checked before a pair is queued, so shared siblings are never even visited.
fn same(old: &Child, new: &Child) -> bool {
    old.ptr_eq(new) || matches!((cached_hash(old), cached_hash(new)), (Some(a), Some(b)) if a == b)
}

/// The changes from one version to another, in key order, borrowing both versions.
pub struct Diff<'a> {
    walk: Walk<&'a Child>,
}

impl<'a> Diff<'a> {
    pub(crate) fn new(old: Option<&'a Child>, new: Option<&'a Child>) -> Diff<'a> {
        Diff {
            walk: Walk::new(old, new),
        }
    }
}

impl Iterator for Diff<'_> {
    type Item = DiffEntry;
    fn next(&mut self) -> Option<DiffEntry> {
        self.walk.next()
    }
}

/// A [`Diff`] that owns what it holds, so it outlives the versions it came from.
pub struct OwnedDiff {
    walk: Walk<Child>,
}

impl OwnedDiff {
    pub(crate) fn new(old: Option<Child>, new: Option<Child>) -> OwnedDiff {
        OwnedDiff {
            walk: Walk::new(old, new),
        }
    }
}

impl Iterator for OwnedDiff {
    type Item = DiffEntry;
    fn next(&mut self) -> Option<DiffEntry> {
        self.walk.next()
    }
}
