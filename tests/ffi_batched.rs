//! Contract tests of the C ABI's batched steps and open-ended ranges: what a binding sees
//! through `lqft_iter_next_packed`, `lqft_iter_next_back_packed`, `lqft_diff_next_packed` and
//! `lqft_*_range_bounds` matches the ordered model, whatever the buffer sizes and step mix.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::ptr;

use lqft::ffi::*;
use proptest::prelude::*;

/// A map handle holding `model`'s entries, freed on drop.
struct CMap(*mut lqft_map);

impl CMap {
    fn of(model: &BTreeMap<Vec<u8>, Vec<u8>>) -> CMap {
        let mut map = ptr::null_mut();
        // SAFETY: `map` is writable; keys and values are live slices.
        unsafe {
            assert_eq!(lqft_map_new(&mut map), LQFT_OK);
            for (k, v) in model {
                assert_eq!(
                    lqft_map_put(map, k.as_ptr(), k.len(), v.as_ptr(), v.len()),
                    LQFT_OK
                );
            }
        }
        CMap(map)
    }

    fn snapshot(&self) -> *mut lqft_snapshot {
        let mut out = ptr::null_mut();
        // SAFETY: live map, writable `out`.
        assert_eq!(unsafe { lqft_map_snapshot(self.0, &mut out) }, LQFT_OK);
        out
    }
}

impl Drop for CMap {
    fn drop(&mut self) {
        // SAFETY: the handle is live and used by this thread alone.
        unsafe { lqft_map_free(self.0) }
    }
}

fn kind_of(bound: &Bound<Vec<u8>>) -> (Vec<u8>, lqft_bound) {
    match bound {
        Bound::Included(k) => (k.clone(), LQFT_BOUND_INCLUDED),
        Bound::Excluded(k) => (k.clone(), LQFT_BOUND_EXCLUDED),
        Bound::Unbounded => (Vec::new(), LQFT_BOUND_UNBOUNDED),
    }
}

/// Whether `(start, end)` admit any key: `BTreeMap::range` panics on the others.
fn sane(start: &Bound<Vec<u8>>, end: &Bound<Vec<u8>>) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s <= e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e)) => s < e,
        (Bound::Excluded(s), Bound::Included(e)) => s < e,
        _ => true,
    }
}

/// One packed step from the front or the back: the entries returned, or `None` when done.
fn packed_step(
    iter: *mut lqft_iter,
    back: bool,
    cap: usize,
    max: usize,
) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut buf = vec![0u8; cap];
    let mut ends = vec![0usize; 2 * max];
    let (mut count, mut len) = (0, 0);
    let step = if back {
        lqft_iter_next_back_packed
    } else {
        lqft_iter_next_packed
    };
    // SAFETY: live iterator; buffers of the sizes passed; writable outputs.
    let status = unsafe {
        step(
            iter,
            buf.as_mut_ptr(),
            cap,
            ends.as_mut_ptr(),
            max,
            &mut count,
            &mut len,
        )
    };
    match status {
        LQFT_DONE => None,
        LQFT_ERR_BUFFER_TOO_SMALL => {
            assert!(len > cap, "too small, yet {len} bytes needed of {cap}");
            // Nothing was lost: a buffer of the size reported takes the entry.
            let entries = packed_step(iter, back, len, 1).expect("the held entry");
            assert_eq!(entries.len(), 1);
            Some(entries)
        }
        status => {
            assert_eq!(status, LQFT_OK);
            assert!(count >= 1 && count <= max && len <= cap);
            let mut start = 0;
            let entries = (0..count)
                .map(|i| {
                    let (key_end, value_end) = (ends[2 * i], ends[2 * i + 1]);
                    let entry = (
                        buf[start..key_end].to_vec(),
                        buf[key_end..value_end].to_vec(),
                    );
                    start = value_end;
                    entry
                })
                .collect();
            assert_eq!(start, len);
            Some(entries)
        }
    }
}

fn model() -> impl Strategy<Value = BTreeMap<Vec<u8>, Vec<u8>>> {
    prop::collection::btree_map(
        prop::collection::vec(0u8..4, 0..4),
        prop::collection::vec(any::<u8>(), 0..40),
        0..60,
    )
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    let key = prop::collection::vec(0u8..4, 0..4);
    prop_oneof![
        key.clone().prop_map(Bound::Included),
        key.prop_map(Bound::Excluded),
        Just(Bound::Unbounded),
    ]
}

