"""Network families of growing width; inputs in [0, 1], normalisation inside the model.

Names accepted by :func:`build_model` (CLI ``--model``):

* ``nettest-F-I`` -- Borji (2022), appendix A: the two-conv-layer ``NetTest`` family F = 1..5 (Models I..V),
  configuration I (from 0) within the family; 26 configurations in :data:`NETTEST_CONFIGS`. Conv1 takes the data
  set's channels and the layer sizes follow the input resolution (28 for MNIST-like, 32 for CIFAR).
* ``mlp-small`` / ``mlp-large`` / ``mlp-H`` -- the 3-layer MLPs of A. J. Barry's talk on the universal law of robustness
  (input, one ReLU hidden layer of H units, linear output): H = 150 gives 1.19e5 parameters and H = 3774 gives 3.0e6 for
  28x28 inputs.
* ``wrn-DEPTH-K`` -- WideResNet (Zagoruyko & Komodakis 2016; pre-activation basic blocks, DEPTH = 6n + 4, widths
  16, 16K, 32K, 64K), e.g. ``wrn-34-10`` (46.2 M parameters for CIFAR-10), ``wrn-16-4``, ``wrn-10-1``.
* ``densenet-bc-DEPTH-K`` -- DenseNet-BC (Huang et al. 2017) with depth DEPTH = 6n + 4 and growth rate K, e.g.
  ``densenet-bc-40-12`` (Wu et al. Table 2): 3 dense blocks of n bottleneck layers (BN-ReLU-1x1 conv 4K,
  BN-ReLU-3x3 conv K), compression 0.5.

Every family takes its nonlinearity from :mod:`rfrobust.activations` (``act``, default ``relu``; any registered
activation, see :func:`rfrobust.activations.torch_module`). The WideResNet's He initialisation keeps the ReLU gain
whatever the activation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from rfrobust.activations import torch_module
from rfrobust.errors import InputError

# Borji, appendix A, transcribed as data: (conv1_size, conv2_size, pool1_size, pool2_size, num_conv1, num_conv2,
# num_hid, dilation_1). All configurations have bias_flag=True, stride 1, padding 0.
_NETTEST_ROWS = {
    1: [
        (5, 5, 2, 2, 10, 10, 50, 1),
        (5, 5, 2, 2, 50, 50, 50, 1),
        (5, 5, 2, 2, 100, 100, 100, 1),
        (5, 5, 2, 2, 150, 150, 100, 1),
        (5, 5, 2, 2, 200, 200, 200, 1),
    ],
    2: [
        (3, 3, 1, 1, 5, 5, 10, 1),
        (3, 3, 1, 1, 10, 10, 20, 1),
        (3, 3, 1, 1, 50, 50, 50, 1),
        (3, 3, 1, 1, 100, 100, 100, 1),
        (3, 3, 1, 1, 150, 150, 100, 1),
    ],
    3: [
        (2, 2, 1, 1, 5, 5, 10, 1),
        (2, 2, 1, 1, 10, 10, 20, 1),
        (2, 2, 1, 1, 50, 50, 50, 1),
        (2, 2, 1, 1, 100, 100, 100, 1),
    ],
    4: [
        (4, 4, 2, 2, 5, 5, 10, 1),
        (4, 4, 2, 2, 10, 10, 20, 1),
        (4, 4, 2, 2, 50, 50, 50, 1),
        (4, 4, 2, 2, 100, 100, 100, 1),
        (4, 4, 2, 2, 200, 200, 100, 1),
        (4, 4, 2, 2, 200, 200, 200, 1),
    ],
    5: [
        (5, 5, 2, 2, 5, 5, 10, 2),
        (5, 5, 2, 2, 10, 10, 20, 2),
        (5, 5, 2, 2, 50, 50, 50, 2),
        (5, 5, 2, 2, 100, 100, 100, 2),
        (5, 5, 2, 2, 200, 200, 100, 2),
        (5, 5, 2, 2, 200, 200, 200, 2),
    ],
}
_NETTEST_KEYS = (
    "conv1_size",
    "conv2_size",
    "pool1_size",
    "pool2_size",
    "num_conv1",
    "num_conv2",
    "num_hid",
    "dilation_1",
)
NETTEST_CONFIGS: dict[int, list[dict]] = {
    fam: [dict(zip(_NETTEST_KEYS, row)) for row in rows] for fam, rows in _NETTEST_ROWS.items()
}

MLP_WIDTHS = {"small": 150, "large": 3774}


class _SingleChannelConv(torch.autograd.Function):
    """conv2d whose input gradient bypasses oneDNN (CPU, one input channel).

    oneDNN's backward-data kernel for a one-channel input is 3-5x slower than ATen's native kernel (measured
    with ``benchmarks/at_bench.py``), and it is exactly what every PGD step needs on MNIST-like data, while standard
    training never computes it. The weight and bias gradients still take the default (oneDNN) path.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation):
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation, bias is not None)
        return F.conv2d(x, weight, bias, stride, padding, dilation)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding, dilation, has_bias = ctx.conf
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        args = (list(stride), list(padding), list(dilation), False, [0, 0], 1)
        gx = gw = gb = None
        if need_x:
            prev = torch.backends.mkldnn.enabled
            torch.backends.mkldnn.enabled = False
            try:
                gx = torch.ops.aten.convolution_backward(
                    grad.contiguous(), x.contiguous(), weight.contiguous(), None, *args, [True, False, False]
                )[0]
            finally:
                torch.backends.mkldnn.enabled = prev
        if need_w or need_b:
            _, gw, gb = torch.ops.aten.convolution_backward(
                grad, x, weight, [weight.shape[0]] if has_bias else None, *args, [False, need_w, need_b and has_bias]
            )
        return gx, gw, gb, None, None, None


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters and state dict) with a fast input gradient for one-channel CPU inputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            self.in_channels == 1
            and self.groups == 1
            and x.device.type == "cpu"
            and x.requires_grad
            and self.padding_mode == "zeros"
            and isinstance(self.padding, tuple)
        ):
            return _SingleChannelConv.apply(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
        return super().forward(x)


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, computed as one fused ``x * (1/std) + (-mean/std)``.

    mean and std are buffers, so they travel with the checkpoint.
    """

    mean: torch.Tensor  # buffers (register_buffer)
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(-self.mean / self.std, x, 1.0 / self.std)


class NetTest(nn.Module):
    """Two conv layers (each: conv -> max-pool -> ReLU), dropout, two linear layers (Borji, appendix A).

    Spatial sizes: ``r1 = floor((R - d1 (k1 - 1) - 1) / 1 + 1)``, ``p1 = floor(r1 / P1)``, ``r2 = p1 - k2 + 1``,
    ``p2 = floor(r2 / P2)``; fc1 has ``p2^2 * num_conv2`` inputs.
    """

    def __init__(
        self,
        in_channels: int = 1,
        im_res: int = 28,
        conv1_size: int = 3,
        conv2_size: int = 3,
        pool1_size: int = 2,
        pool2_size: int = 2,
        num_conv1: int = 10,
        num_conv2: int = 10,
        num_hid: int = 50,
        dilation_1: int = 1,
        num_classes: int = 10,
        dropout: bool = True,
        act: str = "relu",
    ) -> None:
        super().__init__()
        self.act = torch_module(act)
        self.conv1 = Conv2d(in_channels, num_conv1, conv1_size, dilation=dilation_1, bias=True)
        r1 = im_res - dilation_1 * (conv1_size - 1)
        p1 = r1 // pool1_size
        r2 = p1 - conv2_size + 1
        p2 = r2 // pool2_size
        if p2 < 1:
            raise InputError("im_res", im_res, f"large enough for this NetTest configuration (got {p2}x{p2} maps)")
        self.conv2 = nn.Conv2d(num_conv1, num_conv2, conv2_size, bias=True)
        self.conv2_drop = nn.Dropout2d() if dropout else nn.Identity()
        self.fc1 = nn.Linear(p2 * p2 * num_conv2, num_hid)
        self.fc_drop = nn.Dropout() if dropout else nn.Identity()
        self.fc2 = nn.Linear(num_hid, num_classes)
        self.pool1_size, self.pool2_size = pool1_size, pool2_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(F.max_pool2d(self.conv1(x), self.pool1_size))
        h = self.act(F.max_pool2d(self.conv2_drop(self.conv2(h)), self.pool2_size))
        h = self.act(self.fc1(h.flatten(1)))
        return self.fc2(self.fc_drop(h))


class MLP(nn.Module):
    """Input -> Linear(d, H) -> sigma (ReLU) -> Linear(H, classes) (the "3-layer network" of Barry's talk)."""

    def __init__(self, in_features: int, hidden: int, num_classes: int = 10, act: str = "relu") -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.act = torch_module(act)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x.flatten(1))))


