"""The result store: a directory of Parquet part files, appended atomically, read back deduplicated.

Layout of a store ``results/name.parquet/`` (a directory, as pyarrow/Spark datasets are)::

    _spec.json                          format tag + every spec applied to the store (written atomically)
    part-<time_ns:020d>-<pid>-<hex>.parquet   one finished chunk of rows each; never modified once written
    .lock                               flock held by the one sweep process writing to the store
    part-....parquet.tmp                a chunk being written (ignored by readers, removed by the next run)

Atomicity. A part is written to ``*.tmp``, fsynced and renamed (``os.replace``, atomic on POSIX) into place, then
the directory is fsynced. A kill at any instant leaves either the whole part or none of it. Compaction writes the
deduplicated union of the existing parts as one new part (same procedure), then deletes the old parts; a kill
between the two leaves rows present twice ON DISK, which :func:`read_table` resolves: per ``(config_hash, seed)``
it keeps a ``status="ok"`` row over an ``"error"`` row, and among equals the one from the latest part (names sort
by time; within a part, the last row). So a reader never sees a duplicate row, whatever the instant of a kill.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
import time
import warnings
from typing import Iterable, Iterator

from rfrobust.errors import InputError
from rfrobust.provenance import timestamp
from rfrobust.sweep.kinds import KEY_COLUMNS, PROVENANCE_COLUMNS, fold_legacy_columns

STORE_FORMAT = "rfrobust-sweep-store-1"
SPEC_FILE = "_spec.json"
LOCK_FILE = ".lock"
_PART_RE = re.compile(r"^part-(\d{20})-\d+-[0-9a-f]+\.parquet$")
_OWN_FILE_RE = re.compile(r"^(part-.*\.parquet(\.tmp)?|_spec\.json(\.tmp)?|\.lock)$")
KEY = ["config_hash", "seed"]


# ------------------------------------------------------------------------------------------------ file plumbing
def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, write) -> None:
    """Write ``path`` via ``write(fileobj)`` on ``path + '.tmp'``, fsync, then ``os.replace`` into place."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_dir(os.path.dirname(path) or ".")


def check_output(path: str) -> None:
    """Raise a one-line :class:`InputError` unless ``path`` can be (or already is) a sweep store. Writes nothing."""
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise InputError.message(f"output {path} exists and is not a sweep store directory")
        foreign = [n for n in os.listdir(path) if not _OWN_FILE_RE.match(n)]
        if foreign:
            raise InputError.message(f"output {path} is a directory that is not a sweep store "
                                     f"(it holds {foreign[0]!r})")
        target = path
    else:
        target = os.path.dirname(path)
        while target and not os.path.exists(target):
            target = os.path.dirname(target)
        target = target or "."
        if not os.path.isdir(target):
            raise InputError.message(f"output directory {os.path.dirname(path)} is not writable: {target} is "
                                     "not a directory")
    if not os.access(target, os.W_OK | os.X_OK):
        raise InputError.message(f"output directory {target} is not writable")
    try:  # the real test (root ignores permission bits; read-only file systems do not)
        with tempfile.TemporaryFile(dir=target):
            pass
    except OSError as err:
        raise InputError.message(f"output directory {target} is not writable: {err.strerror}") from None


# -------------------------------------------------------------------------------------------------- the tables
def _to_arrow(df):
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        df = df.copy()
        for col in df.columns:  # a column whose values mix types is stored as text
            if df[col].dtype == object:
                try:
                    pa.array(df[col])
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    df[col] = [None if v is None else str(v) for v in df[col]]
        return pa.Table.from_pandas(df, preserve_index=False)


def _order_columns(df):
    first = [c for c in KEY_COLUMNS if c in df.columns]
    last = [c for c in PROVENANCE_COLUMNS if c in df.columns]
    middle = [c for c in df.columns if c not in first and c not in last]
    return df[first + middle + last]


def deduplicate(df):
    """One row per ``(config_hash, seed)``: ``ok`` beats ``error``; then the later row (input order) wins."""
    if df.empty:
        return df.reset_index(drop=True)
    import numpy as np

    ok = (df["status"] == "ok").to_numpy()
    order = np.lexsort((np.arange(len(df)), ok))  # primary: error before ok; secondary: input order
    df = df.iloc[order].drop_duplicates(KEY, keep="last")
    return df.sort_values(KEY, kind="stable").reset_index(drop=True)


