//! Diff of two versions in O(changes).
//!
//! The walk pairs up the subtrees of both versions that cover the same key space and skips every
//! pair that is the same allocation or whose cached Merkle hashes are equal. Pairs are expanded
//! by the branch positions alone, so only paths leading to a change are visited. Pending work
//! lives on a heap stack, pushed in reverse so entries come out in key order.

use std::sync::Arc;

use crate::tree::hash::cached_hash;
use crate::tree::node::{
    Branch, Child, END, RADIX, digit, first_difference, leaf_key, leaf_value, vacant,
};

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
    old: Option<Arc<[u8]>>,
    new: Option<Arc<[u8]>>,
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

enum Task {
    /// Two subtrees covering the same key space, whose keys are known to agree on the first
    /// `u32` nibbles.
    Pair(Child, Child, u32),
    Removed(Child),
    Added(Child),
}

/// The changes from one version to another, in key order. Owns what it needs, so it outlives
/// the trees it came from.
pub struct Diff {
    tasks: Vec<Task>,
}

impl Diff {
    pub(crate) fn new(old: Option<Child>, new: Option<Child>) -> Diff {
        let task = match (old, new) {
            (None, None) => None,
            (Some(old), None) => Some(Task::Removed(old)),
            (None, Some(new)) => Some(Task::Added(new)),
            (Some(old), Some(new)) => Some(Task::Pair(old, new, 0)),
        };
        Diff {
            tasks: task.into_iter().collect(),
        }
    }

    /// Expands a pair of subtrees into smaller tasks, or an entry when both are leaves.
    fn expand(&mut self, old: Child, new: Child, known: u32) -> Option<DiffEntry> {
        if same(&old, &new) {
            return None;
        }
        if let (Child::Leaf(a, _), Child::Leaf(b, _)) = (&old, &new) {
            match leaf_key(a).cmp(leaf_key(b)) {
                std::cmp::Ordering::Equal => {
                    return (leaf_value(a) != leaf_value(b)).then(|| DiffEntry {
                        kind: DiffKind::Changed,
                        old: Some(a.clone()),
                        new: Some(b.clone()),
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
        let (old_pos, new_pos) = (old.pos(), new.pos());
        if let (Child::Branch(a, _), Child::Branch(b, _)) = (&old, &new)
            && old_pos == known
            && new_pos == known
        {
            // Both split right where the known common prefix ends: no key sample needed.
            self.merge(a, b);
            return None;
        }
        let old_key = leaf_key(old.any_leaf());
        let new_key = leaf_key(new.any_leaf());
        let split = first_difference(old_key, new_key).unwrap_or(u32::MAX);
        if split < old_pos.min(new_pos) {
            // The two subtrees hold disjoint key sets; one sorts wholly before the other.
            let old_first = digit(old_key, split) < digit(new_key, split);
            if old_first {
                self.tasks.push(Task::Added(new));
                self.tasks.push(Task::Removed(old));
            } else {
                self.tasks.push(Task::Removed(old));
                self.tasks.push(Task::Added(new));
            }
            return None;
        }
        match (&old, &new) {
            (Child::Branch(a, _), Child::Branch(b, _)) if old_pos == new_pos => self.merge(a, b),
            _ if old_pos < new_pos => {
                let Child::Branch(a, _) = &old else {
                    unreachable!("a smaller pos is a branch")
                };
                let d = digit(new_key, old_pos).expect("new shares old's prefix");
                self.nest(a, d, new, true);
            }
            _ => {
                let Child::Branch(b, _) = &new else {
                    unreachable!("a smaller pos is a branch")
                };
                let d = digit(old_key, new_pos).expect("old shares new's prefix");
                self.nest(b, d, old, false);
            }
        }
        None
    }

    /// Pairs the children of two branches at the same position, digit by digit.
    fn merge(&mut self, old: &Branch, new: &Branch) {
        let union = old.bitmap | new.bitmap;
        for d in (END..RADIX as u32).rev().filter(|d| union & (1 << d) != 0) {
            let task = match (old.index_of(d), new.index_of(d)) {
                (Some(i), Some(j)) if same(&old.slots[i], &new.slots[j]) => continue,
                (Some(i), Some(j)) => {
                    Task::Pair(old.slots[i].clone(), new.slots[j].clone(), old.pos + 1)
                }
                (Some(i), None) => Task::Removed(old.slots[i].clone()),
                (None, Some(j)) => Task::Added(new.slots[j].clone()),
                (None, None) => unreachable!("digit is in the union"),
            };
            self.tasks.push(task);
        }
    }

    /// `outer` splits above `inner`, whose keys all fall under `outer`'s digit `d`.
    /// `outer_is_old` says which version `outer` belongs to.
    fn nest(&mut self, outer: &Branch, d: u32, inner: Child, outer_is_old: bool) {
        let lone = |child: Child| {
            if outer_is_old {
                Task::Removed(child)
            } else {
                Task::Added(child)
            }
        };
        let mut inner = Some(inner);
        for (index, child) in outer.children().iter().enumerate().rev() {
            let cd = outer.digit_at(index);
            if cd < d
                && let Some(inner) = inner.take()
            {
                self.tasks.push(lone_inner(inner, outer_is_old));
            }
            if cd == d {
                let inner = inner.take().expect("one pairing per digit");
                self.tasks.push(if outer_is_old {
                    Task::Pair(child.clone(), inner, outer.pos + 1)
                } else {
                    Task::Pair(inner, child.clone(), outer.pos + 1)
                });
            } else {
                self.tasks.push(lone(child.clone()));
            }
        }
        if let Some(inner) = inner {
            self.tasks.push(lone_inner(inner, outer_is_old));
        }
    }
}

/// Whether two subtrees are known equal without looking inside: the same allocation, or equal
/// cached hashes. Checked before a pair is queued, so shared siblings are never even cloned.
fn same(old: &Child, new: &Child) -> bool {
    old.ptr_eq(new) || matches!((cached_hash(old), cached_hash(new)), (Some(a), Some(b)) if a == b)
}

/// `inner` when nothing in the outer version covers its keys.
fn lone_inner(inner: Child, outer_is_old: bool) -> Task {
    if outer_is_old {
        Task::Added(inner)
    } else {
        Task::Removed(inner)
    }
}

impl Iterator for Diff {
    type Item = DiffEntry;

    fn next(&mut self) -> Option<DiffEntry> {
        while let Some(task) = self.tasks.pop() {
            match task {
                Task::Pair(old, new, known) => {
                    if let Some(entry) = self.expand(old, new, known) {
                        return Some(entry);
                    }
                }
                Task::Removed(Child::Leaf(leaf, _)) => {
                    return Some(DiffEntry {
                        kind: DiffKind::Removed,
                        old: Some(leaf),
                        new: None,
                    });
                }
                Task::Added(Child::Leaf(leaf, _)) => {
                    return Some(DiffEntry {
                        kind: DiffKind::Added,
                        old: None,
                        new: Some(leaf),
                    });
                }
                Task::Removed(Child::Branch(branch, _)) => {
                    self.tasks
                        .extend(branch.children().iter().rev().cloned().map(Task::Removed));
                }
                Task::Added(Child::Branch(branch, _)) => {
                    self.tasks
                        .extend(branch.children().iter().rev().cloned().map(Task::Added));
                }
                Task::Removed(Child::Vacant) | Task::Added(Child::Vacant) => vacant!(),
            }
        }
        None
    }
}
