"""Plumbing shared by the paper-experiment drivers (``simulations/capacity/run.py``,
``simulations/universal_law/run.py``): pick a sweep spec by data set and scale, point the data loader at a
user-given directory, run the sweep resumably, and report what it did.

Data directories are passed to the workers through the loader's environment variables
(:data:`rfrobust.deep.data.ENV_VARS`), never through the spec, so moving a data set does not change the
configuration keys of a store (a re-run still finds its finished points).
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

from rfrobust.errors import InputError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCALES = ("cpu", "paper")


def add_driver_options(p, cpu_time: str, fig_default: str):
    """The options every experiment driver shares (scale, data, workers, device, figures, dry run)."""
    p.add_argument("--scale", default="cpu", help=f"cpu (default; {cpu_time} on 2 cores) | paper (GPU)")
    p.add_argument("--data-dir", default=None, help="directory of the data set's files (MNIST, CIFAR-10)")
    p.add_argument("--workers", type=int, default=2, help="worker processes, one torch thread each (default 2)")
    p.add_argument("--device", default="cpu", help="torch device of the workers: cpu (default) | cuda | auto")
    p.add_argument("--fig-dir", default=None, help=f"figure directory (default {fig_default})")
    p.add_argument("--no-figures", action="store_true", help="run the sweep(s) only")
    p.add_argument("--dry-run", action="store_true", help="show what would run; compute and write nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def save_outputs(fig, tables: dict, out_dir: str, stem: str) -> list[str]:
    """``fig`` as ``out_dir/stem.pdf|png`` (rfrobust style) and each ``tables[name]`` as ``out_dir/<name>.csv``."""
    from rfrobust import plotting

    paths = plotting.save(fig, os.path.join(out_dir, stem)) if fig is not None else []
    for name, table in tables.items():
        path = os.path.join(out_dir, name + ".csv")
        table.to_csv(path, index=False, float_format="%.6g")
        paths.append(path)
    return paths


def spec_path(directory: str, stem: str, scale: str) -> str:
    """``DIRECTORY/<stem>_<scale>.toml`` (``-`` in the stem becomes ``_``); one line when it does not exist."""
    if scale not in SCALES:
        raise InputError("scale", scale, "cpu or paper")
    path = os.path.join(directory, f"{stem.replace('-', '_')}_{scale}.toml")
    if not os.path.isfile(path):
        have = sorted(f[:-5] for f in os.listdir(directory) if f.endswith(".toml")) if os.path.isdir(directory) else []
        raise InputError.message(f"no spec {path}; available: {', '.join(have) or 'none'}")
    return path


def use_data_dir(dataset: str, data_dir: str | None) -> None:
    """Make ``dataset`` load from ``data_dir`` in this process and in the workers it starts (environment)."""
    from rfrobust.deep.data import DATASETS, ENV_VARS

    if dataset not in DATASETS:
        raise InputError("dataset", dataset, "one of " + ", ".join(DATASETS))
    if data_dir:
        if not os.path.isdir(data_dir):
            raise InputError("data-dir", data_dir, "an existing directory holding the data set's files")
        os.environ[ENV_VARS[dataset]] = os.path.abspath(data_dir)


def use_device(device: str) -> str:
    """Set the torch device of the sweep points (``$RFROBUST_DEVICE``, read by the kinds; not part of the key).

    ``auto`` becomes ``cuda`` when a CUDA device is available, else ``cpu``. Returns the device set."""
    dev = str(device).strip()
    if not (dev in ("cpu", "cuda", "auto") or (dev.startswith("cuda:") and dev[5:].isdigit())):
        raise InputError("device", device, "cpu, cuda, cuda:K or auto")
    if dev != "cpu":
        import torch

        if dev == "auto":
            dev = "cuda" if torch.cuda.is_available() else "cpu"
        elif not torch.cuda.is_available():
            raise InputError("device", device, "cpu: no CUDA device is available on this machine")
    os.environ["RFROBUST_DEVICE"] = dev
    return dev


def check_dataset(dataset: str) -> None:
    """Fail in one line now (naming the directory and how to provide it) if the data set cannot be read."""
    from rfrobust.deep.data import load_dataset

    load_dataset(dataset, "test")


def run(spec, *, workers: int = 2, output: str | None = None, dry_run: bool = False, progress: bool = True,
        log=None):
    """Run (or continue) one sweep with one point per task; returns ``(rows, info)``.

    ``info``: ``spec``, ``store``, ``todo`` (points computed by this call), ``points``, ``wall_s``,
    ``load_before`` / ``load_after`` (1-minute load averages), ``failed`` (rows not ok)."""
    from rfrobust.sweep import run_sweep
    from rfrobust.sweep.runner import make_plan, prepare

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    s, kind = prepare(spec, output=output, warn=log, check_writable=not dry_run)
    plan = make_plan(s, kind)
    todo = len(plan.todo)
    info = {"spec": s.source, "store": s.output, "points": len(plan.points), "todo": todo,
            "load_before": _load()}
    if dry_run:
        log(plan.describe())
        info.update(wall_s=0.0, load_after=_load(), failed=0)
        return plan.frame(), info
    log(f"{os.path.relpath(str(s.source), os.getcwd())}: {len(plan.points)} points, {todo} to compute "
        f"({workers} worker{'s' if workers != 1 else ''}), store {s.output}")
    t0 = time.perf_counter()
    with _sigterm_as_interrupt():
        df = run_sweep(s, workers=workers, progress=progress, batch_size=1, log=log)
    info["wall_s"] = time.perf_counter() - t0
    info["load_after"] = _load()
    info["failed"] = int((df["status"] != "ok").sum()) if not df.empty else 0
    return df, info


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (``kill PID``, batch schedulers) unwinds like Ctrl-C: the sweep runner stops its workers and keeps
    the finished rows (as ``python -m rfrobust.sweep`` does)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not available
        return None


def figure_module(name: str):
    """Import ``figures/<name>.py`` of this checkout (figure scripts are not a package)."""
    import importlib.util

    path = os.path.join(REPO, "figures", name + ".py")
    spec = importlib.util.spec_from_file_location(f"rfrobust_figures_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
