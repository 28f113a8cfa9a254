"""The GPU check suite: every CUDA path of rfrobust run once on one GPU, with the figures for benchmarks/RESULTS.md.

Run it through ``benchmarks/gpu_suite.sh`` (which sets ``PYTHONPATH`` to the checkout and picks ``python3``):

    bash benchmarks/gpu_suite.sh                     # on the CUDA machine; results under $OUT or ./gpu_out
    GPU_SUITE_DRY=1 bash benchmarks/gpu_suite.sh     # dry run on a CPU: the plumbing, tiny sizes, no GPU figures
    bash benchmarks/gpu_suite.sh --prepare           # copy Fashion-MNIST into .gpu_data/fashion-mnist (ignored)

Steps, in order (each with its own time limit; the suite continues past a failed step):

* ``env``         -- GPU, driver, torch / CUDA / cupy versions, which optional packages are absent;
* ``pytest``      -- ``python3 -m pytest -m gpu``: numpy vs torch-CUDA vs cupy on the same seed (1e-8, float64),
                     the solvers on each backend and dtype, deep training with channels-last and bfloat16 AMP;
* ``simulate``    -- ``python -m rfrobust.simulate --psi 0.5 --eps 0.1`` with numpy, torch on cuda and cupy;
                     every per-seed metric must agree with numpy's to 1e-8;
* ``bench_torch`` -- ``benchmarks/rf_solver_bench.py --backend torch --device cuda``: d = 200 (ours vs one ridge
                     solve on the device) and the scale points d = 4000, psi1 in {0.5, 2, 10}, psi2 = 2 (solver vs
                     ridge, one full simulation seed), float64 and float32;
* ``bench_cupy``  -- the same with ``--backend cupy``;
* ``at_bench``    -- ``benchmarks/at_bench.py`` on cuda, channels-last: AT step / ((K+1) standard steps) for
                     nettest-1-1 and WRN-16-4 on 1x28x28 inputs, float32 and bfloat16 AMP;
* ``epoch``       -- one epoch of PGD-AT (eps 0.1, 10 steps) of WRN-16-4 on Fashion-MNIST with AMP and channels-last.

Outputs (few files, so that they all come back from a remote machine): ``summary.txt`` (the table printed at the
end: each step ok / failed / skipped, its time and its key figures), ``results.json`` (every step's status, time,
figures and the raw JSON of each tool, rewritten after each step) and ``suite.log`` (everything the commands
printed). The exit status is 0 when every selected step is ok, 1 otherwise.

Environment: ``OUT`` (output folder, default ``./gpu_out``), ``GPU_SUITE_DRY=1`` (dry run),
``GPU_SUITE_STEPS=a,b`` (run these steps, in this order; the others are listed as not selected),
``GPU_SUITE_BUDGET`` (seconds for the whole suite, default 450: a step never gets more than what is left),
``GPU_SUITE_TIMEOUT_<STEP>`` (seconds for one step, e.g. ``GPU_SUITE_TIMEOUT_PYTEST=300``),
``GPU_SUITE_DATA`` (the Fashion-MNIST folder, default ``.gpu_data/fashion-mnist``).

The dry run replaces each GPU command by a tiny CPU run of the same entry point with the same options (the device
and the sizes changed), or, where no CPU variant exists (cupy), checks that the command's options exist; the
``pytest`` step collects the ``gpu`` tests with cvxpy, Clarabel, Dask, pyautoattack, ART and mkdocs made
unimportable, as on the GPU machine, and fails on any collection error.
"""

from __future__ import annotations

import argparse
import codecs
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

from rfrobust.signals import sigterm_as_interrupt

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(".gpu_data", "fashion-mnist")
SYSTEM_DATA = "/usr/share/datasets/fashion-mnist"
IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
#: test and optional dependencies the GPU machine does not have (the dry run makes them unimportable)
ABSENT_ON_DEVICE = ("cvxpy", "clarabel", "dask", "distributed", "pyautoattack", "autoattack", "art", "mkdocs")
SIM_TOL = 1e-8
DEFAULT_BUDGET = 450.0

