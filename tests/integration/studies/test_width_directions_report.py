"""The width-directions report (``python -m rfrobust.study width_directions``) end to end on a tiny synthetic study in
the exported schema of the width x lambda study (tests/support/synthetic_deep.py)."""

import re

from tests.support.synthetic_deep import write_study


def _run(argv):
    """``python -m rfrobust.study width_directions ARGV`` in this process (exit status, one-line errors)."""
    from rfrobust.cli import run_main
    from rfrobust.study import PROG, main

    return run_main(main, ["width_directions", *argv], prog=PROG)


def test_report_end_to_end_on_a_synthetic_study(tmp_path, capsys):
    deep = write_study(str(tmp_path / "deep"), family="mlp", n_train=8000, seeds=(0, 1))
    out = tmp_path / "docs" / "report.md"
    assert _run(["--deep-dir", deep, "--out", str(out), "--quick", "--sim-seeds", "2", "--sim-d", "40"]) == 0
    text = out.read_text()
    assert text.startswith("# Width vs theory") and "## Verdicts" in text and "In plain words" in text
    # each plain-words bullet names what it compares (a1 and a2 ask the same question of different quantities)
    assert "**a1** at a fixed weight, sensitivity grows with width? (RF G vs nets local Lipschitz)" in text
    assert "**a2** at a fixed weight, sensitivity grows with width? (RF G vs nets 1 − stability)" in text
    figs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(figs) >= 6
    for f in figs:
        assert (out.parent / f).is_file() and (out.parent / f).stat().st_size > 5000, f
    rows = [ln for ln in text.splitlines() if re.match(r"\| (a1|a2|b1|b2|c0|c1|c2|c3) \|", ln)]
    assert len(rows) == 16  # 8 questions x 2 methods
    # the synthetic nets' local Lipschitz grows with width, as G does for psi1 << psi2: a1 agrees
    assert all("**agree**" in r for r in rows if r.startswith("| a1 |"))
    assert "κ > 1" in text and "z = (sim − theory)/SE" in text
    m = re.search(r"\*\*(\d+) agree, (\d+) disagree, (\d+) inconclusive\*\*", text)
    assert m and sum(int(g) for g in m.groups()) == 16
    assert "wrote" in capsys.readouterr().out


def test_report_says_disagree_when_the_nets_go_the_other_way(tmp_path):
    deep = write_study(
        str(tmp_path / "deep"), family="mlp", n_train=8000, seeds=(0, 1), lip_slope=-0.2, methods=("gat",)
    )
    out = tmp_path / "r.md"
    assert _run(["--deep-dir", deep, "--out", str(out), "--quick", "--sim-seeds", "0"]) == 0
    text = out.read_text()
    a1 = [ln for ln in text.splitlines() if ln.startswith("| a1 |")]
    assert len(a1) == 1 and "**disagree**" in a1[0]
    assert "Finite-size simulation skipped" in text