def read_parts(files: Iterable[str]):
    """Read part files (in the given order) into one deduplicated DataFrame."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(f) for f in files]
    if not tables:
        return pd.DataFrame(columns=list(KEY_COLUMNS))
    try:
        df = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # incompatible column types between parts
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            df = pd.concat([t.to_pandas() for t in tables], ignore_index=True, sort=False)
    return _order_columns(deduplicate(fold_legacy_columns(df)))  # legacy result_* duplicates: kinds.py


# --------------------------------------------------------------------------------------------------- the store
class Store:
    """A sweep store directory (see the module docstring)."""

    def __init__(self, path: str):
        self.path = os.path.abspath(os.fspath(path))
        self._last_ns = 0

    # -- reading -------------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def part_files(self) -> list[str]:
        if not self.exists():
            return []
        names = sorted(n for n in os.listdir(self.path) if _PART_RE.match(n))
        return [os.path.join(self.path, n) for n in names]

    def specs(self) -> list[dict]:
        """The spec records applied to this store (oldest first); [] for a new store."""
        try:
            with open(os.path.join(self.path, SPEC_FILE)) as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as err:
            raise InputError.message(f"store {self.path}: unreadable {SPEC_FILE}: {err}") from None
        if not isinstance(data, dict) or data.get("format") != STORE_FORMAT:
            raise InputError.message(f"store {self.path}: {SPEC_FILE} is not a {STORE_FORMAT} file")
        return list(data.get("specs", []))

    def read(self):
        """The deduplicated table (a concurrent compaction may delete parts while we read: list again)."""
        for attempt in range(10):
            try:
                return read_parts(self.part_files())
            except FileNotFoundError:
                time.sleep(0.05 * (attempt + 1))
        return read_parts(self.part_files())

    # -- writing (the caller holds :meth:`lock`) -------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock for writing; a second sweep on the same store fails with a one-line message."""
        os.makedirs(self.path, exist_ok=True)
        fh = open(os.path.join(self.path, LOCK_FILE), "a+")
        try:
            try:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # pragma: no cover - non-POSIX: no locking
                pass
            except OSError:
                raise InputError.message(f"store {self.path} is being written by another sweep process") from None
            yield
        finally:
            fh.close()

    def remove_temporaries(self) -> None:
        for name in os.listdir(self.path):
            if name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self.path, name))

    def add_spec(self, record: dict) -> None:
        """Append a spec record to ``_spec.json`` (atomically) unless one with the same hash is there."""
        specs = self.specs()
        if any(s.get("spec_hash") == record["spec_hash"] for s in specs):
            return
        specs.append({**record, "added": timestamp()})
        text = json.dumps({"format": STORE_FORMAT, "specs": specs}, indent=1, sort_keys=True)
        atomic_write(os.path.join(self.path, SPEC_FILE), lambda fh: fh.write(text.encode()))

    def _part_name(self) -> str:
        newest = 0
        for f in self.part_files()[-1:]:
            newest = int(_PART_RE.match(os.path.basename(f)).group(1))
        ns = max(time.time_ns(), self._last_ns + 1, newest + 1)
        self._last_ns = ns
        return os.path.join(self.path, f"part-{ns:020d}-{os.getpid()}-{secrets.token_hex(4)}.parquet")

    def append(self, rows: list[dict]) -> str | None:
        """Write ``rows`` as one new part file, atomically. Returns its path."""
        if not rows:
            return None
        import pandas as pd
        import pyarrow.parquet as pq

        table = _to_arrow(pd.DataFrame(rows))
        path = self._part_name()
        atomic_write(path, lambda fh: pq.write_table(table, fh))
        return path

    def compact(self) -> int:
        """Merge all parts into one (deduplicated) part; returns the number of parts removed."""
        import pyarrow.parquet as pq

        files = self.part_files()
        if len(files) <= 1:
            return 0
        table = _to_arrow(read_parts(files))
        atomic_write(self._part_name(), lambda fh: pq.write_table(table, fh))
        for f in files:  # a kill in this loop leaves duplicates on disk that readers resolve (module docstring)
            with contextlib.suppress(FileNotFoundError):
                os.remove(f)
        _fsync_dir(self.path)
        return len(files)


def compact(path: str) -> int:
    """Compact the store at ``path`` (takes the store's lock). Returns the number of parts merged."""
    store = Store(path)
    if not store.exists():
        raise InputError.message(f"store {path}: no such sweep store")
    with store.lock():
        return store.compact()


def load(path: str | os.PathLike):
    """The deduplicated result table as a pandas DataFrame, sorted by ``(config_hash, seed)``.

    ``path`` is a store directory, a single Parquet file, or a sweep spec (``.toml``): then the rows of that
    spec's points only, from the store its ``output`` names, in grid order.
    """
    path = os.fspath(path)
    if path.endswith(".toml") and os.path.isfile(path):
        from rfrobust.sweep.runner import load_for_spec

        return load_for_spec(path)
    if os.path.isfile(path):
        return read_parts([path])
    if not os.path.isdir(path):
        raise InputError.message(f"store {path}: no such sweep store")
    return Store(path).read()
