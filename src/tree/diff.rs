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

use crate::tree::hash::{cached_hash, stored_pair_hash};
use crate::tree::node::{
    Branch, Child, LeafRef, Node, digit, first_difference, leaf_key, leaf_value, locate,
    split_route,
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
    /// Another hold of the same slot.
    fn again(&self) -> Self;
    /// A hold of the node the slot refers to, in memory: loaded if it is stored and was not.
    fn resolved(&self) -> crate::Result<Self>;
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
    fn again(&self) -> Self {
        self
    }
    fn resolved(&self) -> crate::Result<Self> {
        let node: &'a Child = self;
        node.resolve()
    }
}

impl Hold for Child {
    fn slot(&self) -> &Child {
        self
    }
    fn child(&self, index: usize) -> Self {
        (&self).child(index).clone()
    }
    fn again(&self) -> Self {
        self.clone()
    }
    fn resolved(&self) -> crate::Result<Self> {
        self.resolve().cloned()
    }
}

/// A subtree as the walk holds it: a node, or the two leaves of a pair with the position of
/// the branch that holds them (their [`Next`](crate::tree::node::Next) digits are at the one
/// after it).
pub(crate) enum Sub<H> {
    One(H),
    Two(H, H, u32),
}

/// Where a subtree splits and into which digits: `bitmap` and `pairs` as in a branch (a pair
/// splits into two single leaves; a leaf splits nowhere, at `u32::MAX`, into nothing).
#[derive(Clone, Copy)]
struct Fan {
    pos: u32,
    bitmap: u32,
    pairs: u32,
}

impl<H: Hold> Sub<H> {
    /// How the subtree splits: from the slot's route for a node; for a pair, from its leaves'
    /// next digits when they are known and differ, else from reading both keys.
    fn fan(&self) -> Fan {
        match self {
            Sub::One(node) => match node.slot().as_branch() {
                Some((branch, route)) => {
                    let (pos, bitmap, pairs) = route.read(branch);
                    Fan { pos, bitmap, pairs }
                }
                None => Fan {
                    pos: u32::MAX,
                    bitmap: 0,
                    pairs: 0,
                },
            },
            Sub::Two(a, b, holder) => {
                let next = [a, b].map(|leaf| leaf.slot().next().get());
                let (pos, bitmap) = match next {
                    // Known and different: the keys first differ right below the holder.
                    [Some(x), Some(y)] if x != y => (holder + 1, 1 << x | 1 << y),
                    _ => split_route(leaf_key(a.slot().leaf().0), leaf_key(b.slot().leaf().0)),
                };
                Fan {
                    pos,
                    bitmap,
                    pairs: 0,
                }
            }
        }
    }

    /// The key of some leaf of the subtree.
    fn any_key(&self) -> &[u8] {
        match self {
            Sub::One(node) | Sub::Two(node, ..) => leaf_key(node.slot().any_leaf()),
        }
    }

    /// The child at digit `d` of a subtree that splits as `fan`.
    fn kid(&self, fan: Fan, d: u32) -> Option<Sub<H>> {
        let (i, pair) = locate(fan.bitmap, fan.pairs, d)?;
        Some(match self {
            Sub::One(node) if pair => Sub::Two(node.child(i), node.child(i + 1), fan.pos),
            Sub::One(node) => Sub::One(node.child(i)),
            Sub::Two(a, b, _) => Sub::One(if i == 0 { a.again() } else { b.again() }),
        })
    }
}

/// The digits set in `bitmap`, from the highest down (the order tasks are pushed in).
fn digits_down(mut bitmap: u32) -> impl Iterator<Item = u32> {
    std::iter::from_fn(move || {
        let d = 31u32.checked_sub(bitmap.leading_zeros())?;
        bitmap &= !(1 << d);
        Some(d)
    })
}

enum Task<H> {
    /// Two subtrees covering the same key space, whose keys are known to agree on the first
    /// `u32` nibbles.
    Pair(Sub<H>, Sub<H>, u32),
    Removed(Sub<H>),
    Added(Sub<H>),
}

