"""MkDocs hook: the generated parts of the rfrobust site.

At every build this hook

* writes one **CLI reference** page per command, from the command's own parser (``python -m rfrobust.X --help``
  run in a subprocess), so the reference never goes stale. Commands are found on disk: ``rfrobust/__main__.py``,
  every sub-package with a ``__main__.py`` and every top-level module with an ``if __name__ == "__main__"`` guard;
* writes one **API reference** page per public module (a mkdocstrings ``:::`` directive), for the modules named in
  :data:`API_MODULES` (``pkg.*`` expands to the package's public submodules found on disk);
* appends the pages under ``docs/results/`` (and the report pages listed in :data:`REPORT_PAGES`) to the
  *Results* section of the nav, and the pages under ``docs/studies/`` to the *Guides* section;
* writes a short stub for each page of :data:`PENDING_PAGES` that does not exist yet, so that links to a page
  another part of the project is still writing do not break the strict build. A stub is never written over a
  real page; once every pending page exists, the list can be emptied.

A command whose ``--help`` fails, or a required API module that is missing, is a warning, hence an error under
``mkdocs build --strict``.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.site_pages")

PACKAGE = "rfrobust"

# Public modules documented in the API reference. "pkg.*" = every public submodule of pkg found on disk.
API_MODULES: list[str] = [
    "rfrobust.theory",
    "rfrobust.theory.*",
    "rfrobust.rf.experiment",
    "rfrobust.sweep",
    "rfrobust.deep.*",
    "rfrobust.activations",
    "rfrobust.errors",
    "rfrobust.fileio",
]
# Documented as well when present (modules the package layout plans; absent ones are skipped quietly).
API_MODULES_OPTIONAL: list[str] = ["rfrobust.params", "rfrobust.backends", "rfrobust.studies.*"]

# Pages written by other parts of the project: a stub stands in until the real page exists.
PENDING_PAGES: dict[str, str] = {}

# Report pages that live outside docs/results/ today; listed under Results while they exist.
REPORT_PAGES: list[str] = ["validation.md", "paper_experiments.md", "width_vs_theory.md", "width_lambda/tables.md"]

CLI_DIR = "cli"
API_DIR = "api"
HELP_COLUMNS = "100"
MAIN_GUARD = re.compile(r"""^if\s+__name__\s*==\s*["']__main__["']\s*:""", re.MULTILINE)
# Sphinx cross-reference roles in docstrings (":func:`x`") render as ":func:<code>x</code>"; keep the code only.
SPHINX_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const)(:)(<code>)~?")


