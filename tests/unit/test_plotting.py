"""The shared figure style and helpers (rfrobust.plotting)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rfrobust import plotting  # noqa: E402


def test_palette_is_okabe_ito_and_the_style_uses_it():
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
    assert set(plotting.PALETTE) == okabe_ito and len(plotting.PALETTE) == 7
    before = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    with plotting.style():
        assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == list(plotting.PALETTE)
        assert matplotlib.rcParams["pdf.fonttype"] == 42 and matplotlib.rcParams["font.size"] >= 8
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == before  # scoped


def test_labels_use_parameter_names():
    assert plotting.label("psi1") == r"$\psi_1 = N/d$" and "lambda" in plotting.label("lam")
    assert plotting.label("unknown_metric") == "unknown_metric"


def test_mean_sem():
    df = pd.DataFrame({"psi1": [1, 1, 1, 2], "SE": [1.0, 2.0, 3.0, 5.0]})
    out = plotting.mean_sem(df, "psi1", "SE")
    assert out["mean"].tolist() == [2.0, 5.0] and out["n"].tolist() == [3, 1]
    assert out["sem"].iloc[0] == pytest.approx(1.0 / np.sqrt(3)) and np.isnan(out["sem"].iloc[1])


def test_theory_vs_simulation_draws_lines_and_error_bars_per_group():
    psi = np.linspace(0.5, 3, 6)
    theory = pd.DataFrame({"psi1": np.tile(psi, 2), "eps": np.repeat([0.1, 0.3], 6), "SE": np.tile(psi, 2) ** 2})
    sim = pd.DataFrame(
        {
            "psi1": np.repeat([1.0, 2.0], 4),
            "eps": [0.1, 0.1, 0.3, 0.3] * 2,
            "SE": [1.0, 1.2, 3.0, 3.4, 4.0, 4.2, 9.0, 9.4],
        }
    )
    fig, ax = plotting.figure()
    groups = plotting.theory_vs_simulation(ax, theory, sim, x="psi1", y="SE", group="eps")
    assert groups == [0.1, 0.3]
    assert len(ax.lines) >= 2 and len(ax.containers) == 2  # 2 theory lines, 2 error-bar sets
    line = [ln for ln in ax.lines if ln.get_label() == "theory, $\\varepsilon$ (train) = 0.1"][0]
    np.testing.assert_allclose(line.get_xdata(), psi)
    np.testing.assert_allclose(line.get_ydata(), psi**2)
    eb = ax.containers[1]
    np.testing.assert_allclose(eb.lines[0].get_ydata(), [3.2, 9.2])  # means over seeds at eps = 0.3
    assert matplotlib.colors.to_hex(eb.lines[0].get_color()).upper() == plotting.PALETTE[1]
    assert ax.get_xlabel() == plotting.label("psi1") and ax.get_ylabel() == plotting.label("SE")
    assert ax.get_legend() is not None and len(ax.get_legend().get_texts()) == 4
    plt.close(fig)


def test_save_writes_pdf_and_png(tmp_path):
    fig, ax = plotting.figure(1, 2, width="page")
    assert fig.get_size_inches()[0] == pytest.approx(plotting.PAGE_WIDTH_IN)
    ax[0].plot([0, 1], [0, 1])
    paths = plotting.save(fig, tmp_path / "sub" / "fig.pdf")
    plt.close(fig)
    assert [p.rsplit(".", 1)[1] for p in paths] == ["pdf", "png"]
    assert open(paths[0], "rb").read(5) == b"%PDF-"
    assert open(paths[1], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["fig.pdf", "fig.png"]