/// How the walk makes sure the nodes it is about to read are in memory: in-memory diffs
/// assume they are (a stored node is then loaded where it is read, and a failed load panics),
/// fallible diffs load them first and stop at the first error.
pub(crate) trait Loader {
    type Error;
    /// Whether the loader loads anything (its walks check what a task reads before taking it
    /// apart).
    const LOADS: bool;
    /// Loads the node(s) `sub` refers to.
    fn sub<H: Hold>(sub: &Sub<H>) -> Result<(), Self::Error>;
    /// Loads the leftmost path of `sub` (whose key the walk samples).
    fn leftmost<H: Hold>(sub: &Sub<H>) -> Result<(), Self::Error>;
}

/// Every node is in memory, or loaded where it is read.
pub(crate) enum InMemory {}

impl Loader for InMemory {
    type Error = std::convert::Infallible;
    const LOADS: bool = false;
    #[inline(always)]
    fn sub<H: Hold>(_: &Sub<H>) -> Result<(), Self::Error> {
        Ok(())
    }
    #[inline(always)]
    fn leftmost<H: Hold>(_: &Sub<H>) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Stored nodes are loaded before they are read; a failed load ends the walk with its error.
pub(crate) enum FromSource {}

impl Loader for FromSource {
    type Error = crate::Error;
    const LOADS: bool = true;
    fn sub<H: Hold>(sub: &Sub<H>) -> crate::Result<()> {
        match sub {
            Sub::One(node) => node.slot().resolve().map(drop),
            Sub::Two(a, b, _) => {
                a.slot().resolve()?;
                b.slot().resolve().map(drop)
            }
        }
    }
    fn leftmost<H: Hold>(sub: &Sub<H>) -> crate::Result<()> {
        let (Sub::One(node) | Sub::Two(node, ..)) = sub;
        let mut node = node.slot().resolve()?;
        while let Some((branch, _)) = node.as_branch() {
            node = branch.slots[0].resolve()?;
        }
        Ok(())
    }
}

/// The walk shared by [`Diff`], [`OwnedDiff`] and [`TryDiff`].
struct Walk<H, L: Loader> {
    tasks: Vec<Task<H>>,
    /// Stack index of the pair whose differing subtrees were last preloaded: the tasks above it
    /// came from that pair. `usize::MAX` when none was.
    preloaded: usize,
    loader: std::marker::PhantomData<L>,
}

/// The most pairs of subtrees a diff preloads at once: their nodes fit in the L2 cache of any
/// current core.
const PRELOAD_BUDGET: usize = 1024;

/// Starts the cache misses of every node the walk will read below the pair `old`, `new` (where
/// they differ), a level at a time, so that the misses of a whole level overlap instead of
/// following one another down each changed path. Stops early, returning `false`, past
/// [`PRELOAD_BUDGET`] pairs.
fn preload_pairs<'a>(old: &'a Child, new: &'a Child) -> bool {
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
        let (Some((x, x_route)), Some((y, y_route))) = (a.loaded_branch(), b.loaded_branch())
        else {
            continue;
        };
        let ((pos, x_bits, x_pairs), (y_pos, y_bits, y_pairs)) = (x_route.read(x), y_route.read(y));
        if pos != y_pos {
            // Subtrees of different shapes: the walk samples their keys first.
            continue;
        }
        for d in digits_down(x_bits | y_bits) {
            match (locate(x_bits, x_pairs, d), locate(y_bits, y_pairs, d)) {
                (Some((i, false)), Some((j, false))) => {
                    let (c, e) = (&x.slots[i], &y.slots[j]);
                    if !c.ptr_eq(e) {
                        queue.push((c, e));
                    }
                }
                // A subtree on one side only, or a pair: the walk reads it whole, starting here,
                // except for leaves both sides share.
                (x_kid, y_kid) => {
                    let slots = |branch: &'a Branch, kid: Option<(usize, bool)>| match kid {
                        Some((i, pair)) => &branch.slots[i..=i + usize::from(pair)],
                        None => &[],
                    };
                    let (xs, ys) = (slots(x, x_kid), slots(y, y_kid));
                    // (The two slots of a pair are different leaves: a slot is shared when
                    // the other side holds it.)
                    for (these, others) in [(xs, ys), (ys, xs)] {
                        for slot in these {
                            if !others.iter().any(|s| s.ptr_eq(slot)) {
                                sum = sum.wrapping_add(load_lines(slot));
                            }
                        }
                    }
                }
            }
        }
    }
    std::hint::black_box(sum);
    true
}

