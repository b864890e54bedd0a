"""A Hypothesis state machine runs Map against a dict model: puts, deletes, batches,
snapshots, rollback, diff, range and prefix scans, compaction.

Derandomized (the same examples every run, so CI is reproducible); at least
``LQFT_MODEL_STEPS`` (default 20,000) steps per run.
"""

from __future__ import annotations

import os
from typing import Optional

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

import lqft

MIN_STEPS = int(os.environ.get("LQFT_MODEL_STEPS", "20000"))
STEPS_PER_EXAMPLE = 60
# About 53 steps run per example: a margin over the budget.
EXAMPLES = int(os.environ.get("LQFT_MODEL_EXAMPLES", str(MIN_STEPS // 45 + 1)))

keys = st.binary(max_size=3).map(lambda b: bytes(x % 4 + 0x61 for x in b))
values = st.binary(max_size=8)
steps_run = 0


def dict_diff(old: dict[bytes, bytes], new: dict[bytes, bytes]) -> list[lqft.Change]:
    changes = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a is None and b is not None:
            changes.append(lqft.Change("added", key, None, b))
        elif b is None and a is not None:
            changes.append(lqft.Change("removed", key, a, None))
        elif a != b:
            changes.append(lqft.Change("changed", key, a, b))
    return changes


class MapModel(RuleBasedStateMachine):
    snapshots = Bundle("snapshots")

    def __init__(self) -> None:
        super().__init__()
        self.map = lqft.Map()
        self.model: dict[bytes, bytes] = {}
        self.saved: dict[int, dict[bytes, bytes]] = {}
        self.registered: list[int] = []
        self.current: Optional[int] = None

    def step(self) -> None:
        global steps_run
        steps_run += 1

    @rule(key=keys, value=values)
    def put(self, key: bytes, value: bytes) -> None:
        self.step()
        self.map[key] = value
        self.model[key] = value

    @rule(key=keys)
    def delete(self, key: bytes) -> None:
        self.step()
        assert self.map.delete(key) == (key in self.model)
        self.model.pop(key, None)

    @rule(key=keys)
    def get(self, key: bytes) -> None:
        self.step()
        assert self.map.get(key) == self.model.get(key)
        assert (key in self.map) == (key in self.model)

    @rule(ks=st.lists(keys, max_size=8))
    def get_many(self, ks: list[bytes]) -> None:
        self.step()
        assert self.map.get_many(ks) == [self.model.get(k) for k in ks]

    @rule(ops=st.lists(st.tuples(keys, st.none() | values), max_size=6), abort=st.booleans())
    def batch(self, ops: list[tuple[bytes, Optional[bytes]]], abort: bool) -> None:
        self.step()
        try:
            with self.map.batch() as b:
                for key, value in ops:
                    if value is None:
                        b.delete(key)
                    else:
                        b.put(key, value)
                if abort:
                    raise LookupError("abort")
        except LookupError:
            return
        for key, value in ops:
            if value is None:
                self.model.pop(key, None)
            else:
                self.model[key] = value

    @rule()
    def clear(self) -> None:
        self.step()
        self.map.clear()
        self.model.clear()

    @rule(target=snapshots)
    def snapshot(self) -> lqft.Snapshot:
        self.step()
        s = self.map.snapshot()
        assert s.id not in self.saved
        self.saved[s.id] = dict(self.model)
        self.registered.append(s.id)
        self.current = s.id
        assert dict(s) == self.model and len(s) == len(self.model)
        return s

    @rule(s=snapshots, discard=st.booleans(), by_id=st.booleans())
    def rollback(self, s: lqft.Snapshot, discard: bool, by_id: bool) -> None:
        self.step()
        if by_id and s.id not in self.registered:
            with pytest.raises(lqft.UnknownSnapshotError):
                self.map.rollback(s.id, discard=True)
            return
        pending = self.map.pending_mutations
        # Writes no snapshot holds are never lost silently; writes that cancel out (the live
        # state equals the current snapshot, or is empty with none) lose nothing when dropped.
        unchanged = self.model == (self.saved[self.current] if self.current is not None else {})
        if not unchanged:
            assert pending > 0
        target = s.id if by_id else s
        if pending and not discard and not unchanged:
            with pytest.raises(lqft.PendingChangesError):
                self.map.rollback(target)
            return
        assert self.map.rollback(target, discard=discard) == pending
        self.model = dict(self.saved[s.id])
        self.current = s.id

    @rule(a=snapshots, b=st.none() | snapshots)
    def diff(self, a: lqft.Snapshot, b: Optional[lqft.Snapshot]) -> None:
        self.step()
        new = self.model if b is None else self.saved[b.id]
        assert list(self.map.diff(a, b)) == dict_diff(self.saved[a.id], new)

    @rule(start=st.none() | keys, stop=st.none() | keys, reverse=st.booleans(),
          on_snapshot=st.none() | snapshots)
    def range(self, start: Optional[bytes], stop: Optional[bytes], reverse: bool,
              on_snapshot: Optional[lqft.Snapshot]) -> None:
        self.step()
        source = self.model if on_snapshot is None else self.saved[on_snapshot.id]
        version = self.map if on_snapshot is None else on_snapshot
        expected = sorted(
            (k, v) for k, v in source.items()
            if (start is None or k >= start) and (stop is None or k < stop)
        )
        if reverse:
            expected.reverse()
        assert list(version.range(start, stop, reverse=reverse)) == expected

    @rule(prefix=keys, reverse=st.booleans())
    def prefix(self, prefix: bytes, reverse: bool) -> None:
        self.step()
        expected = sorted((k, v) for k, v in self.model.items() if k.startswith(prefix))
        if reverse:
            expected.reverse()
        assert list(self.map.prefix(prefix, reverse=reverse)) == expected

    @rule(retain_last=st.integers(0, 3))
    def compact(self, retain_last: int) -> None:
        self.step()
        report = self.map.compact(retain_last)
        keep = set(self.registered[-retain_last:] if retain_last else [])
        if self.current in self.registered:  # a rollback may make a pruned snapshot current
            keep.add(self.current)
        assert report.retained == sorted(keep)
        assert report.pruned == sorted(set(self.registered) - keep)
        self.registered = sorted(keep)

    @rule(s=consumes(snapshots))
    def forget(self, s: lqft.Snapshot) -> None:
        """Closing a handle changes nothing in the map or the registry."""
        self.step()
        s.close()

    @invariant()
    def same_contents(self) -> None:
        assert len(self.map) == len(self.model)
        assert list(self.map.items()) == sorted(self.model.items())
        assert self.map.snapshot_ids() == self.registered


def test_map_behaves_like_the_dict_model() -> None:
    global steps_run
    steps_run = 0
    run_state_machine_as_test(
        MapModel,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS_PER_EXAMPLE,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(f"model test: {steps_run} steps in {EXAMPLES} examples")
    assert steps_run >= MIN_STEPS