SIMULATE = ["-m", "rfrobust.simulate", "--psi", "0.5", "--eps", "0.1"]
SOLVER_BENCH = [
    "benchmarks/rf_solver_bench.py",
    "--dtype",
    "float64,float32",
    "--skip-scale",
    "--instances",
    "3",
    "--reps",
    "10",
]
AT_BENCH = ["benchmarks/at_bench.py", "--device", "cuda", "--channels-last", "--repeats", "10"]
AT_MODELS = ("nettest-1-1", "wrn-16-4")


# ------------------------------------------------------------------------------------------------ running commands
@dataclass
class Outcome:
    """What one step reports: ``status`` (ok | failed | skipped), key figures (one line), details for results.json."""

    status: str
    figures: str = ""
    data: dict = field(default_factory=dict)


class StepFailed(Exception):
    """Raised inside a step: the step is failed with this message as its key figures."""


class Suite:
    """Runs commands with the step's time limit, logs their output, keeps the step results."""

    def __init__(self, out: str, dry: bool, budget: float, data_dir: str):
        self.out, self.dry, self.data_dir = out, dry, data_dir
        self.py = sys.executable
        self.raw = tempfile.mkdtemp(prefix="gpu_suite_")
        self.t0 = time.monotonic()
        self.deadline = self.t0 + budget
        self.budget = budget
        self.step_deadline, self.step_limit = self.deadline, budget
        self.log = open(os.path.join(out, "suite.log"), "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.results: dict[str, dict] = {}
        self.executed: dict[str, set[str]] = {}  # entry point -> options accepted in a dry CPU run

    def close(self) -> None:
        self.log.close()
        shutil.rmtree(self.raw, ignore_errors=True)

    def echo(self, text: str) -> None:
        print(text, flush=True)
        self.log.write(text + "\n")
        self.log.flush()

    def path(self, name: str) -> str:
        return os.path.join(self.raw, name)

    def run(
        self, args: list[str], *, python: bool = True, check: bool = True, quiet: bool = False
    ) -> tuple[int, float, str]:
        """Run ``python args`` (or ``args``) in the repository root within the step's time left; the output goes to
        the log and the terminal (to the log only when ``quiet``). Returns (exit status, seconds, output). A command
        past the time limit is ended with its whole process group (SIGTERM, then SIGKILL) and raises
        :class:`StepFailed`, as a failing command does when ``check``."""
        argv = [self.py, *args] if python else list(args)
        left = self.step_deadline - time.monotonic()
        shown = ["python3", *args] if python else argv
        if python and args[0] == "-c":  # an inline script: its first line stands for it
            shown = ["python3", "-c", f"'{args[1].strip().splitlines()[0]} ...'", *args[2:]]
        self.echo("$ " + " ".join(_quote(a) if not a.startswith("'") else a for a in shown))
        if left <= 0:
            raise StepFailed("no time left for: " + " ".join(args[:3]))
        t = time.monotonic()
        # its own process group (to end it with its children), in the suite's session (so that whoever ends the
        # suite's session ends the command too)
        proc = subprocess.Popen(
            argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0, process_group=0
        )
        chunks: list[str] = []
        reader = threading.Thread(target=self._copy_output, args=(proc, chunks, quiet), daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            timed_out = True
            _end_group(proc)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM to the suite: end the command, then report what was done
            _end_group(proc)
            raise
        reader.join(timeout=10)  # the pipe closes when the command's process group is gone
        rc = proc.wait()
        secs = time.monotonic() - t
        text = "".join(chunks)
        if timed_out:
            self.echo(f"[step limit of {self.step_limit:.3g} s reached: the command and its children were ended]")
            raise StepFailed(f"timed out at the step limit of {self.step_limit:.3g} s: {' '.join(args[:3])}")
        if check and rc != 0:
            raise StepFailed(f"exit status {rc}: {' '.join(args[:3])} ({_last_line(text)})")
        return rc, secs, text

    def _copy_output(self, proc: subprocess.Popen, chunks: list[str], quiet: bool) -> None:
        """Copy the command's output, as it comes, to ``chunks``, the log and (unless ``quiet``) the terminal."""
        assert proc.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        fd = proc.stdout.fileno()
        while True:
            block = os.read(fd, 65536)
            piece = decoder.decode(block, final=not block)
            if piece:
                chunks.append(piece)
                self.log.write(piece)
                self.log.flush()
                if not quiet:
                    sys.stdout.write(piece)
                    sys.stdout.flush()
            if not block:
                return

    def check_options(self, entry: str, real: list[str], executed: list[str] | None = None) -> str:
        """Dry run: record ``executed`` (a CPU variant that ran, so argparse accepted its options) and check that
        every option of the ``real`` command exists: accepted in some CPU run of the same entry point, else named by
        its ``--help``. Returns a note for the step."""
        if executed is not None:
            self.executed.setdefault(entry, set()).update(_options(executed))
            return ""
        self.echo("would run: python3 " + " ".join(_quote(a) for a in real))
        missing = sorted(_options(real) - self.executed.get(entry, set()))
        if missing:
            _, _, help_text = self.run([*_entry_args(real), "--help"], quiet=True)
            unknown = [opt for opt in missing if not re.search(re.escape(opt) + r"\b", help_text)]
            if unknown:
                raise StepFailed(f"{entry} has no option {', '.join(unknown)}")
        return "options checked"

    def save(self) -> None:
        _write_json(
            os.path.join(self.out, "results.json"),
            {
                "dry": self.dry,
                "budget_s": self.budget,
                "elapsed_s": time.monotonic() - self.t0,
                "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                "steps": self.results,
            },
        )


def _end_group(proc: subprocess.Popen) -> None:
    """End the command and everything it started (its own process group), politely first."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w@%+=:,./-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def _options(args: list[str]) -> set[str]:
    return {a.split("=")[0] for a in args if a.startswith("--")}


def _entry_args(args: list[str]) -> list[str]:
    return args[:2] if args[0] == "-m" else args[:1]


def _write_json(path: str, obj: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, default=str)
    os.replace(tmp, path)


def _read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


# ------------------------------------------------------------------------------------------------ steps
ENV_SCRIPT = r"""
# the versions, the GPU and which packages are absent
import importlib.metadata as md, importlib.util, json, platform, sys
dry = sys.argv[1] == "dry"
absent = sys.argv[2].split(",")
info = {"python": platform.python_version(), "absent": [m for m in absent if importlib.util.find_spec(m) is None]}
for pkg in ("numpy", "scipy", "torch", "cupy-cuda13x", "cupy-cuda12x", "pytest", "pytest-timeout"):
    try:
        info[pkg] = md.version(pkg)
    except md.PackageNotFoundError:
        pass
if not dry:
    try:
        import torch
        info["torch_cuda"] = torch.version.cuda
        info["cuda_available"] = torch.cuda.is_available()
        if info["cuda_available"]:
            p = torch.cuda.get_device_properties(0)
            info["gpu"] = p.name
            info["gpu_memory_gib"] = round(p.total_memory / 2**30, 1)
            info["capability"] = "%d.%d" % (p.major, p.minor)
    except Exception as err:
        info["torch_error"] = repr(err)
    try:
        import cupy
        info["cupy_devices"] = int(cupy.cuda.runtime.getDeviceCount())
        info["cupy_cuda_runtime"] = int(cupy.cuda.runtime.runtimeGetVersion())
    except Exception as err:
        info["cupy_error"] = repr(err)[:200]
print("ENV " + json.dumps(info))
"""


def step_env(s: Suite) -> Outcome:
    if shutil.which("nvidia-smi"):
        s.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            python=False,
            check=False,
        )
    _, _, text = s.run(["-c", ENV_SCRIPT, "dry" if s.dry else "real", ",".join(ABSENT_ON_DEVICE)])
    info = json.loads(next(line for line in text.splitlines() if line.startswith("ENV "))[4:])
    cupy = info.get("cupy-cuda13x") or info.get("cupy-cuda12x")
    figures = (
        f"python {info['python']}, numpy {info.get('numpy', '-')}, torch {info.get('torch', 'absent')}, "
        f"cupy {cupy or 'absent'}; absent: {', '.join(info['absent']) or 'none'}"
    )
    if s.dry:
        return Outcome("ok", "dry run, CUDA not checked; " + figures, info)
    figures = (
        f"{info.get('gpu', 'no GPU')} ({info.get('gpu_memory_gib', '?')} GiB, sm {info.get('capability', '?')}),"
        f" torch CUDA {info.get('torch_cuda')}, cupy devices {info.get('cupy_devices', 0)}; " + figures
    )
    ok = info.get("cuda_available") and info.get("cupy_devices", 0) > 0
    return Outcome("ok" if ok else "failed", figures + ("" if ok else " -- torch or cupy sees no CUDA device"), info)


BLOCKED_PYTEST = (
    "import sys; [sys.modules.__setitem__(m, None) for m in sys.argv[1].split(',')]; "
    "import pytest; sys.exit(pytest.main(sys.argv[2:]))"
)


def step_pytest(s: Suite) -> Outcome:
    if s.dry:
        args = ["--collect-only", "-q", "-m", "gpu", "-p", "no:cacheprovider"]
        rc, _, text = s.run(["-c", BLOCKED_PYTEST, ",".join(ABSENT_ON_DEVICE), *args], check=False)
        m = re.search(r"(\d+)(?:/(\d+))? tests? collected", text)
        errors = re.search(r"(\d+) errors?", text)
        n_err = int(errors.group(1)) if errors else 0
        if rc != 0 or m is None or n_err:
            raise StepFailed(f"collection failed (exit status {rc}, {n_err} errors): {_last_line(text)}")
        return Outcome(
            "ok",
            f"{m.group(1)} gpu tests collected, 0 errors, with {', '.join(ABSENT_ON_DEVICE)} "
            "unimportable (as on the GPU machine)",
            {"collected": int(m.group(1))},
        )
    xml = s.path("pytest.xml")
    args = ["-m", "pytest", "-m", "gpu", "-q", "-rs", "-p", "no:cacheprovider", f"--junitxml={xml}"]
    if importlib.util.find_spec("pytest_timeout") is not None:
        args.append("--timeout=150")
    rc, _, text = s.run(args, check=False)
    counts = _junit_counts(xml) if os.path.isfile(xml) else None
    if counts is None:
        raise StepFailed(f"no test report (exit status {rc}): {_last_line(text)}")
    figures = (
        f"{counts['passed']} passed, {counts['skipped']} skipped, {counts['failed']} failed, {counts['errors']} errors"
    )
    ok = rc == 0 and counts["passed"] > 0 and not counts["failed"] and not counts["errors"]
    return Outcome("ok" if ok else "failed", figures, counts)


def _junit_counts(path: str) -> dict:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    c = {k: sum(int(x.get(k, 0)) for x in suites) for k in ("tests", "failures", "errors", "skipped")}
    return {
        "passed": c["tests"] - c["failures"] - c["errors"] - c["skipped"],
        "skipped": c["skipped"],
        "failed": c["failures"],
        "errors": c["errors"],
    }


def compare_simulations(ref: dict, other: dict) -> float:
    """Largest absolute difference between two ``rfrobust.simulate --json`` results over every per-seed value of
    every simulated metric (the seeds and metrics must be the same; ``inf`` when they are not)."""
    a, b = ref["simulation"], other["simulation"]
    if set(a) != set(b):
        return float("inf")
    worst = 0.0
    for key, stats in a.items():
        va, vb = stats["values"], b[key]["values"]
        if len(va) != len(vb):
            return float("inf")
        for x, y in zip(va, vb):
            if x is None or y is None:
                if x is not y:
                    return float("inf")
                continue
            worst = max(worst, abs(float(x) - float(y)))
    return worst


def step_simulate(s: Suite) -> Outcome:
    tiny = ["--d", "20", "--seeds", "2", "--n-test", "50"]
    variants = {"numpy": [], "torch": ["--backend", "torch", "--device", "cuda"], "cupy": ["--backend", "cupy"]}
    results, secs, notes, errors = {}, {}, [], []
    for name, extra in variants.items():
        out = s.path(f"simulate_{name}.json")
        real = [*SIMULATE, *extra, "--out", out]
        if s.dry:
            if name == "cupy":
                notes.append(s.check_options("rfrobust.simulate", real))
                continue
            extra = ["--backend", "torch", "--device", "cpu"] if name == "torch" else extra
            real = [*SIMULATE, *extra, *tiny, "--out", out]
            s.check_options("rfrobust.simulate", real, executed=real)
        try:  # one backend failing does not keep the others from running
            _, secs[name], _ = s.run(real)
            results[name] = _read_json(out)
        except StepFailed as err:
            errors.append(f"{name}: {err}")
    if "numpy" not in results:
        raise StepFailed("; ".join(errors))
    diffs = {name: compare_simulations(results["numpy"], r) for name, r in results.items() if name != "numpy"}
    where = {"torch": "torch/cpu" if s.dry else "torch/cuda", "cupy": "cupy"}
    figures = (
        ", ".join(f"{where.get(k, k)} {v:.1f} s" for k, v in secs.items())
        + "; max |per-seed diff| vs numpy: "
        + (", ".join(f"{where[k]} {v:.1e}" for k, v in diffs.items()) or "-")
        + f" (tolerance {SIM_TOL:g})"
    )
    if s.dry:
        figures = "dry (d=20, 2 seeds): " + figures + "; cupy " + "; ".join(n for n in notes if n)
    bad = [f"{k} disagrees" for k, v in diffs.items() if not v <= SIM_TOL] + errors
    data = {"seconds": secs, "max_abs_diff": diffs, "tolerance": SIM_TOL, "errors": errors, "json": results}
    return Outcome("failed" if bad else "ok", figures + (" -- " + "; ".join(bad) if bad else ""), data)


def solver_figures(bench: dict) -> str:
    """Key figures of one ``rf_solver_bench.py --json`` file: d = 200 medians per dtype, scale points per dtype."""
    parts = []
    for dtype, p1 in bench.get("part1", {}).items():
        med = p1["median"]
        parts.append(f"d={p1['d']} {dtype}: ours {med['ours_ms']:.3g} ms = {med['ours_over_ridge']:.1f}x ridge")
    rows = bench.get("part3", {}).get("rows", [])
    for dtype in dict.fromkeys(r["dtype"] for r in rows):
        sel = [r for r in rows if r["dtype"] == dtype]
        parts.append(
            f"d={bench['part3']['d']} {dtype} psi1 "
            + "/".join(f"{r['psi1']:g}" for r in sel)
            + ": solver "
            + "/".join(_ms(r["solve_s"]) for r in sel)
            + " ("
            + "/".join(f"{r['solve_over_ridge']:.1f}x" for r in sel)
            + " ridge), seed "
            + "/".join(f"{r['seed_wall_s']:.1f}" for r in sel)
            + " s"
        )
    return "; ".join(parts)


def _solver_bench(s: Suite, backend: str) -> Outcome:
    out = s.path(f"bench_{backend}.json")
    device = ["--backend", "torch", "--device", "cuda"] if backend == "torch" else ["--backend", "cupy"]
    real = [*SOLVER_BENCH, *device, "--json", out]
    if s.dry:
        if backend == "cupy":
            note = s.check_options("rf_solver_bench", real)
            return Outcome("ok", f"dry: cupy needs a CUDA device; {note}")
        tiny = ["--instances", "1", "--reps", "1", "--part1-d", "20", "--gpu-d", "20", "--scale-points", "on"]
        real = [*SOLVER_BENCH, "--backend", "torch", "--device", "cpu", *tiny, "--json", out]
        s.check_options("rf_solver_bench", real, executed=real)
    s.run(real)
    bench = _read_json(out)
    rows = bench.get("part3", {}).get("rows", [])
    if sorted(bench.get("part1", {})) != ["float32", "float64"] or len(rows) != 3 * 2:  # 3 psi1 x 2 dtypes
        raise StepFailed(f"incomplete figures: part1 {sorted(bench.get('part1', {}))}, {len(rows)} scale rows")
    return Outcome("ok", ("dry (d=20 on torch/cpu): " if s.dry else "") + solver_figures(bench), bench)


def step_bench_torch(s: Suite) -> Outcome:
    return _solver_bench(s, "torch")


def step_bench_cupy(s: Suite) -> Outcome:
    return _solver_bench(s, "cupy")


def at_command(model: str, amp: bool, out: str) -> list[str]:
    return [*AT_BENCH, "--model", model, *(["--amp"] if amp else []), "--json", out]


def step_at_bench(s: Suite) -> Outcome:
    configs = [(model, amp) for model in AT_MODELS for amp in (False, True)]
    figures, data = [], {}
    if s.dry:  # one tiny CPU run carries every option (autocast is a no-op on the CPU); the rest: options checked
        out = s.path("at_dry.json")
        cpu = at_command(AT_MODELS[0], True, out)
        for opt, value in (("--device", "cpu"), ("--repeats", "1")):
            cpu[cpu.index(opt) + 1] = value
        cpu += ["--batch", "4", "--steps", "1", "--warmup", "0", "--no-naive"]
        s.check_options("at_bench", cpu, executed=cpu)
        s.run(cpu)
        res = _read_json(out)
        for model, amp in configs:
            tag = f"{model}_{'bf16' if amp else 'fp32'}"
            s.check_options("at_bench", at_command(model, amp, s.path(f"at_{tag}.json")))
        return Outcome(
            "ok",
            f"dry (nettest-1-1, batch 4, K=1, cpu): ratio {res['ratio']['at']:.2f}; the "
            f"{len(configs)} GPU configurations: options checked",
            {"dry": res},
        )
    errors = []
    for model, amp in configs:
        tag = f"{model}_{'bf16' if amp else 'fp32'}"
        out = s.path(f"at_{tag}.json")
        try:  # one configuration failing does not keep the others from running
            s.run(at_command(model, amp, out))
        except StepFailed as err:
            errors.append(f"{tag}: {err}")
            continue
        res = data[tag] = _read_json(out)
        med = res["median_s"]
        figures.append(f"{tag} {res['ratio']['at']:.2f} (std {_ms(med['standard'])}, AT {_ms(med['at'])})")
    first = next(iter(data.values()), {"K": "?", "batch": "?"})
    text = f"AT step / ((K+1) standard), channels-last, K={first['K']}, batch {first['batch']}: " + ", ".join(figures)
    return Outcome("failed" if errors else "ok", text + (" -- " + "; ".join(errors) if errors else ""), data)


def epoch_command(s: Suite, out: str) -> list[str]:
    return [
        "-m",
        "rfrobust.train",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        s.data_dir,
        "--model",
        "wrn-16-4",
        "--method",
        "pgd-at",
        "--eps",
        "0.1",
        "--attack-steps",
        "10",
        "--epochs",
        "1",
        "--val-size",
        "1000",
        "--test-size",
        "2000",
        "--eval-steps",
        "20",
        "--device",
        "cuda",
        "--amp",
        "--channels-last",
        "--no-progress",
        "--out",
        out,
    ]


def step_epoch(s: Suite) -> Outcome:
    missing = [
        stem
        for stem in IDX_STEMS
        if not any(os.path.isfile(os.path.join(s.data_dir, stem + ext)) for ext in (".gz", ""))
    ]
    if missing:
        raise StepFailed(
            f"Fashion-MNIST not found in {s.data_dir} (missing {missing[0]}[.gz]): run "
            "`bash benchmarks/gpu_suite.sh --prepare` and carry .gpu_data"
        )
    out = s.path("epoch.json")
    real = epoch_command(s, out)
    if s.dry:
        cpu = epoch_command(s, out)
        for opt, value in (
            ("--model", "nettest-1-0"),
            ("--device", "cpu"),
            ("--val-size", "64"),
            ("--test-size", "64"),
            ("--attack-steps", "1"),
            ("--eval-steps", "1"),
        ):
            cpu[cpu.index(opt) + 1] = value
        cpu.remove("--amp")  # bfloat16 autocast is CUDA-only here
        cpu += ["--train-size", "256", "--batch-size", "64"]
        s.check_options("rfrobust.train", cpu, executed=cpu)
        note = s.check_options("rfrobust.train", real)
        real = cpu
    s.run(real)
    rec = _read_json(out)
    log = json.loads(rec["epoch_log"]) if isinstance(rec.get("epoch_log"), str) else rec.get("epoch_log", [])
    epoch_s = float(log[0]["epoch_s"])
    n_train = int(rec.get("n_train") or 0)
    steps = -(-n_train // int(rec.get("batch_size") or 128)) if n_train else 0
    figures = (
        f"{rec.get('model')} PGD-AT epoch {epoch_s:.1f} s"
        + (f" ({n_train} images, {steps} steps, {_ms(epoch_s / steps)}/step)" if steps else "")
        + f", eval {rec['eval_s']:.1f} s, wall {rec['wall_s']:.1f} s; nat/rob acc "
        f"{rec['natural_acc']:.3f}/{rec['robust_acc']:.3f}"
    )
    if s.dry:
        figures = "dry (nettest-1-0, 256 images, cpu): " + figures + f"; GPU command {note}"
    return Outcome("ok", figures, {"epoch_s": epoch_s, "steps": steps, "record": rec})


@dataclass(frozen=True)
class Step:
    name: str
    timeout: float
    run: Callable[[Suite], Outcome]


STEPS = (
    Step("env", 60, step_env),
    Step("pytest", 240, step_pytest),
    Step("simulate", 120, step_simulate),
    Step("bench_torch", 150, step_bench_torch),
    Step("bench_cupy", 150, step_bench_cupy),
    Step("at_bench", 120, step_at_bench),
    Step("epoch", 180, step_epoch),
)


# ------------------------------------------------------------------------------------------------ the suite
def summary_table(results: dict[str, dict], header: str) -> str:
    lines = [header, f"{'step':<12} {'status':<8} {'time':>8}  key figures"]
    for name, r in results.items():
        t = f"{r['seconds']:.1f} s" if r.get("seconds") is not None else "-"
        lines.append(f"{name:<12} {r['status']:<8} {t:>8}  {r['figures']}")
    counts = {k: sum(r["status"] == k for r in results.values()) for k in ("ok", "failed", "skipped")}
    lines.append(f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped")
    return "\n".join(lines)


def run_suite(out: str, dry: bool, selected: list[str], budget: float, data_dir: str) -> int:
    os.makedirs(out, exist_ok=True)
    suite = Suite(out, dry, budget, data_dir)
    by_name = {step.name: step for step in STEPS}
    failed = interrupted = False
    try:
        mode = "DRY RUN on the CPU (plumbing only, no GPU figures)" if dry else "GPU run"
        suite.echo(f"== rfrobust GPU suite: {mode}; steps {', '.join(selected)}; budget {budget:.0f} s; out {out}")
        for name in selected:
            step = by_name[name]
            cap = float(os.environ.get(f"GPU_SUITE_TIMEOUT_{name.upper()}", step.timeout))
            left = suite.deadline - time.monotonic()
            suite.echo(f"\n== step {name} (limit {min(cap, max(left, 0)):.0f} s)")
            if left < min(10.0, cap):
                suite.results[name] = {
                    "status": "skipped",
                    "seconds": None,
                    "figures": "suite time budget spent",
                    "data": {},
                }
                failed = True
                suite.save()
                continue
            suite.step_limit = min(cap, left)
            suite.step_deadline = time.monotonic() + suite.step_limit
            t = time.monotonic()
            try:
                with sigterm_as_interrupt():
                    outcome = step.run(suite)
            except KeyboardInterrupt:
                interrupted = True
                suite.results[name] = {
                    "status": "failed",
                    "seconds": time.monotonic() - t,
                    "figures": "interrupted (SIGTERM or Ctrl-C)",
                    "data": {},
                }
                suite.echo(f"== step {name}: interrupted")
                break
            except StepFailed as err:
                outcome = Outcome("failed", str(err))
            except Exception as err:  # a bug in the step itself: report it, go on with the next step
                outcome = Outcome("failed", f"{type(err).__name__}: {err}")
            secs = time.monotonic() - t
            suite.echo(f"== step {name}: {outcome.status} ({secs:.1f} s) {outcome.figures}")
            suite.results[name] = {
                "status": outcome.status,
                "seconds": secs,
                "figures": outcome.figures,
                "data": outcome.data,
            }
            failed |= outcome.status != "ok"
            suite.save()
        for step in STEPS:
            if step.name not in suite.results:
                why = "not run: the suite was interrupted" if interrupted and step.name in selected else "not selected"
                suite.results[step.name] = {"status": "skipped", "seconds": None, "figures": why, "data": {}}
        suite.save()
        used = time.monotonic() - suite.t0
        header = (
            f"rfrobust GPU suite summary ({'DRY RUN, ' if dry else ''}{time.strftime('%Y-%m-%d %H:%M')}, "
            f"{used:.0f} s of {budget:.0f} s)"
        )
        table = summary_table(suite.results, header)
        with open(os.path.join(out, "summary.txt"), "w", encoding="utf-8") as fh:
            fh.write(table + "\n")
        suite.echo("\n" + table)
    finally:
        suite.close()
    return 130 if interrupted else 1 if failed else 0


def prepare(source: str, target: str) -> int:
    """Copy the four Fashion-MNIST IDX files into ``target`` (an ignored folder that the device call carries)."""
    os.makedirs(target, exist_ok=True)
    total = 0
    for stem in IDX_STEMS:
        found = next((stem + ext for ext in (".gz", "") if os.path.isfile(os.path.join(source, stem + ext))), None)
        if found is None:
            print(f"gpu_suite: error: {stem}[.gz] not found in {source}", file=sys.stderr)
            return 2
        shutil.copy2(os.path.join(source, found), os.path.join(target, found))
        total += os.path.getsize(os.path.join(target, found))
    carried = os.path.relpath(target, REPO).split(os.sep)[0]
    print(f"copied Fashion-MNIST ({total / 2**20:.1f} MiB) to {target}; name {carried} in the device call's carry")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prepare", action="store_true", help="copy Fashion-MNIST into the data folder and stop")
    ap.add_argument(
        "--from",
        dest="source",
        default=os.environ.get("RFROBUST_FASHION_MNIST", SYSTEM_DATA),
        help=f"where --prepare copies from (default $RFROBUST_FASHION_MNIST or {SYSTEM_DATA})",
    )
    args = ap.parse_args(argv)
    data_dir = os.path.join(REPO, os.environ.get("GPU_SUITE_DATA", DEFAULT_DATA))  # relative: to the checkout
    if args.prepare:
        return prepare(args.source, data_dir)
    dry = os.environ.get("GPU_SUITE_DRY", "") not in ("", "0")
    names = [step.name for step in STEPS]
    wanted = os.environ.get("GPU_SUITE_STEPS", "")
    selected = [n.strip() for n in wanted.split(",") if n.strip()] if wanted.strip() else names
    unknown = [n for n in selected if n not in names]
    if unknown:
        print(f"gpu_suite: error: invalid GPU_SUITE_STEPS={wanted!r}: steps are {', '.join(names)}", file=sys.stderr)
        return 2
    try:
        budget = float(os.environ.get("GPU_SUITE_BUDGET", DEFAULT_BUDGET))
        for step in STEPS:
            float(os.environ.get(f"GPU_SUITE_TIMEOUT_{step.name.upper()}", step.timeout))
    except ValueError as err:
        print(f"gpu_suite: error: a time limit is not a number ({err})", file=sys.stderr)
        return 2
    out = os.environ.get("OUT") or os.path.join(REPO, "gpu_out")
    return run_suite(os.path.abspath(out), dry, selected, budget, data_dir)


if __name__ == "__main__":
    sys.exit(main())