impl<H: Hold, L: Loader> Walk<H, L> {
    fn new(old: Option<H>, new: Option<H>) -> Walk<H, L> {
        let task = match (old, new) {
            (None, None) => None,
            (Some(old), None) => Some(Task::Removed(Sub::One(old))),
            (None, Some(new)) => Some(Task::Added(Sub::One(new))),
            (Some(old), Some(new)) => Some(Task::Pair(Sub::One(old), Sub::One(new), 0)),
        };
        Walk {
            tasks: task.into_iter().collect(),
            preloaded: usize::MAX,
            loader: std::marker::PhantomData,
        }
    }

    /// The next entry; after an error, none.
    #[inline]
    fn next(&mut self) -> Option<Result<DiffEntry, L::Error>> {
        match self.step() {
            Ok(entry) => entry.map(Ok),
            Err(error) => {
                self.tasks.clear();
                Some(Err(error))
            }
        }
    }

    /// The next entry. A failed load changes nothing: the next call tries it again.
    fn step(&mut self) -> Result<Option<DiffEntry>, L::Error> {
        while let Some(task) = self.tasks.pop() {
            if let Err(error) = Self::load(&task) {
                self.tasks.push(task);
                return Err(error);
            }
            match task {
                Task::Pair(old, new, known) => {
                    let at = self.tasks.len();
                    if let (Sub::One(a), Sub::One(b)) = (&old, &new)
                        && at < self.preloaded
                    {
                        self.preloaded = if preload_pairs(a.slot(), b.slot()) {
                            at
                        } else {
                            usize::MAX
                        };
                    }
                    if let Some(entry) = self.expand(old, new, known) {
                        return Ok(Some(entry));
                    }
                }
                Task::Removed(sub) => {
                    if let Some(entry) = self.alone(sub, DiffKind::Removed) {
                        return Ok(Some(entry));
                    }
                }
                Task::Added(sub) => {
                    if let Some(entry) = self.alone(sub, DiffKind::Added) {
                        return Ok(Some(entry));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Loads every node that taking `task` apart reads, so that it can be taken apart with
    /// nothing left to fail: the subtrees, and for a pair of subtrees whose keys
    /// [`expand`](Walk::expand) samples, their leftmost paths. Subtrees known equal are
    /// skipped without loading.
    fn load(task: &Task<H>) -> Result<(), L::Error> {
        if !L::LOADS {
            return Ok(());
        }
        let (old, new, known) = match task {
            Task::Removed(sub) | Task::Added(sub) => return L::sub(sub),
            Task::Pair(old, new, known) => (old, new, *known),
        };
        if let (Sub::One(a), Sub::One(b)) = (old, new)
            && same(a.slot(), b.slot())
        {
            return Ok(());
        }
        L::sub(old)?;
        L::sub(new)?;
        if let (Sub::One(a), Sub::One(b)) = (old, new)
            && !a.slot().is_branch()
            && !b.slot().is_branch()
        {
            return Ok(());
        }
        if old.fan().pos == known && new.fan().pos == known {
            return Ok(());
        }
        L::leftmost(old)?;
        L::leftmost(new)
    }

    /// A subtree present in one version only: an entry for a leaf, its children queued for a
    /// branch or pair.
    fn alone(&mut self, sub: Sub<H>, kind: DiffKind) -> Option<DiffEntry> {
        let task = |sub| match kind {
            DiffKind::Removed => Task::Removed(sub),
            _ => Task::Added(sub),
        };
        match sub {
            Sub::One(node) if !node.slot().is_branch() => {
                let leaf = Some(LeafRef::new(node.slot().clone()));
                let (old, new) = match kind {
                    DiffKind::Removed => (leaf, None),
                    _ => (None, leaf),
                };
                Some(DiffEntry { kind, old, new })
            }
            // The leaves of a pair are in key order: no need to read them.
            Sub::Two(a, b, _) => {
                self.tasks.push(task(Sub::One(b)));
                self.tasks.push(task(Sub::One(a)));
                None
            }
            branch => {
                let fan = branch.fan();
                let kids = digits_down(fan.bitmap).map(|d| branch.kid(fan, d).expect("set"));
                self.tasks.extend(kids.map(task));
                None
            }
        }
    }

    /// Expands a pair of subtrees into smaller tasks, or an entry when both are leaves.
    /// Everything it reads is in memory ([`load`](Walk::load)).
    fn expand(&mut self, old: Sub<H>, new: Sub<H>, known: u32) -> Option<DiffEntry> {
        if let (Sub::One(a), Sub::One(b)) = (&old, &new)
            && same(a.slot(), b.slot())
        {
            return None;
        }
        if let (Sub::One(a), Sub::One(b)) = (&old, &new)
            && let (Node::Leaf(x), Node::Leaf(y)) = (a.slot().node(), b.slot().node())
        {
            let (a, b) = (a.slot(), b.slot());
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
        let (old_fan, new_fan) = (old.fan(), new.fan());
        let (old_pos, new_pos) = (old_fan.pos, new_fan.pos);
        if old_pos == known && new_pos == known {
            // Both split right where the known common prefix ends: no key sample needed.
            self.merge(&old, old_fan, &new, new_fan);
            return None;
        }
        let (old_key, new_key) = (old.any_key(), new.any_key());
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
            self.merge(&old, old_fan, &new, new_fan);
        } else if old_pos < new_pos {
            let d = digit(new_key, old_pos).expect("new shares old's prefix");
            self.nest(&old, old_fan, d, new, true);
        } else {
            let d = digit(old_key, new_pos).expect("old shares new's prefix");
            self.nest(&new, new_fan, d, old, false);
        }
        None
    }

    /// Pairs the children of two branches (or pairs) that split at the same position, digit
    /// by digit.
    fn merge(&mut self, old: &Sub<H>, old_fan: Fan, new: &Sub<H>, new_fan: Fan) {
        let pos = old_fan.pos;
        // The pairs are expanded one after another; reading ahead into each of them now lets
        // their cache misses overlap.
        let mut preloaded = 0usize;
        for d in digits_down(old_fan.bitmap | new_fan.bitmap) {
            let task = match (old.kid(old_fan, d), new.kid(new_fan, d)) {
                (Some(Sub::One(x)), Some(Sub::One(y))) => {
                    if same(x.slot(), y.slot()) {
                        continue;
                    }
                    preloaded = preloaded
                        .wrapping_add(preload_pair_side(x.slot()))
                        .wrapping_add(preload_pair_side(y.slot()));
                    Task::Pair(Sub::One(x), Sub::One(y), pos + 1)
                }
                // Two pairs that share a leaf differ in the other one alone.
                (Some(Sub::Two(x1, x2, _)), Some(Sub::Two(y1, y2, _)))
                    if x1.slot().ptr_eq(y1.slot()) =>
                {
                    if x2.slot().ptr_eq(y2.slot()) {
                        continue;
                    }
                    Task::Pair(Sub::One(x2), Sub::One(y2), pos + 1)
                }
                (Some(Sub::Two(x1, x2, _)), Some(Sub::Two(y1, y2, _)))
                    if x2.slot().ptr_eq(y2.slot()) =>
                {
                    Task::Pair(Sub::One(x1), Sub::One(y1), pos + 1)
                }
                // Two stored pairs with the same hash are equal (not loaded).
                (Some(Sub::Two(x1, x2, _)), Some(Sub::Two(y1, y2, _)))
                    if stored_pair_hash(x1.slot(), x2.slot())
                        .is_some_and(|x| stored_pair_hash(y1.slot(), y2.slot()) == Some(x)) =>
                {
                    continue;
                }
                (Some(a), Some(b)) => Task::Pair(a, b, pos + 1),
                (Some(a), None) => Task::Removed(a),
                (None, Some(b)) => Task::Added(b),
                (None, None) => unreachable!("the digit is in the union"),
            };
            self.tasks.push(task);
        }
        std::hint::black_box(preloaded);
    }

    /// `outer` splits (as `fan`) above `inner`, whose keys all fall under `outer`'s digit `d`.
    /// `outer_is_old` says which version `outer` belongs to.
    fn nest(&mut self, outer: &Sub<H>, fan: Fan, d: u32, inner: Sub<H>, outer_is_old: bool) {
        let alone = |node: Sub<H>, is_old: bool| {
            if is_old {
                Task::Removed(node)
            } else {
                Task::Added(node)
            }
        };
        let mut inner = Some(inner);
        for cd in digits_down(fan.bitmap | 1 << d) {
            let child = outer.kid(fan, cd);
            let task = match (child, cd == d) {
                (Some(child), true) => {
                    let inner = inner.take().expect("one pairing per digit");
                    if outer_is_old {
                        Task::Pair(child, inner, fan.pos + 1)
                    } else {
                        Task::Pair(inner, child, fan.pos + 1)
                    }
                }
                (Some(child), false) => alone(child, outer_is_old),
                (None, _) => alone(
                    inner.take().expect("d is the only digit added"),
                    !outer_is_old,
                ),
            };
            self.tasks.push(task);
        }
    }
}

/// Reads ahead into one side of a queued pair: every cache line of a branch's slots (merging
/// the pair compares them all), or a leaf's key.
fn preload_pair_side(child: &Child) -> usize {
    match child.loaded_branch() {
        Some((branch, _)) => branch
            .children()
            .iter()
            .step_by(64 / size_of::<Child>())
            .fold(0, |sum, slot| {
                sum.wrapping_add(usize::from(slot.is_branch_in_memory()))
            }),
        // A leaf (a stored one, loaded or not, is not read ahead).
        None => child.preload(),
    }
}

/// Whether two subtrees are known equal without looking inside: the same allocation, or equal
/// cached hashes. Checked before a pair is queued, so shared siblings are never even visited.
#[inline(always)]
fn same(old: &Child, new: &Child) -> bool {
    old.ptr_eq(new) || matches!((cached_hash(old), cached_hash(new)), (Some(a), Some(b)) if a == b)
}

/// The changes from one version to another, in key order, borrowing both versions.
pub struct Diff<'a> {
    walk: Walk<&'a Child, InMemory>,
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
        self.walk.next().map(|entry| match entry {
            Ok(entry) => entry,
            Err(never) => match never {},
        })
    }
}

/// A [`Diff`] that owns what it holds, so it outlives the versions it came from.
pub struct OwnedDiff {
    walk: Walk<Child, InMemory>,
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
        self.walk.next().map(|entry| match entry {
            Ok(entry) => entry,
            Err(never) => match never {},
        })
    }
}

/// The changes from one version to another, in key order, for versions with stored nodes:
/// nodes are loaded as the walk reaches them, subtrees with equal hashes are skipped without
/// loading, and a failed load ends the walk with its error.
pub struct TryDiff<'a> {
    walk: Walk<&'a Child, FromSource>,
}

impl<'a> TryDiff<'a> {
    pub(crate) fn new(old: Option<&'a Child>, new: Option<&'a Child>) -> TryDiff<'a> {
        TryDiff {
            walk: Walk::new(old, new),
        }
    }
}

