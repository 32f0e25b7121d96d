"""Atomic writes: all or nothing, ordinary file modes."""

from __future__ import annotations

import os

import pytest

from languagebind.utils.io import atomic_write, write_json_atomic


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as handle:
        handle.write("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_written_file_has_the_umask_mode(tmp_path):
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~mask