# ----------------------------------------------------------------------------------------------- discovery
def _repo(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def discover_commands(repo: Path) -> list[str]:
    """Module names runnable as ``python -m NAME``: the package, its CLI sub-packages and CLI modules."""
    pkg = repo / PACKAGE
    commands = [PACKAGE] if (pkg / "__main__.py").is_file() else []
    for path in sorted(pkg.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if path.is_dir() and (path / "__main__.py").is_file():
            commands.append(f"{PACKAGE}.{path.name}")
        elif path.suffix == ".py" and MAIN_GUARD.search(path.read_text(encoding="utf-8")):
            commands.append(f"{PACKAGE}.{path.stem}")
    return commands


def _module_path(repo: Path, module: str) -> Path | None:
    base = repo.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _public_submodules(repo: Path, package: str) -> list[str]:
    base = repo.joinpath(*package.split("."))
    names = []
    for path in sorted(base.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").is_file()):
            names.append(f"{package}.{path.stem if path.suffix == '.py' else path.name}")
    return names


def discover_api_modules(repo: Path) -> list[str]:
    """The documented modules, in the order of :data:`API_MODULES`, without duplicates."""
    found: list[str] = []
    for pattern, required in [(p, True) for p in API_MODULES] + [(p, False) for p in API_MODULES_OPTIONAL]:
        if pattern.endswith(".*"):
            package = pattern[:-2]
            if _module_path(repo, package) is None:
                if required:
                    log.warning("API reference: package %s not found (update API_MODULES in %s)", package, __file__)
                continue
            names = _public_submodules(repo, package)
        elif _module_path(repo, pattern) is None:
            if required:
                log.warning("API reference: module %s not found (update API_MODULES in %s)", pattern, __file__)
            continue
        else:
            names = [pattern]
        found.extend(n for n in names if n not in found)
    return found


def _first_heading(path: Path) -> str | None:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def _report_pages(docs: Path) -> list[str]:
    pages = [p for p in REPORT_PAGES if (docs / p).is_file()]
    results = docs / "results"
    if results.is_dir():
        found = sorted(p.relative_to(docs).as_posix() for p in results.rglob("*.md"))
        found.sort(key=lambda p: (not p.endswith("/index.md"), p))
        pages.extend(found)
    return pages


def _study_pages(docs: Path) -> list[str]:
    studies = docs / "studies"
    if not studies.is_dir():
        return []
    found = sorted(p.relative_to(docs).as_posix() for p in studies.rglob("*.md"))
    found.sort(key=lambda p: (not p.endswith("/index.md"), p))
    return found


# ----------------------------------------------------------------------------------------------- nav
def _section(nav: list, title: str) -> list | None:
    for i, item in enumerate(nav):
        if isinstance(item, dict) and title in item:
            value = item[title]
            if not isinstance(value, list):
                value = [value]
                nav[i] = {title: value}
            return value
    return None


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    repo = _repo(config)
    docs = Path(config.docs_dir)
    nav = config.nav or []

    cli = _section(nav, "CLI reference")
    if cli is not None:
        cli.extend({f"python -m {m}": f"{CLI_DIR}/{_cli_slug(m)}.md"} for m in discover_commands(repo))
    api = _section(nav, "API reference")
    if api is not None:
        api.extend({m: f"{API_DIR}/{m}.md"} for m in discover_api_modules(repo))
    results = _section(nav, "Results")
    if results is not None:
        results.extend(_report_pages(docs))
    guides = _section(nav, "Guides")
    studies = _study_pages(docs)
    if guides is not None and studies:
        guides.append({"Studies": studies})
    return config


# ----------------------------------------------------------------------------------------------- pages
def _cli_slug(module: str) -> str:
    return "rfrobust" if module == PACKAGE else module.removeprefix(f"{PACKAGE}.")


def _help_text(repo: Path, module: str) -> tuple[str, str, bool]:
    """``(module, text, ok)``: the output of ``python -m module --help``, or why it failed."""
    env = dict(os.environ)
    env["COLUMNS"] = HELP_COLUMNS
    env["PYTHONPATH"] = os.pathsep.join([str(repo), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("MPLBACKEND", "Agg")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", module, "--help"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return module, f"could not run: {exc}", False
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or [""]
        return module, f"exit status {proc.returncode}: {last[0]}", False
    return module, proc.stdout.rstrip(), True


def _module_summary(repo: Path, module: str) -> str:
    """First sentence-paragraph of the command module's docstring (``__main__.py`` for a package)."""
    path = _module_path(repo, module)
    if path is not None and path.name == "__init__.py" and (path.parent / "__main__.py").is_file():
        path = path.parent / "__main__.py"
    if path is None:
        return ""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except SyntaxError:
        return ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def _cli_pages(repo: Path) -> dict[str, str]:
    commands = discover_commands(repo)
    with ThreadPoolExecutor(max_workers=4) as pool:
        helps = {module: (text, ok) for module, text, ok in pool.map(lambda m: _help_text(repo, m), commands)}
    pages: dict[str, str] = {}
    rows = []
    for module in commands:
        text, ok = helps[module]
        slug = _cli_slug(module)
        if not ok:
            log.warning("CLI reference: python -m %s --help failed (%s)", module, text)
            text = f"(python -m {module} --help failed when this page was built: {text})"
        summary = _module_summary(repo, module)
        cell = summary.replace("|", "/")  # a pipe would end the table cell
        rows.append(f"| [`python -m {module}`]({slug}.md) | {cell} |")
        pages[f"{CLI_DIR}/{slug}.md"] = (
            f"# `python -m {module}`\n\n"
            f"The text below is the command's own `--help`, captured when this site was built.\n\n"
            f"```text\n{text}\n```\n"
        )
    pages[f"{CLI_DIR}/index.md"] = (
        "# Command-line reference\n\n"
        "Every command of the package, with the help text its argument parser prints. The pages are generated "
        "when the site is built (`mkdocs build` runs each command with `--help`), so they always match the code. "
        "Guides with worked examples: [theory](../guides/theory.md), [simulation](../guides/simulation.md), "
        "[sweeps](../guides/sweeps.md).\n\n"
        "| command | what it does |\n|---|---|\n" + "\n".join(rows) + "\n"
    )
    return pages


def _api_pages(repo: Path) -> dict[str, str]:
    modules = discover_api_modules(repo)
    pages = {
        f"{API_DIR}/{m}.md": f"::: {m}\n    options:\n      heading_level: 1\n      show_root_heading: true\n"
        for m in modules
    }
    rows = "\n".join(f"* [`{m}`]({m}.md)" for m in modules)
    pages[f"{API_DIR}/index.md"] = (
        "# Python API reference\n\n"
        "The public modules of rfrobust, rendered from their docstrings (which carry the formulas; the "
        "[theory page](../theory.md) derives them). Importing `rfrobust` imports neither torch nor cupy; the "
        "modules that need them import them when called.\n\n" + rows + "\n"
    )
    return pages


def _stub(title: str) -> str:
    return (
        f"# {title}\n\n"
        '!!! note "Not written yet"\n'
        "    This page is being written and will replace this placeholder. Until then, the "
        "[home page](index.md) and the [API reference](api/index.md) describe the package as it is.\n"
    )


def on_page_content(html: str, page, config: MkDocsConfig, files: Files) -> str:
    """On API pages, drop the Sphinx role prefix of cross-references (``:func:`name``` shows as ``name``)."""
    if page.file.src_uri.startswith(f"{API_DIR}/"):
        html = SPHINX_ROLE.sub(r"\2", html)
    return html


def on_files(files: Files, config: MkDocsConfig) -> Files:
    repo = _repo(config)
    generated = {**_cli_pages(repo), **_api_pages(repo)}
    for uri, title in PENDING_PAGES.items():
        if files.get_file_from_path(uri) is None:
            log.info("site_pages: %s does not exist yet; a stub stands in for it", uri)
            generated[uri] = _stub(title)
    for uri, content in generated.items():
        existing = files.get_file_from_path(uri)
        if existing is not None:
            if uri.startswith((f"{CLI_DIR}/", f"{API_DIR}/")):
                log.warning("site_pages: docs/%s exists but is generated; delete the file", uri)
            continue
        files.append(File.generated(config, uri, content=content))
    return files