class _WideBlock(nn.Module):
    """Pre-activation basic block: BN-ReLU-conv3x3(stride)-BN-ReLU-conv3x3, 1x1 conv shortcut if shapes change."""

    def __init__(self, cin: int, cout: int, stride: int, act: str = "relu") -> None:
        super().__init__()
        self.act = torch_module(act)
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None if (cin == cout and stride == 1) else nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = self.act(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(o)
        o = self.conv2(self.act(self.bn2(self.conv1(o))))
        return o + skip


class WideResNet(nn.Module):
    """WRN-depth-k: conv3x3(16), three groups of n = (depth-4)/6 blocks (16k, 32k, 64k; strides 1, 2, 2),
    BN-ReLU, global average pool, linear."""

    def __init__(
        self, depth: int = 34, widen: int = 10, in_channels: int = 3, num_classes: int = 10, act: str = "relu"
    ) -> None:
        super().__init__()
        if (depth - 4) % 6 or depth < 10:
            raise InputError("model", f"wrn-{depth}-{widen}", "wrn-DEPTH-K with DEPTH = 6n + 4 >= 10")
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv1 = Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        layers, cin = [], widths[0]
        for g, stride in zip(range(3), (1, 2, 2)):
            for b in range(n):
                layers.append(_WideBlock(cin, widths[g + 1], stride if b == 0 else 1, act))
                cin = widths[g + 1]
        self.blocks = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(cin)
        self.act = torch_module(act)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = self.act(self.bn(self.blocks(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(o, 1).flatten(1))


class _DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, act: str = "relu") -> None:
        super().__init__()
        self.act = torch_module(act)
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = self.conv2(self.act(self.bn2(self.conv1(self.act(self.bn1(x))))))
        return torch.cat([x, o], 1)


class _Transition(nn.Module):
    def __init__(self, cin: int, cout: int, act: str = "relu") -> None:
        super().__init__()
        self.act = torch_module(act)
        self.bn = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.conv(self.act(self.bn(x))), 2)


class DenseNetBC(nn.Module):
    """DenseNet-BC-depth-k: conv3x3(2k), 3 dense blocks of (depth-4)/6 bottleneck layers, transitions with
    compression 0.5, BN-ReLU, global average pool, linear."""

    def __init__(
        self, depth: int = 40, growth: int = 12, in_channels: int = 3, num_classes: int = 10, act: str = "relu"
    ) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise InputError("model", f"densenet-bc-{depth}-{growth}", "densenet-bc-DEPTH-K with DEPTH = 6n + 4")
        n = (depth - 4) // 6
        c = 2 * growth
        mods: list[nn.Module] = [Conv2d(in_channels, c, 3, 1, 1, bias=False)]
        for blk in range(3):
            for _ in range(n):
                mods.append(_DenseLayer(c, growth, act))
                c += growth
            if blk < 2:
                mods.append(_Transition(c, c // 2, act))
                c //= 2
        self.features = nn.Sequential(*mods)
        self.bn = nn.BatchNorm2d(c)
        self.act = torch_module(act)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = self.act(self.bn(self.features(x)))
        return self.fc(F.adaptive_avg_pool2d(o, 1).flatten(1))


class Classifier(nn.Module):
    """``net(normalize(x))``: takes images in [0, 1]."""

    def __init__(self, normalize: Normalize, net: nn.Module) -> None:
        super().__init__()
        self.normalize = normalize
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


MODEL_HELP = (
    "one of the families nettest-F-I (F = 1..5; I = "
    + ", ".join(f"0..{len(NETTEST_CONFIGS[f]) - 1} for F = {f}" for f in sorted(NETTEST_CONFIGS))
    + "), mlp-small, mlp-large, mlp-H (H >= 1), wrn-DEPTH-K and densenet-bc-DEPTH-K (DEPTH = 6n + 4 >= 10, "
    "K >= 1; e.g. wrn-34-10, densenet-bc-40-12)"
)


def parse_model_name(name: str) -> tuple[str, dict]:
    """``"wrn-34-10"`` -> ``("wrn", {"depth": 34, "widen": 10})`` etc.; raises InputError on unknown names."""
    s = str(name).strip().lower()
    m = re.fullmatch(r"nettest-(\d+)-(\d+)", s)
    if m:
        fam, idx = int(m.group(1)), int(m.group(2))
        if fam not in NETTEST_CONFIGS or not 0 <= idx < len(NETTEST_CONFIGS[fam]):
            last = "/".join(str(len(NETTEST_CONFIGS[f]) - 1) for f in sorted(NETTEST_CONFIGS))
            raise InputError("model", name, f"nettest-F-I with F in 1..5 and I in 0..{last}")
        return "nettest", dict(NETTEST_CONFIGS[fam][idx])
    m = re.fullmatch(r"mlp-(small|large|\d+)", s)
    if m:
        h = MLP_WIDTHS.get(m.group(1)) or int(m.group(1))
        if h < 1:
            raise InputError("model", name, "mlp-H with H >= 1")
        return "mlp", {"hidden": h}
    for family, prefix, width_key in (("wrn", "wrn", "widen"), ("densenet", "densenet-bc", "growth")):
        m = re.fullmatch(prefix + r"-(\d+)-(\d+)", s)
        if m:
            depth, k = int(m.group(1)), int(m.group(2))
            if (depth - 4) % 6 or depth < 10 or k < 1:
                raise InputError("model", name, f"{prefix}-DEPTH-K with DEPTH = 6n + 4 >= 10 and K >= 1")
            return family, {"depth": depth, width_key: k}
    raise InputError("model", name, MODEL_HELP)


def build_model(
    name: str,
    in_channels: int = 1,
    im_res: int = 28,
    num_classes: int = 10,
    mean: Sequence[float] = (0.5,),
    std: Sequence[float] = (0.25,),
    dropout: bool = True,
    act: str = "relu",
) -> Classifier:
    """Build model ``name`` for ``in_channels x im_res x im_res`` inputs in [0, 1] (see module docstring).

    ``dropout=False`` removes NetTest's two dropout layers (Borji's model has them; the other families have none).
    ``act`` is the nonlinearity (a name registered in :mod:`rfrobust.activations`).
    """
    family, kw = parse_model_name(name)
    if len(mean) == 1 and in_channels > 1:
        mean, std = tuple(mean) * in_channels, tuple(std) * in_channels
    net: nn.Module
    if family == "nettest":
        net = NetTest(in_channels, im_res, num_classes=num_classes, dropout=dropout, act=act, **kw)
    elif family == "mlp":
        net = MLP(in_channels * im_res * im_res, kw["hidden"], num_classes, act=act)
    elif family == "wrn":
        net = WideResNet(kw["depth"], kw["widen"], in_channels, num_classes, act=act)
    else:
        net = DenseNetBC(kw["depth"], kw["growth"], in_channels, num_classes, act=act)
    return Classifier(Normalize(mean, std), net)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (buffers such as BN running statistics excluded)."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