proptest! {
    #[test]
    fn packed_steps_from_both_ends_walk_a_bounded_range_once_in_order(
        model in model(),
        start in bound(),
        end in bound(),
        steps in prop::collection::vec((any::<bool>(), 0usize..120, 1usize..6), 1..200),
        on_snapshot in any::<bool>(),
    ) {
        let map = CMap::of(&model);
        let snapshot = map.snapshot();
        let ((s, sk), (e, ek)) = (kind_of(&start), kind_of(&end));
        let mut iter = ptr::null_mut();
        // SAFETY: live handles; bounds are live slices; writable `iter`.
        let status = unsafe {
            if on_snapshot {
                lqft_snapshot_range_bounds(snapshot, s.as_ptr(), s.len(), sk, e.as_ptr(), e.len(), ek, &mut iter)
            } else {
                lqft_map_range_bounds(map.0, s.as_ptr(), s.len(), sk, e.as_ptr(), e.len(), ek, &mut iter)
            }
        };
        prop_assert_eq!(status, LQFT_OK);
        let expected: Vec<(Vec<u8>, Vec<u8>)> = if sane(&start, &end) {
            model.range((start.clone(), end.clone())).map(|(k, v)| (k.clone(), v.clone())).collect()
        } else {
            Vec::new()
        };
        let (mut front, mut back) = (Vec::new(), Vec::new());
        let mut done = false;
        for (from_back, cap, max) in steps.iter().copied().chain(std::iter::repeat((false, 64, 3))) {
            match packed_step(iter, from_back, cap, max) {
                Some(entries) if from_back => back.extend(entries),
                Some(entries) => front.extend(entries),
                None => { done = true; break; }
            }
        }
        prop_assert!(done);
        back.reverse();
        front.extend(back);
        prop_assert_eq!(front, expected);
        // SAFETY: live handles used by this thread alone.
        unsafe { lqft_iter_free(iter); lqft_snapshot_free(snapshot) };
    }

    #[test]
    fn packed_diff_steps_give_every_change_in_key_order(
        old in model(),
        new in model(),
        caps in prop::collection::vec((0usize..100, 1usize..5), 1..100),
    ) {
        let (a, b) = (CMap::of(&old), CMap::of(&new));
        let (sa, sb) = (a.snapshot(), b.snapshot());
        let mut diff = ptr::null_mut();
        // SAFETY: live snapshots, writable `diff`.
        prop_assert_eq!(unsafe { lqft_diff_new(sa, sb, &mut diff) }, LQFT_OK);
        let mut expected = Vec::new();
        let keys: std::collections::BTreeSet<_> = old.keys().chain(new.keys()).collect();
        for key in keys {
            match (old.get(key), new.get(key)) {
                (None, Some(v)) => expected.push((LQFT_DIFF_ADDED, key.clone(), vec![], v.clone())),
                (Some(v), None) => expected.push((LQFT_DIFF_REMOVED, key.clone(), v.clone(), vec![])),
                (Some(o), Some(n)) if o != n => expected.push((LQFT_DIFF_CHANGED, key.clone(), o.clone(), n.clone())),
                _ => {}
            }
        }
        let mut got = Vec::new();
        for (cap, max) in caps.iter().copied().chain(std::iter::repeat((200, 4))) {
            let mut buf = vec![0u8; cap];
            let mut ends = vec![0usize; 3 * max];
            let mut kinds = vec![0; max];
            let (mut count, mut len) = (0, 0);
            // SAFETY: live diff; buffers of the sizes passed; writable outputs.
            let status = unsafe {
                lqft_diff_next_packed(diff, buf.as_mut_ptr(), cap, ends.as_mut_ptr(), kinds.as_mut_ptr(), max, &mut count, &mut len)
            };
            if status == LQFT_DONE { break; }
            if status == LQFT_ERR_BUFFER_TOO_SMALL { prop_assert!(len > cap); continue; }
            prop_assert_eq!(status, LQFT_OK);
            let mut start = 0;
            for i in 0..count {
                let piece = |j: usize, start: usize| buf[start..ends[3 * i + j]].to_vec();
                let key = piece(0, start);
                let old_value = piece(1, ends[3 * i]);
                let new_value = piece(2, ends[3 * i + 1]);
                got.push((kinds[i], key, old_value, new_value));
                start = ends[3 * i + 2];
            }
            prop_assert_eq!(start, len);
        }
        prop_assert_eq!(got, expected);
        // SAFETY: live handles used by this thread alone.
        unsafe { lqft_diff_free(diff); lqft_snapshot_free(sa); lqft_snapshot_free(sb) };
    }
}

#[test]
fn an_unknown_bound_kind_is_refused_and_nothing_is_written() {
    let map = CMap::of(&BTreeMap::new());
    let mut iter = ptr::null_mut();
    // SAFETY: live map; NULL bytes with length 0; writable `iter`.
    let status =
        unsafe { lqft_map_range_bounds(map.0, ptr::null(), 0, 7, ptr::null(), 0, 0, &mut iter) };
    assert_eq!(status, LQFT_ERR_INVALID_ARGUMENT);
    assert!(iter.is_null());
}
