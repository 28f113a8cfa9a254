"""The documentation: README limits and CI marker, theory anchors cited by the code, metadata files, site hook."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

REPO = REPO_ROOT
DOCS = REPO / "docs"
ANCHOR = re.compile(r"^#{1,6} .*\{#([A-Za-z0-9_-]+)\}\s*$", re.MULTILINE)
#: the pages that code and docs cite by anchor
CITED_PAGES = ("theory", "design", "theory_classification")
#: "docs/theory.md#adv-model" in code, specs and scripts; a list or range may follow: ", #b", " to #c", " and #d"
#: (also across a line break, after a comment marker)
CODE_CITATION = re.compile(r"docs/(theory|design|theory_classification)\.md#([A-Za-z0-9_-]+)")
CHAINED_ANCHOR = re.compile(r"(?:,|\s+to|\s+and)\s*(?:#\s+)?#([A-Za-z0-9_-]+)")
#: "[text](theory.md#anchor)" or "(../design.md#anchor)" in the docs pages
DOCS_LINK = re.compile(r"\((?:\.\./)*(theory|design|theory_classification)\.md#([A-Za-z0-9_-]+)\)")
#: what the package and README must not name: the specification files it was built from (not shipped), the source
#: papers' seed file names, and issue numbers (papers are cited by authors and year)
FORBIDDEN = {
    "THEORY.md": re.compile(r"THEORY\.md"),
    "DESIGN.md": re.compile(r"DESIGN\.md"),
    "docs/kappa_derivation.md (moved into docs/theory.md#kappa)": re.compile(r"kappa_derivation\.md"),
    "a seed file number": re.compile(r"\b[Ss]eeds? `*0\d\d\b"),
    "a seed file name": re.compile(r"\b00[0-4]_[0-9a-f]{6}"),
    "an issue number": re.compile(r"\b[Ii]ssues? #?\d"),
}
TEXT_SUFFIXES = {".py", ".toml", ".md", ".txt", ".json", ".yaml", ".yml", ".cfg"}


def theory_anchors() -> list[str]:
    return ANCHOR.findall((DOCS / "theory.md").read_text(encoding="utf-8"))


def page_anchors(page: str) -> set[str]:
    return set(ANCHOR.findall((DOCS / f"{page}.md").read_text(encoding="utf-8")))


def code_citations(text: str) -> list[tuple[str, str]]:
    """(page, anchor) of every citation in ``text``, the anchors of a following list or range included."""
    found = []
    for match in CODE_CITATION.finditer(text):
        page = match.group(1)
        found.append((page, match.group(2)))
        end = match.end()
        while chained := CHAINED_ANCHOR.match(text, end):
            found.append((page, chained.group(1)))
            end = chained.end()
    return found


def text_files(folder: Path):
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts:
            yield path


def load_hook():
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("site_pages_hook", DOCS / "hooks" / "site_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------------ README
def test_readme_is_short_and_free_of_internal_jargon():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    for pattern in (r"THEORY\.md", r"DESIGN\.md", r"\bseed `?0\d\d", r"\bissue \d", r"example\.invalid"):
        assert not re.search(pattern, text), pattern


def test_readme_test_command_is_where_ci_reads_it():
    # .ci/run: awk '/<!-- ci:test-command -->/{getline; getline; print; exit}' README.md
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    marker = next(i for i, line in enumerate(lines) if "<!-- ci:test-command -->" in line)
    assert lines[marker + 1].startswith("```")
    command = lines[marker + 2]
    assert command.strip().endswith("python -m pytest")
    assert lines[marker + 3].startswith("```")


# ------------------------------------------------------------------------------------------------ theory.md
def test_theory_anchors_are_unique_and_short():
    anchors = theory_anchors()
    assert len(anchors) >= 40
    assert len(anchors) == len(set(anchors))
    assert all(len(a) <= 30 and a == a.lower() for a in anchors)
    for needed in (
        "mm-closed-form",
        "mm-spectral",
        "ridge-grad-norm",
        "adv-scalar-system",
        "zero-threshold",
        "kappa",
        "moreau-envelope",
        "solver-recipe",
        "oracle-values",
        "status",
        "uncertain",
    ):
        assert needed in anchors


def test_citation_parser_reads_lists_ranges_and_line_breaks():
    text = (
        "(docs/theory.md#setup, #mm-simulation; numpy) and docs/theory.md#linearisation\n    to #reduced-program.\n"
        "# reported (docs/theory.md#adv-simulation,\n# #uncertain); docs/design.md#numerics and #results, "
        "docs/theory_classification.md#cls-linf. Not a citation: #other"
    )
    assert code_citations(text) == [
        ("theory", "setup"),
        ("theory", "mm-simulation"),
        ("theory", "linearisation"),
        ("theory", "reduced-program"),
        ("theory", "adv-simulation"),
        ("theory", "uncertain"),
        ("design", "numerics"),
        ("design", "results"),
        ("theory_classification", "cls-linf"),
    ]
    assert DOCS_LINK.findall("[a](theory.md#adv) [b](../design.md#numerics) [c](theory_classification.md#cls-x)") == [
        ("theory", "adv"),
        ("design", "numerics"),
        ("theory_classification", "cls-x"),
    ]


def test_every_anchor_cited_in_code_and_docs_exists():
    anchors = {page: page_anchors(page) for page in CITED_PAGES}
    cited: dict[tuple[str, str], set[str]] = {}
    for folder in ("rfrobust", "validation", "figures", "simulations", "benchmarks"):
        for path in text_files(REPO / folder):
            for key in code_citations(path.read_text(encoding="utf-8", errors="replace")):
                cited.setdefault(key, set()).add(str(path.relative_to(REPO)))
    for path in DOCS.rglob("*.md"):
        for key in DOCS_LINK.findall(path.read_text(encoding="utf-8")):
            cited.setdefault(key, set()).add(str(path.relative_to(REPO)))
    missing = {f"docs/{page}.md#{a}": sorted(where) for (page, a), where in cited.items() if a not in anchors[page]}
    assert not missing, f"cited anchors missing from their page: {missing}"
    # finding (almost) none means the pattern is broken, not that the code stopped citing
    per_page = {page: sum(1 for p, _ in cited if p == page) for page in CITED_PAGES}
    assert per_page["theory"] >= 40 and per_page["design"] >= 4 and per_page["theory_classification"] >= 5, per_page


def test_package_and_readme_cite_no_spec_file_seed_file_or_issue():
    paths = [REPO / "README.md", *text_files(REPO / "rfrobust")]
    hits = []
    for path in paths:
        rel = path.relative_to(REPO).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            hits += [f"{rel}:{number}: {what}: {line.strip()}" for what, rx in FORBIDDEN.items() if rx.search(line)]
    assert not hits, "\n".join(hits)


def test_forbidden_patterns_catch_what_they_should():
    samples = (
        "(THEORY.md 3.7)",
        "DESIGN.md, Numerics",
        "see docs/kappa_derivation.md",
        "Wu et al., seed 004",
        "Borji (seed ``000``)",
        "seeds 000 and 001",
        "000_084e901473c0e1c8.txt",
        "issue 6, part 4",
        "issue #2",
    )
    caught = {what for what, rx in FORBIDDEN.items() if any(rx.search(sample) for sample in samples)}
    assert caught == set(FORBIDDEN)
    for fine in ("docs/theory.md#adv", "seeds 0-31", "seed0 = 1000 k", "--seeds 16", "tissue 3", "seed 1000"):
        assert not any(rx.search(fine) for rx in FORBIDDEN.values()), fine


def test_theory_keeps_the_oracle_values():
    text = (DOCS / "theory.md").read_text(encoding="utf-8")
    # a few of the measured or computed values the test suite relies on
    for value in ("0.94759", "1.63947", "0.92275", "1.0854", "0.4945514", "1.016914", "−1.165795"):
        assert value in text, value


# ------------------------------------------------------------------------------------------------ metadata
def test_pyproject_has_docs_and_dev_extras_and_no_placeholder_url():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert {"mkdocs", "mkdocs-material", "mkdocstrings[python]"} <= {re.split(r"[<>=]", d)[0] for d in extras["docs"]}
    assert {"ruff", "mypy", "pre-commit"} <= {re.split(r"[<>=]", d)[0] for d in extras["dev"]}
    assert "example.invalid" not in str(project.get("urls", {}))


def test_license_and_citation_agree_with_pyproject():
    yaml = pytest.importorskip("yaml")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    licence = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "rfrobust developers" in licence
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert str(cff["version"]) == project["version"]
    assert cff["license"] == "MIT"
    cited = {ref["authors"][0]["family-names"] for ref in cff["references"]}
    assert {"Mei", "Hassani", "Wu", "Borji", "Bubeck"} <= cited


def test_pre_commit_hooks_are_local():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    hooks = config["repos"][0]["hooks"]
    assert {hook["language"] for hook in hooks} == {"system"}
    assert [hook["entry"] for hook in hooks] == ["ruff check", "ruff format --check", "mypy"]


# ------------------------------------------------------------------------------------------------ site hook
def test_hook_discovers_commands_and_api_modules(tmp_path):
    hook = load_hook()
    pkg = tmp_path / "rfrobust"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "lib").mkdir()
    (pkg / "_private").mkdir()
    for path in (
        "__init__.py",
        "__main__.py",
        "sub/__init__.py",
        "sub/__main__.py",
        "lib/__init__.py",
        "lib/a.py",
        "lib/_hidden.py",
        "_private/__init__.py",
        "_private/__main__.py",
        "errors.py",
    ):
        (pkg / path).write_text('"""doc."""\n', encoding="utf-8")
    (pkg / "tool.py").write_text('"""A tool."""\nif __name__ == "__main__":\n    pass\n', encoding="utf-8")
    (pkg / "plain.py").write_text('"""Not a command."""\n', encoding="utf-8")
    assert hook.discover_commands(tmp_path) == ["rfrobust", "rfrobust.sub", "rfrobust.tool"]
    assert hook._public_submodules(tmp_path, "rfrobust.lib") == ["rfrobust.lib.a"]
    assert hook._module_path(tmp_path, "rfrobust.errors") == pkg / "errors.py"
    assert hook._module_path(tmp_path, "rfrobust.missing") is None


def test_hook_on_the_real_package():
    hook = load_hook()
    commands = hook.discover_commands(REPO)
    assert {"rfrobust.theory", "rfrobust.simulate", "rfrobust.sweep", "rfrobust.train"} <= set(commands)
    modules = hook.discover_api_modules(REPO)
    assert {
        "rfrobust.theory",
        "rfrobust.theory.linear",
        "rfrobust.rf.experiment",
        "rfrobust.sweep",
        "rfrobust.activations",
        "rfrobust.errors",
        "rfrobust.fileio",
    } <= set(modules)
    assert any(m.startswith("rfrobust.deep.") for m in modules)
    module, text, ok = hook._help_text(REPO, "rfrobust.theory")
    assert ok and text.startswith("usage: python -m rfrobust.theory")
    module, text, ok = hook._help_text(REPO, "rfrobust.no_such_command")
    assert not ok and text.startswith("exit status")
