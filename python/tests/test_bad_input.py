"""Bad input gets a clear exception (also a built-in) and changes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import lqft


@pytest.mark.parametrize("bad", ["text", 5, None, 1.5, [1, 2], object()])
def test_keys_and_values_that_are_not_bytes_like_are_type_errors(bad: Any) -> None:
    m = lqft.Map({b"a": b"1"})
    s = m.snapshot()
    calls = [
        lambda: m.__setitem__(bad, b"v"),
        lambda: m.__setitem__(b"k", bad),
        lambda: m[bad],
        lambda: m.get(bad),
        lambda: bad in m,
        lambda: m.delete(bad),
        lambda: m.prefix(bad),
        lambda: s[bad],
        lambda: s.get_view(bad),
        lambda: m.batch().put(bad, b"v"),
    ]
    if bad is not None:  # None is an open end of a range
        calls += [lambda: m.range(bad), lambda: s.range(None, bad)]
    for call in calls:
        with pytest.raises(TypeError):
            call()
    assert dict(m) == {b"a": b"1"} and m.pending_mutations == 0


def test_str_is_refused_with_a_message_that_says_what_to_do() -> None:
    with pytest.raises(TypeError, match="encode it first"):
        lqft.Map()["k"] = b"v"  # type: ignore[index]


def test_too_long_keys_are_value_errors_and_change_nothing() -> None:
    m = lqft.Map({b"a": b"1"})
    long_key = b"k" * (lqft.MAX_KEY_LEN + 1)
    with pytest.raises(lqft.KeyTooLongError) as info:
        m[long_key] = b"v"
    assert isinstance(info.value, ValueError)
    assert info.value.status == -3 and "65535" in str(info.value)
    for call in (lambda: m[long_key], lambda: long_key in m, lambda: m.delete(long_key)):
        with pytest.raises(lqft.KeyTooLongError):
            call()
    b = m.batch()
    with pytest.raises(lqft.KeyTooLongError):
        b.put(long_key, b"v")
    assert len(b) == 0
    m[b"k" * lqft.MAX_KEY_LEN] = b"longest key"
    assert m[b"k" * lqft.MAX_KEY_LEN] == b"longest key"
    assert len(m) == 2 and m.pending_mutations == 2


@pytest.mark.parametrize("bad", [-1, 2**64, "3", 1.0, True, None])
def test_snapshot_ids_and_counts_out_of_domain_are_refused(bad: Any) -> None:
    m = lqft.Map()
    m.snapshot()
    for call in (
        lambda: m.rollback(bad),
        lambda: m.snapshot_by_id(bad),
        lambda: m.compact(bad),
    ):
        with pytest.raises((TypeError, ValueError)):
            call()
    assert m.snapshot_ids() == [1]


def test_bad_paths_are_refused_before_any_file_is_touched(tmp_path: Any) -> None:
    s = lqft.Map({b"a": b"1"}).snapshot()
    with pytest.raises(ValueError):
        s.save(str(tmp_path / "a\0b"))
    with pytest.raises(TypeError):
        s.save(5)  # type: ignore[arg-type]
    with pytest.raises(lqft.FileError) as info:
        lqft.inspect_file(tmp_path / "missing.json")
    assert isinstance(info.value, OSError)
    assert list(tmp_path.iterdir()) == []


def test_an_exception_class_exists_per_error_status() -> None:
    for cls, builtin in [
        (lqft.InvalidArgumentError, ValueError),
        (lqft.KeyTooLongError, ValueError),
        (lqft.ValueTooLongError, ValueError),
        (lqft.PendingChangesError, RuntimeError),
        (lqft.UnknownSnapshotError, KeyError),
        (lqft.DuplicateSnapshotError, ValueError),
        (lqft.CorruptError, ValueError),
        (lqft.FileError, OSError),
        (lqft.PolicyError, ValueError),
        (lqft.PanicError, SystemError),
        (lqft.LockedError, OSError),
        (lqft.PoisonedError, OSError),
        (lqft.LimitError, ValueError),
        (lqft.KeyNotFoundError, KeyError),
        (lqft.ClosedError, ValueError),
        (lqft.ConcurrentUseError, RuntimeError),
    ]:
        assert issubclass(cls, lqft.Error) and issubclass(cls, builtin)
    classes, todo = set(), [lqft.Error]
    while todo:
        cls = todo.pop()
        classes.add(cls)
        todo.extend(cls.__subclasses__())
    statuses = {cls.status for cls in classes if cls.status < 0}
    # Every error status a call can return (NULL arguments and short buffers are the binding's
    # own business, never the user's).
    header = (Path(__file__).resolve().parents[2] / "include" / "lqft.h").read_text()
    declared = {int(n) for n in re.findall(r"#define LQFT_ERR_\w+ (-\d+)", header)}
    assert statuses == declared - {-1, -5}, "an error status of lqft.h has no exception class"