impl Iterator for TryDiff<'_> {
    type Item = crate::Result<DiffEntry>;
    fn next(&mut self) -> Option<crate::Result<DiffEntry>> {
        self.walk.next()
    }
}

/// A [`TryDiff`] that owns what it holds, so it outlives the versions it came from.
pub struct TryOwnedDiff {
    walk: OwnedWalk,
}

/// The walk of a [`TryOwnedDiff`]: the in-memory one when neither version has stored nodes
/// (it never loads, so never fails), else the loading one.
enum OwnedWalk {
    Memory(Walk<Child, InMemory>),
    Stored(Walk<Child, FromSource>),
}

impl TryOwnedDiff {
    /// The diff from `old` to `new`; `stored` when either may hold stored nodes.
    pub(crate) fn new(old: Option<Child>, new: Option<Child>, stored: bool) -> TryOwnedDiff {
        let walk = if stored {
            OwnedWalk::Stored(Walk::new(old, new))
        } else {
            OwnedWalk::Memory(Walk::new(old, new))
        };
        TryOwnedDiff { walk }
    }

    /// The next change, or the error of a load that failed. Unlike [`next`](Iterator::next),
    /// an error does not end the walk: it stays where it was, so the next call tries the load
    /// again (a passing I/O error may succeed; corrupt data fails again).
    pub fn try_next(&mut self) -> crate::Result<Option<DiffEntry>> {
        match &mut self.walk {
            OwnedWalk::Memory(walk) => Ok(walk.step().unwrap_or_else(|never| match never {})),
            OwnedWalk::Stored(walk) => walk.step(),
        }
    }
}

impl Iterator for TryOwnedDiff {
    type Item = crate::Result<DiffEntry>;
    fn next(&mut self) -> Option<crate::Result<DiffEntry>> {
        match &mut self.walk {
            OwnedWalk::Memory(walk) => walk
                .next()
                .map(|entry| Ok(entry.unwrap_or_else(|never| match never {}))),
            OwnedWalk::Stored(walk) => walk.next(),
        }
    }
}
