"""Model families: parameter counts from independent layer formulas, shapes, names, normalisation."""

from __future__ import annotations

import pytest
import torch

from rfrobust.deep.models import NETTEST_CONFIGS, Conv2d, build_model, count_parameters, parse_model_name
from rfrobust.errors import InputError


def nettest_expected(cfg: dict, res: int, cin: int, classes: int = 10) -> int:
    """Borji appendix A, counted by hand: conv weights + biases, fc1 on the pooled maps, fc2."""
    k1, k2, p1, p2 = cfg["conv1_size"], cfg["conv2_size"], cfg["pool1_size"], cfg["pool2_size"]
    n1, n2, hid, d1 = cfg["num_conv1"], cfg["num_conv2"], cfg["num_hid"], cfg["dilation_1"]
    res_conv1 = int((res - d1 * (k1 - 1) - 1) / 1 + 1)
    res_pool1 = int((res_conv1 - p1) / p1 + 1)
    res_conv2 = int((res_pool1 - k2) / 1 + 1)
    res_pool2 = int((res_conv2 - p2) / p2 + 1)
    conv1 = cin * n1 * k1 * k1 + n1
    conv2 = n1 * n2 * k2 * k2 + n2
    fc1 = res_pool2**2 * n2 * hid + hid
    fc2 = hid * classes + classes
    return conv1 + conv2 + fc1 + fc2


def test_nettest_has_26_configurations_in_5_families():
    assert [len(NETTEST_CONFIGS[f]) for f in range(1, 6)] == [5, 5, 4, 6, 6]
    assert sum(len(v) for v in NETTEST_CONFIGS.values()) == 26
    # spot checks of the transcription (Borji appendix A)
    assert NETTEST_CONFIGS[1][4] == dict(
        conv1_size=5, conv2_size=5, pool1_size=2, pool2_size=2, num_conv1=200, num_conv2=200, num_hid=200, dilation_1=1
    )
    assert NETTEST_CONFIGS[3][0]["conv1_size"] == 2 and NETTEST_CONFIGS[3][0]["pool1_size"] == 1
    assert NETTEST_CONFIGS[4][4]["num_hid"] == 100 and NETTEST_CONFIGS[4][5]["num_hid"] == 200
    assert all(c["dilation_1"] == 2 for c in NETTEST_CONFIGS[5])


@pytest.mark.parametrize("res,cin", [(28, 1), (32, 3)], ids=["28x28x1", "32x32x3"])
def test_nettest_parameter_counts_all_26(res, cin):
    for fam, cfgs in NETTEST_CONFIGS.items():
        for i, cfg in enumerate(cfgs):
            model = build_model(f"nettest-{fam}-{i}", cin, res)
            assert count_parameters(model) == nettest_expected(cfg, res, cin), (fam, i, res)
    # hand-computed anchor: Model I, first config, MNIST: 260 + 2510 + 8050 + 510
    assert count_parameters(build_model("nettest-1-0", 1, 28)) == 11330


def test_nettest_forward_shapes_and_range():
    for name in ("nettest-1-0", "nettest-2-4", "nettest-3-3", "nettest-5-5"):
        for res, cin in ((28, 1), (32, 3)):
            out = build_model(name, cin, res).eval()(torch.rand(2, cin, res, res))
            assert out.shape == (2, 10) and torch.isfinite(out).all()


def wrn_expected(depth: int, k: int, cin: int = 3, classes: int = 10) -> int:
    """WRN-depth-k by hand: stem conv, per block BN(2c_in) + 3x3 conv + BN(2c_out) + 3x3 conv (+1x1 shortcut)."""
    n = (depth - 4) // 6
    widths = [16, 16 * k, 32 * k, 64 * k]
    total = cin * 16 * 9
    c = 16
    for g in range(3):
        for b in range(n):
            cout = widths[g + 1]
            total += 2 * c + c * cout * 9 + 2 * cout + cout * cout * 9
            if c != cout or (b == 0 and g > 0):
                total += c * cout
            c = cout
    return total + 2 * c + c * classes + classes


