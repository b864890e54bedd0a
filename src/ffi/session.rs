//! Pinned read sessions: snapshots that compaction keeps registered while they are read.

use super::args::{Out, free_handle, handle, new_handle};
use super::guard::{call, call_value};
use super::map::{Kind, either, lqft_map};
use super::snapshot::{give, lqft_snapshot, mixed_kinds};
use super::status::*;
use crate::{ReadSession, ShardedSnapshot};

/// A pinned snapshot: `lqft_map_compact` keeps it registered until the session is freed.
///
/// Lifetime: independent of the map (freeing the map first is allowed). Thread safety: may be
/// read from any number of threads; only `lqft_read_session_free` needs exclusive access.
pub struct lqft_read_session {
    session: Kind<ReadSession, ReadSession<ShardedSnapshot>>,
}

/// Pins `snapshot` for a read session and stores the session in `*out`. Pins nest: a snapshot
/// stays pinned while any session on it lives.
///
/// Ownership: the caller owns the session; `lqft_read_session_free` unpins and releases it.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (`snapshot` belongs to another
/// map: its id means nothing in this one; or a plain map's snapshot with a sharded map or the
/// reverse).
///
/// # Safety
/// `map` and `snapshot` are `NULL` or live handles; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_pin(
    map: *const lqft_map,
    snapshot: *const lqft_snapshot,
    out: *mut *mut lqft_read_session,
) -> lqft_status {
    call("lqft_map_pin", || {
        // SAFETY: the caller promised live handles and a writable `out`.
        let (map, snapshot, out) = unsafe {
            (
                handle(map, "map")?,
                handle(snapshot, "snapshot")?,
                Out::new(out, "out")?,
            )
        };
        let session = match (&map.kind, &snapshot.kind) {
            (Kind::Plain(map), Kind::Plain(snapshot)) => Kind::Plain(map.pin(snapshot)?),
            (Kind::Sharded(map), Kind::Sharded(snapshot)) => Kind::Sharded(map.pin(snapshot)?),
            _ => return Err(mixed_kinds("pin")),
        };
        out.write(new_handle(lqft_read_session { session }));
        Ok(LQFT_OK)
    })
}

/// Stores in `*out` a new handle on the session's snapshot.
///
/// Ownership: the caller owns `*out` and releases it with `lqft_snapshot_free`; the handle does
/// not keep the pin.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `session` is `NULL` or a live session; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_read_session_snapshot(
    session: *const lqft_read_session,
    out: *mut *mut lqft_snapshot,
) -> lqft_status {
    call("lqft_read_session_snapshot", || {
        // SAFETY: the caller promised a live session and a writable `out`.
        let (session, out) = unsafe { (handle(session, "session")?, Out::new(out, "out")?) };
        either!(&session.session, s => give(out, (**s).clone()))
    })
}

/// Unpins the session's snapshot and releases the session. `NULL` is a no-op.
///
/// # Safety
/// `session` is `NULL` or a live session that no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_read_session_free(session: *mut lqft_read_session) {
    // SAFETY: the caller passes NULL or a live session no one else is using.
    call_value((), || unsafe { free_handle(session) })
}
