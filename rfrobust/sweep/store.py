"""The result store: a directory of Parquet part files, appended atomically, read back deduplicated.

Layout of a store ``results/name.parquet/`` (a directory, as pyarrow/Spark datasets are)::

    _spec.json                          format tag + every spec applied to the store (written atomically)
    part-<time_ns:020d>-<pid>-<hex>.parquet   one finished chunk of rows each; never modified once written
    .lock                               flock held by the one sweep process writing to the store
    .part-....parquet.<random>.tmp      a chunk being written (ignored by readers, removed by the next run)
    _quarantine/                        damaged parts set aside by a run (kept for inspection, never read)

Atomicity. A part is written to a temporary file in the store, fsynced and renamed (``os.replace``, atomic on
POSIX) into place by :func:`rfrobust.fileio.atomic_write`, then the directory is fsynced. A kill at any instant
leaves either the whole part or none of it. Compaction writes the deduplicated union of the existing parts as one
new part (same procedure), then deletes the old parts; a kill between the two leaves rows present twice ON DISK,
which :func:`read_parts` resolves: per ``(config_hash, seed)`` it keeps a ``status="ok"`` row over an ``"error"``
row, and among equals the one from the latest part (names sort by time; within a part, the last row). So a reader
never sees a duplicate row, whatever the instant of a kill.

Damaged parts. A part that cannot be read (truncated, empty, not Parquet: a disk that filled up under another
program, a copy cut short) or that lacks the key columns is *damaged*. Readers skip it with a warning naming it
(:class:`DamagedPart`); a run (which holds the lock) moves it to ``_quarantine/`` and recomputes its points, so one
bad file never makes a store unusable and nothing else is lost. Key columns are normalised per part
(``seed`` as a 64-bit integer, ``config_hash`` and ``status`` as text), so one part that stored the seed as text
cannot turn the store's seed column into text at compaction.

Failures to write (disk full, the store's directory removed or made immutable) raise
:class:`~rfrobust.errors.StorageError`: the store keeps every part written before, consistent.
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
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from rfrobust.errors import InputError, StorageError
from rfrobust.fileio import atomic_write, fsync_dir
from rfrobust.provenance import timestamp
from rfrobust.sweep.kinds import KEY_COLUMNS, PROVENANCE_COLUMNS, fold_legacy_columns

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

STORE_FORMAT = "rfrobust-sweep-store-1"
SPEC_FILE = "_spec.json"
LOCK_FILE = ".lock"
QUARANTINE_DIR = "_quarantine"
_PART_RE = re.compile(r"^part-(\d{20})-\d+-[0-9a-f]+\.parquet$")
_OWN_FILE_RE = re.compile(
    r"^(part-.*\.parquet(\.tmp)?|_spec\.json(\.tmp)?|\.lock|_quarantine"
    r"|\.(part-.*\.parquet|_spec\.json)\..*\.tmp)$"
)
KEY = ["config_hash", "seed"]


class DamagedPart(UserWarning):
    """A part file of a store could not be read; its rows are ignored (a run quarantines it and recomputes them)."""


# ------------------------------------------------------------------------------------------------ file plumbing
def check_output(path: str) -> None:
    """Raise a one-line :class:`InputError` unless ``path`` can be (or already is) a sweep store. Writes nothing."""
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise InputError.message(f"output {path} exists and is not a sweep store directory")
        foreign = [n for n in os.listdir(path) if not _OWN_FILE_RE.match(n)]
        if foreign:
            raise InputError.message(
                f"output {path} is a directory that is not a sweep store (it holds {foreign[0]!r})"
            )
        target = path
    else:
        target = os.path.dirname(path)
        while target and not os.path.exists(target):
            target = os.path.dirname(target)
        target = target or "."
        if not os.path.isdir(target):
            raise InputError.message(
                f"output directory {os.path.dirname(path)} is not writable: {target} is not a directory"
            )
    if not os.access(target, os.W_OK | os.X_OK):
        raise InputError.message(f"output directory {target} is not writable")
    try:  # the real test (root ignores permission bits; read-only file systems and immutable directories do not)
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


def deduplicate(df: pd.DataFrame) -> pd.DataFrame:
    """One row per ``(config_hash, seed)``: ``ok`` beats ``error``; then the later row (input order) wins."""
    if df.empty:
        return df.reset_index(drop=True)
    import numpy as np

    ok = (df["status"] == "ok").to_numpy()
    order = np.lexsort((np.arange(len(df)), ok))  # primary: error before ok; secondary: input order
    df = df.iloc[order].drop_duplicates(KEY, keep="last")
    return df.sort_values(KEY, kind="stable").reset_index(drop=True)


class _Damaged(Exception):
    """Internal: why a part cannot be used (one line)."""


def _normalise_keys(table, path: str):
    """The part's table with ``seed`` as int64 and ``config_hash`` / ``status`` as text; raises :class:`_Damaged`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = [c for c in ("config_hash", "seed", "status") if c not in table.column_names]
    if missing:
        raise _Damaged(f"no {missing[0]} column")
    for name, target in (("config_hash", pa.string()), ("status", pa.string()), ("seed", pa.int64())):
        col = table.column(name)
        if col.type == target:
            continue
        try:
            if name == "seed" and pa.types.is_floating(col.type):
                if not pc.all(pc.equal(pc.floor(col), col)).as_py():
                    raise _Damaged("non-integer seeds")
            if name == "seed" and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
                col = pc.utf8_trim_whitespace(col)
            new = pc.cast(col, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise _Damaged(f"its {name} column ({col.type}) cannot be read as {target}") from None
        table = table.set_column(table.column_names.index(name), name, new)
    if table.column("seed").null_count or table.column("config_hash").null_count:
        raise _Damaged("a row without config_hash or seed")
    return table


def read_part(path: str) -> pa.Table:
    """One part as a pyarrow Table with normalised key columns. Raises :class:`_Damaged` (unreadable or without
    the key columns) and FileNotFoundError (removed meanwhile, e.g. by a concurrent compaction)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError, ValueError) as err:
        size = os.path.getsize(path) if os.path.exists(path) else 0
        reason = "empty file" if size == 0 else str(err).splitlines()[0] if str(err) else type(err).__name__
        raise _Damaged(f"unreadable ({reason})") from None
    return _normalise_keys(table, path)


def _warn_damaged(path: str, reason: str) -> None:
    warnings.warn(
        DamagedPart(
            f"store part {path} is damaged ({reason}): its rows are ignored; the next run of "
            "the sweep sets it aside and recomputes its points"
        ),
        stacklevel=3,
    )


def _read_tables(files: Iterable[str], on_damaged: Callable[[str, str], None] | None = None) -> tuple[list, list]:
    """``(tables, paths)`` of the readable parts among ``files``; damaged ones go to ``on_damaged(path, reason)``."""
    on_damaged = on_damaged or _warn_damaged
    tables, paths = [], []
    for f in files:
        try:
            tables.append(read_part(f))
            paths.append(f)
        except _Damaged as why:
            on_damaged(f, str(why))
    return tables, paths


def _frame(tables: list):
    import pandas as pd
    import pyarrow as pa

    if not tables:
        return pd.DataFrame(columns=list(KEY_COLUMNS))
    try:
        df = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # incompatible column types between parts
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            df = pd.concat([t.to_pandas() for t in tables], ignore_index=True, sort=False)
    return _order_columns(deduplicate(fold_legacy_columns(df)))  # legacy result_* duplicates: kinds.py


def read_parts(files: Iterable[str], on_damaged: Callable[[str, str], None] | None = None) -> pd.DataFrame:
    """Read part files (in the given order) into one deduplicated DataFrame.

    A damaged part is skipped and reported through ``on_damaged(path, reason)`` (default: a :class:`DamagedPart`
    warning)."""
    return _frame(_read_tables(files, on_damaged)[0])


# --------------------------------------------------------------------------------------------------- the store
class Store:
    """A sweep store directory (see the module docstring)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self._last_ns = 0

    # -- reading -------------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def part_files(self) -> list[str]:
        if not self.exists():
            return []
        try:
            names = sorted(n for n in os.listdir(self.path) if _PART_RE.match(n))
        except FileNotFoundError:  # removed meanwhile
            return []
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

    def damaged_parts(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of every part that cannot be read (see the module docstring)."""
        out = []
        for f in self.part_files():
            try:
                read_part(f)
            except _Damaged as why:
                out.append((f, str(why)))
            except FileNotFoundError:
                pass
        return out

    def read(self, on_damaged: Callable[[str, str], None] | None = None) -> pd.DataFrame:
        """The deduplicated table; damaged parts are skipped and reported (``on_damaged(path, reason)``, default a
        :class:`DamagedPart` warning). A concurrent compaction may delete parts while we read: list again."""
        for attempt in range(10):
            try:
                return read_parts(self.part_files(), on_damaged)
            except FileNotFoundError:
                time.sleep(0.05 * (attempt + 1))
        return read_parts(self.part_files(), on_damaged)

    # -- writing (the caller holds :meth:`lock`) -------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock for writing; a second sweep on the same store fails with a one-line message."""
        try:
            os.makedirs(self.path, exist_ok=True)
            fh = open(os.path.join(self.path, LOCK_FILE), "a+")
        except OSError as err:
            raise StorageError(self.path, err) from None
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

    def quarantine(self, damaged: Iterable[tuple[str, str]], log: Callable[[str], None] | None = None) -> list[str]:
        """Move damaged parts to ``_quarantine/`` (kept, never read again); returns their new paths."""
        moved = []
        for path, reason in damaged:
            qdir = os.path.join(self.path, QUARANTINE_DIR)
            dest = os.path.join(qdir, os.path.basename(path))
            try:
                os.makedirs(qdir, exist_ok=True)
                os.replace(path, dest)
            except FileNotFoundError:
                continue
            except OSError as err:
                raise StorageError(path, err) from None
            moved.append(dest)
            if log is not None:
                log(
                    f"store part {os.path.basename(path)} is damaged ({reason}): moved to "
                    f"{os.path.join(QUARANTINE_DIR, os.path.basename(path))}; its points are computed again"
                )
        if moved:
            fsync_dir(self.path)
        return moved

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
            match = _PART_RE.match(os.path.basename(f))  # part_files lists matching names only
            newest = int(match.group(1)) if match else 0
        ns = max(time.time_ns(), self._last_ns + 1, newest + 1)
        self._last_ns = ns
        return os.path.join(self.path, f"part-{ns:020d}-{os.getpid()}-{secrets.token_hex(4)}.parquet")

    def append(self, rows: list[dict]) -> str | None:
        """Write ``rows`` as one new part file, atomically. Returns its path. Raises StorageError."""
        if not rows:
            return None
        import pandas as pd
        import pyarrow.parquet as pq

        table = _to_arrow(pd.DataFrame(rows))
        path = self._part_name()
        atomic_write(path, lambda fh: pq.write_table(table, fh))
        return path

    def compact(self) -> int:
        """Merge all readable parts into one (deduplicated) part; returns the number of parts removed.

        Damaged parts are left alone (a run quarantines them first). Raises StorageError when the merged part
        cannot be written; the store is then as it was."""
        import pyarrow.parquet as pq

        files = self.part_files()
        if len(files) <= 1:
            return 0
        tables, readable = _read_tables(files, on_damaged=lambda path, reason: None)
        if len(readable) <= 1:
            return 0
        table = _to_arrow(_frame(tables))
        atomic_write(self._part_name(), lambda fh: pq.write_table(table, fh))
        for f in readable:  # a kill in this loop leaves duplicates on disk that readers resolve (module docstring)
            with contextlib.suppress(FileNotFoundError):
                os.remove(f)
        fsync_dir(self.path)
        return len(readable)


def compact(path: str) -> int:
    """Compact the store at ``path`` (takes the store's lock). Returns the number of parts merged."""
    store = Store(path)
    if not store.exists():
        raise InputError.message(f"store {path}: no such sweep store")
    with store.lock():
        return store.compact()


def load(path: str | os.PathLike) -> pd.DataFrame:
    """The deduplicated result table as a pandas DataFrame, sorted by ``(config_hash, seed)``.

    ``path`` is a store directory, a single Parquet file, or a sweep spec (``.toml``): then the rows of that
    spec's points only, from the store its ``output`` names, in grid order. Damaged parts are skipped with a
    :class:`DamagedPart` warning naming them.
    """
    path = os.fspath(path)
    if path.endswith(".toml") and os.path.isfile(path):
        from rfrobust.sweep.runner import load_for_spec

        return load_for_spec(path)
    if os.path.isfile(path):
        try:
            return _frame([read_part(path)])
        except _Damaged as why:
            raise InputError.message(f"{path}: not a readable result table ({why})") from None
    if not os.path.isdir(path):
        raise InputError.message(f"store {path}: no such sweep store")
    return Store(path).read()