def test_wrn_34_10_parameter_count_on_meta_device():
    with torch.device("meta"):
        model = build_model("wrn-34-10", 3, 32, 10)
    n = count_parameters(model)
    assert n == wrn_expected(34, 10)
    assert abs(n - 46.2e6) < 0.05e6  # about 46.2 M (Wu et al.; Madry et al. WRN-34-10)


@pytest.mark.parametrize("name", ["wrn-16-4", "wrn-10-1"])
def test_small_wrn_counts_and_forward(name):
    depth, k = (int(v) for v in name.split("-")[1:])
    model = build_model(name, 3, 32)
    assert count_parameters(model) == wrn_expected(depth, k)
    assert model.eval()(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert build_model(name, 1, 28).eval()(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def densenet_expected(depth: int, k: int, cin: int = 3, classes: int = 10) -> int:
    n = (depth - 4) // 6
    c = 2 * k
    total = cin * c * 9
    for blk in range(3):
        for _ in range(n):
            total += 2 * c + c * 4 * k + 2 * 4 * k + 4 * k * k * 9
            c += k
        if blk < 2:
            total += 2 * c + c * (c // 2)
            c //= 2
    return total + 2 * c + c * classes + classes


@pytest.mark.parametrize("k", [12, 24])
def test_densenet_bc_40_counts(k):
    model = build_model(f"densenet-bc-40-{k}", 3, 32)
    assert count_parameters(model) == densenet_expected(40, k)
    if k == 12:
        assert model.eval()(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_mlp_sizes_of_seed_001():
    small = count_parameters(build_model("mlp-small", 1, 28))
    large = count_parameters(build_model("mlp-large", 1, 28))
    assert small == 784 * 150 + 150 + 150 * 10 + 10
    assert abs(small - 1.2e5) / 1.2e5 < 0.01 and abs(large - 3e6) / 3e6 < 0.01
    assert count_parameters(build_model("mlp-64", 3, 32)) == 3072 * 64 + 64 + 650


@pytest.mark.parametrize(
    "bad",
    ["nettest-6-0", "nettest-3-4", "nettest-1", "wrn-33-10", "wrn-34-0", "resnet-18", "densenet-bc-41-12", "mlp-0", ""],
)
def test_bad_model_names_one_line(bad):
    with pytest.raises(InputError) as ei:
        parse_model_name(bad)
    assert "model" in str(ei.value) and "\n" not in str(ei.value)


def test_normalisation_lives_inside_the_model():
    torch.manual_seed(0)
    model = build_model("mlp-8", 3, 4, mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 0.125)).eval()
    x = torch.rand(5, 3, 4, 4)
    mean = torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)
    std = torch.tensor([0.5, 0.25, 0.125]).view(1, 3, 1, 1)
    torch.testing.assert_close(model(x), model.net((x - mean) / std))
    assert "normalize.mean" in model.state_dict()


@pytest.mark.parametrize("dilation,padding,bias", [(1, 0, True), (2, 0, True), (1, 1, False)])
def test_fast_single_channel_conv_gradients_match_nn_conv2d(dilation, padding, bias):
    torch.manual_seed(0)
    fast = Conv2d(1, 4, 3, dilation=dilation, padding=padding, bias=bias).double()
    ref = torch.nn.Conv2d(1, 4, 3, dilation=dilation, padding=padding, bias=bias).double()
    ref.load_state_dict(fast.state_dict())
    x = torch.rand(3, 1, 9, 9, dtype=torch.double, requires_grad=True)
    g1 = torch.autograd.grad((fast(x) ** 2).sum(), [x, *fast.parameters()])
    g2 = torch.autograd.grad((ref(x) ** 2).sum(), [x, *ref.parameters()])
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)
    assert torch.autograd.gradcheck(fast, (x,))
