//! Atomic write batches.

use crate::error::{Result, check_entry, check_key};

/// Puts and deletes applied together by [`Map::write_batch`](crate::Map::write_batch): all of
/// them, in order, or none.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub(crate) ops: Vec<Op>,
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

impl Op {
    /// The key the operation writes.
    pub(crate) fn key(&self) -> &[u8] {
        match self {
            Op::Put(key, _) | Op::Delete(key) => key,
        }
    }
}

/// One operation of a [`Batch`], as [`Batch::ops`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOp<'a> {
    /// Set the key to the value.
    Put(&'a [u8], &'a [u8]),
    /// Remove the key.
    Delete(&'a [u8]),
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds a put. Fails, leaving the batch unchanged, when the key or value is over the limits.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<&mut Batch> {
        check_entry(key, value)?;
        self.ops.push(Op::Put(key.to_vec(), value.to_vec()));
        Ok(self)
    }

    /// Adds a delete. Fails, leaving the batch unchanged, when the key is over the limit.
    pub fn delete(&mut self, key: &[u8]) -> Result<&mut Batch> {
        check_key(key)?;
        self.ops.push(Op::Delete(key.to_vec()));
        Ok(self)
    }

    /// The operations, in the order they apply.
    pub fn ops(&self) -> impl ExactSizeIterator<Item = BatchOp<'_>> {
        self.ops.iter().map(|op| match op {
            Op::Put(key, value) => BatchOp::Put(key, value),
            Op::Delete(key) => BatchOp::Delete(key),
        })
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
