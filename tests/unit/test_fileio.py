"""rfrobust.fileio: up-front output checks and atomic writes that only ever replace regular files."""

import os
import stat

import pytest

from rfrobust.errors import InputError, StorageError
from rfrobust.fileio import atomic_write, atomic_write_text, check_output_dir, check_output_file


def test_atomic_write_text_mode_and_no_leftover(tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "r.json"
        atomic_write_text(out, "{}\n")
    finally:
        os.umask(old)
    assert out.read_text() == "{}\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["r.json"]


def test_atomic_write_replaces_regular_file(tmp_path):
    out = tmp_path / "r.txt"
    out.write_text("old")
    atomic_write_text(out, "new")
    assert out.read_text() == "new"


def test_atomic_write_follows_symlink(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_refuses_special_file_and_directory(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="regular file"):
        atomic_write_text(fifo, "x")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(InputError, match="regular file"):
        check_output_file(fifo)
    with pytest.raises(InputError, match="not a directory"):
        check_output_file(tmp_path)
    with pytest.raises(InputError, match="not a directory"):
        atomic_write_text(tmp_path, "x")
    assert os.listdir(tmp_path) == ["pipe"]


def test_dev_full_is_not_replaced():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with pytest.raises(InputError):
        check_output_file("/dev/full")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_failed_write_leaves_target_and_no_temp(tmp_path):
    out = tmp_path / "r.bin"
    out.write_bytes(b"keep")

    def boom(fh):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(StorageError, match="No space left on device"):
        atomic_write(out, boom)
    assert out.read_bytes() == b"keep"
    assert os.listdir(tmp_path) == ["r.bin"]


def test_interrupt_leaves_no_temp(tmp_path):
    def interrupted(fh):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "x", interrupted)
    assert os.listdir(tmp_path) == []


def test_check_output_file_messages(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        check_output_file(tmp_path / "missing" / "x.json")
    with pytest.raises(InputError, match=r"\.json, \.csv"):
        check_output_file(tmp_path / "x.xlsx", extensions=(".json", ".csv"))
    assert check_output_file(tmp_path / "x.CSV", extensions=(".json", ".csv")).endswith("x.CSV")
    assert not os.listdir(tmp_path)


def test_check_output_dir(tmp_path):
    f = tmp_path / "f"
    f.write_text("")
    with pytest.raises(InputError, match="this is a file"):
        check_output_dir(f)
    with pytest.raises(InputError, match="can be created"):
        check_output_dir(f / "sub")
    d = check_output_dir(tmp_path / "a" / "b", create=True)
    assert os.path.isdir(d)
