"""Safe output files: checked before any work, written atomically, never replacing what is not a regular file.

Every command of rfrobust that writes a result goes through this module:

* :func:`check_output_file` -- run *before* any long computation. The parent directory must exist and be
  writable, the path must not be a directory or a special file (device, FIFO, socket), and its extension must be
  one the caller can write. Bad paths raise :class:`~rfrobust.errors.InputError` (one line, exit status 2).
* :func:`atomic_write` / :func:`atomic_write_text` / :func:`atomic_write_bytes` -- write to a temporary file in
  the same directory, ``fsync``, then ``os.replace`` it over the target. A symbolic link is followed (the file it
  points to is replaced, the link is kept); a special file is refused, never replaced. The temporary file is
  removed on every failure (including Ctrl-C) and the result gets the usual mode (``0666 & ~umask``, i.e. 0644
  under umask 022). A write that fails (disk full, directory removed, read-only file system) raises
  :class:`~rfrobust.errors.StorageError`: one line naming the path and the reason.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from typing import IO

from rfrobust.errors import InputError, StorageError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _resolve(path: str) -> str:
    """The file a write to ``path`` lands in: symbolic links are followed."""
    return os.path.realpath(path) if os.path.islink(path) else path


def check_output_file(path: str | os.PathLike, param: str = "out", *, extensions: Iterable[str] | None = None) -> str:
    """Return ``path`` as a string if a result can be written there; raise a one-line InputError otherwise.

    ``extensions`` (e.g. ``(".json", ".csv")``) lists the suffixes the caller knows how to write; a path with
    another suffix is refused and the allowed ones are named. Nothing is written or created.
    """
    text = os.fspath(path)
    if not text or not text.strip():
        raise InputError(param, text, "a file path")
    if extensions is not None:
        allowed = tuple(e.lower() for e in extensions)
        if not text.lower().endswith(allowed):
            raise InputError(param, text, "a file ending in " + ", ".join(allowed))
    target = _resolve(text)
    if os.path.isdir(target):
        raise InputError(param, text, "a file path, not a directory")
    if os.path.lexists(target):
        try:
            mode = os.stat(target).st_mode
        except OSError:  # a dangling link: its target will be created
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            raise InputError(param, text, "a regular file (this is a device, FIFO or socket)")
    parent = os.path.dirname(os.path.abspath(target)) or "."
    if not os.path.isdir(parent):
        raise InputError(param, text, f"a file in an existing directory ({parent} does not exist)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(param, text, f"a file in a writable directory ({parent} is not writable)")
    return text


def check_output_dir(path: str | os.PathLike, param: str = "out", *, create: bool = False) -> str:
    """Return ``path`` if results can be written into this directory (created when ``create``); one-line error
    otherwise. The parent must exist and be writable when the directory does not exist yet."""
    text = os.fspath(path)
    if not text or not text.strip():
        raise InputError(param, text, "a directory path")
    if os.path.exists(text):
        if not os.path.isdir(text):
            raise InputError(param, text, "a directory (this is a file)")
        if not os.access(text, os.W_OK | os.X_OK):
            raise InputError(param, text, "a writable directory")
        return text
    parent = os.path.dirname(os.path.abspath(text)) or "."
    probe = parent
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(param, text, f"a directory that can be created ({probe} is not a writable directory)")
    if create:
        try:
            os.makedirs(text, exist_ok=True)
        except OSError as err:
            raise InputError(param, text, f"a directory that can be created ({err.strerror})") from None
    return text


def fsync_dir(directory: str) -> None:
    """Flush a directory's entries (a rename or removal in it) to disk; best effort, never raises."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_fsync_dir = fsync_dir


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> str:
    """Write ``path`` through ``write(binary_file)`` atomically; return the path written (links followed).

    Raises :class:`InputError` if ``path`` is a directory or a special file (nothing is touched) and
    :class:`StorageError` if the write itself fails (the target is left as it was, no temporary file remains).
    """
    text = os.fspath(path)
    target = _resolve(text)
    if os.path.isdir(target):
        raise InputError("out", text, "a file path, not a directory")
    if os.path.lexists(target):
        with contextlib.suppress(OSError):
            if not stat.S_ISREG(os.stat(target).st_mode):
                raise InputError("out", text, "a regular file (this is a device, FIFO or socket)")
    directory = os.path.dirname(os.path.abspath(target)) or "."
    base = os.path.basename(target)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{base}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
        tmp = None
    except OSError as err:
        raise StorageError(text, err) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)
    fsync_dir(directory)
    return target


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> str:
    """:func:`atomic_write` of a byte string."""
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> str:
    """:func:`atomic_write` of a text (UTF-8 by default)."""
    data = text.encode(encoding)
    return atomic_write(path, lambda fh: fh.write(data))
