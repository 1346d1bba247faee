"""Atomic writes: a reader sees the old file or the new one, never half of one, and a failed write leaves nothing."""

import os
import stat

import pytest

from daedalus.files import atomic_write


def test_atomic_write_replaces_the_file_and_leaves_no_temporary_behind(tmp_path):
    path = tmp_path / "level.txt"
    path.write_bytes(b"old")
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["level.txt"]


def test_atomic_write_gives_the_permissions_a_plain_open_would(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    atomic_write(tmp_path / "atomic", b"x")  # mkstemp alone would leave 0600
    mode = stat.S_IMODE(os.stat(tmp_path / "atomic").st_mode)
    assert mode == stat.S_IMODE(os.stat(plain).st_mode)


def test_atomic_write_leaves_nothing_when_the_folder_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_write(tmp_path / "missing" / "x.png", b"data")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_names_the_file_when_the_folder_refuses_it():
    with pytest.raises(OSError, match="cannot write '/proc/level.png': folder '/proc' is not writable"):
        atomic_write("/proc/level.png", b"data")


def test_a_failed_write_removes_its_temporary_file(tmp_path):
    with pytest.raises(TypeError):
        atomic_write(tmp_path / "x.bin", object())  # not bytes: the write fails after the temporary file exists
    assert list(tmp_path.iterdir()) == []
