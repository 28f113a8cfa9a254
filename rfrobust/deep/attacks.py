"""White-box attacks on classifiers with inputs in [0, 1]; every setting is recorded (:class:`AttackConfig`).

* **PGD** (Madry et al. 2018): ``x_{t+1} = Proj_{B(x, eps) ∩ [0,1]^d}(x_t + alpha * s_t)`` with
  ``s_t = sign(g_t)`` (l_inf) or ``g_t / ||g_t||_2`` (l_2), ``g_t = ∇_x L(f(x_t), y)``; random start uniform in the
  ball; ``restarts`` independent runs with the per-sample worst case kept (a misclassifying run beats a correct
  one, then the larger loss wins). The last iterate of each run is returned (Madry et al.; ART does the same).
* **FGSM** (Goodfellow et al. 2015; seed 001): one step of size eps from x, no random start (l_2: FGM).
* **TRADES inner attack** (Zhang et al. 2019): the same PGD on ``KL(p(x) || p(x'))`` from
  ``x + 0.001 N(0, I)``.
* **White noise** (seed 001): ``clip(x + eps N(0, I), 0, 1)``, eps = the noise standard deviation.

The inner loop differentiates with respect to the input only (``torch.autograd.grad(loss, x_adv)``) with the
parameters frozen (:func:`frozen_parameters`), so no parameter gradient is computed or accumulated, and it updates
the iterate in place. Losses are summed over the
batch so each sample's gradient is its own (eval mode; see :func:`eval_mode`). Along the way the per-sample
maximum dual norm of the input gradient over the attack steps is available (Wu et al. section 4.1: the l_1 norm
for an l_inf attack), which :mod:`rfrobust.deep.metrics` reports as the local Lipschitz estimate.
"""
from __future__ import annotations

import contextlib
import math
import re
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from rfrobust.errors import InputError

KINDS = ("pgd", "fgsm", "trades", "noise", "none")
NORMS = ("linf", "l2")


def parse_eps(value, name: str = "eps") -> tuple[float, str]:
    """``"8/255"`` -> ``(0.0313725..., "8/255")``; ``0.031`` or ``"0.031"`` -> ``(0.031, "0.031")``."""
    text = str(value).strip()
    m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*/\s*([0-9.eE+-]+)\s*", text)
    try:
        v = float(m.group(1)) / float(m.group(2)) if m else float(text)
    except (ValueError, ZeroDivisionError):
        raise InputError(name, value, "a number >= 0 such as 0.031 or a fraction such as 8/255") from None
    if not math.isfinite(v) or v < 0:
        raise InputError(name, value, "a number >= 0 such as 0.031 or a fraction such as 8/255")
    if not m:
        text = f"{v:g}"
    return v, text


@dataclass
class AttackConfig:
    """All settings of one attack; :meth:`record` flattens them into result columns.

    ``step_size=None`` means Madry's rule ``2.5 * eps / steps`` (PGD, TRADES) and ``eps`` (FGSM).
    """

    kind: str = "pgd"
    norm: str = "linf"
    eps: float = 0.0
    eps_text: str = "0"
    steps: int = 10
    step_size: float | None = None
    random_start: bool = True
    restarts: int = 1
    loss: str = field(default="")

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InputError("attack", self.kind, "one of " + ", ".join(KINDS))
        if self.norm not in NORMS:
            raise InputError("norm", self.norm, "linf or l2")
        if not (self.eps >= 0 and math.isfinite(self.eps)):
            raise InputError("eps", self.eps, "a finite number >= 0")
        if self.kind == "fgsm":
            self.steps, self.random_start, self.restarts = 1, False, 1
        if int(self.steps) != self.steps or self.steps < (0 if self.kind in ("noise", "none") else 1):
            raise InputError("attack_steps", self.steps, "an integer >= 1")
        if int(self.restarts) != self.restarts or self.restarts < 1:
            raise InputError("restarts", self.restarts, "an integer >= 1")
        if self.step_size is None:
            self.step_size = self.eps if self.kind == "fgsm" else 2.5 * self.eps / max(self.steps, 1)
        if not (self.step_size >= 0 and math.isfinite(self.step_size)):
            raise InputError("step_size", self.step_size, "a finite number >= 0")
        if not self.loss:
            self.loss = {"trades": "kl", "noise": "none", "none": "none"}.get(self.kind, "ce")
        if self.eps_text in ("", "0") and self.eps:
            self.eps_text = f"{self.eps:g}"

    @property
    def init(self) -> str:
        """How the iterate starts: ``uniform`` (in the ball), ``normal0.001`` (TRADES) or ``none``."""
        if self.kind == "trades":
            return "normal0.001"
        return "uniform" if (self.random_start and self.kind == "pgd") else "none"

    def record(self, prefix: str) -> dict:
        """``{prefix_kind: ..., prefix_norm: ..., prefix_eps: ..., prefix_eps_text: ..., ...}``."""
        d = asdict(self)
        d["init"] = self.init
        return {f"{prefix}_{k}": v for k, v in d.items()}


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module, enabled: bool = True):
    """Put ``model`` in eval() mode for the block and restore its previous mode afterwards."""
    was_training = model.training
    if enabled:
        model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@contextlib.contextmanager
def frozen_parameters(model: torch.nn.Module):
    """Parameters stop requiring grad inside the block, so autograd records only the input path.

    ``torch.autograd.grad(loss, x)`` already skips parameter gradients for built-in ops; freezing also keeps custom
    autograd functions (whose ``needs_input_grad`` is fixed at forward time) from computing them.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p in params:
            p.requires_grad_(True)


def project_linf(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """Euclidean projection onto the l_inf ball of radius eps: coordinate-wise clamp (exact, separable)."""
    return delta.clamp(-eps, eps)


def project_l2(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """Euclidean projection onto the l_2 ball: ``delta * min(1, eps / ||delta||_2)`` per sample."""
    norms = delta.flatten(1).norm(dim=1).clamp_min(1e-30)
    factor = (eps / norms).clamp(max=1.0)
    return delta * factor.view(-1, *([1] * (delta.dim() - 1)))


def dual_norm(g: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-sample dual norm of a gradient: l_1 for an l_inf threat model, l_2 for l_2."""
    g = g.flatten(1)
    return g.abs().sum(1) if norm == "linf" else g.norm(dim=1)


def _random_start(x, cfg: AttackConfig, generator):
    if cfg.init == "normal0.001":
        return x + 0.001 * torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
    if cfg.init == "none" or cfg.eps == 0:
        return x.clone()
    if cfg.norm == "linf":
        u = torch.rand(x.shape, device=x.device, dtype=x.dtype, generator=generator)
        return x + (2 * u - 1) * cfg.eps
    # uniform in the l_2 ball: gaussian direction, radius eps * U^(1/d)
    d = x[0].numel()
    z = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
    z = z / z.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, *([1] * (x.dim() - 1)))
    r = cfg.eps * torch.rand(x.shape[0], device=x.device, dtype=x.dtype, generator=generator) ** (1.0 / d)
    return x + z * r.view(-1, *([1] * (x.dim() - 1)))


def _project_box(x_adv, x, cfg: AttackConfig, lo=None, hi=None):
    """Project onto ``B(x, eps) ∩ [0,1]^d`` in place where possible (l_inf: exact; l_2: ball then box)."""
    if cfg.norm == "linf":
        torch.maximum(x_adv, lo, out=x_adv)
        torch.minimum(x_adv, hi, out=x_adv)
        return x_adv
    return (x + project_l2(x_adv - x, cfg.eps)).clamp_(0.0, 1.0)


def _loss(logits, target, kind: str):
    """Summed loss: cross-entropy against labels, or KL(p_target || softmax(logits)) against probabilities."""
    if kind == "kl":
        return F.kl_div(F.log_softmax(logits.float(), dim=1), target, reduction="sum")
    return F.cross_entropy(logits.float(), target, reduction="sum")


def per_sample_loss(logits, target, kind: str):
    if kind == "kl":
        return F.kl_div(F.log_softmax(logits.float(), dim=1), target, reduction="none").sum(1)
    return F.cross_entropy(logits.float(), target, reduction="none")


@dataclass
class AttackResult:
    """``x_adv``; ``logits`` at x_adv (when requested); per-sample max dual gradient norm over the steps."""

    x_adv: torch.Tensor
    logits: torch.Tensor | None = None
    grad_norm_max: torch.Tensor | None = None


def _autocast(x, amp: bool):
    if amp and x.device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _pgd_run(model, x, target, cfg: AttackConfig, generator, track: bool, amp: bool):
    """One PGD run (the inner loop); returns the last iterate and the per-sample max dual gradient norm."""
    x = x.detach()
    if cfg.norm == "linf":
        lo = (x - cfg.eps).clamp_(min=0.0)
        hi = (x + cfg.eps).clamp_(max=1.0)
    else:
        lo = hi = None
    x_adv = _project_box(_random_start(x, cfg, generator), x, cfg, lo, hi)
    gmax = torch.zeros(x.shape[0], device=x.device) if track else None
    for _ in range(cfg.steps):
        x_adv.requires_grad_(True)
        with torch.enable_grad():
            with _autocast(x, amp):
                logits = model(x_adv)
            (g,) = torch.autograd.grad(_loss(logits, target, cfg.loss), x_adv)
        x_adv = x_adv.detach()
        if track:
            torch.maximum(gmax, dual_norm(g, cfg.norm), out=gmax)
        if cfg.norm == "linf":
            x_adv.add_(g.sign_(), alpha=cfg.step_size)
        else:
            gn = g.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, *([1] * (x.dim() - 1)))
            x_adv.add_(g.div_(gn), alpha=cfg.step_size)
        x_adv = _project_box(x_adv, x, cfg, lo, hi)
    return x_adv, gmax


def attack(model, x, y, cfg: AttackConfig, *, generator: torch.Generator | None = None,
           return_logits: bool = False, track_grad_norm: bool = False, amp: bool = False,
           nat_probs: torch.Tensor | None = None) -> AttackResult:
    """Run attack ``cfg`` on the batch ``(x, y)`` with ``model`` in its CURRENT mode (wrap in :func:`eval_mode`).

    For ``kind="trades"`` the target distribution is ``nat_probs`` (softmax of the clean logits, computed here when
    not given). ``return_logits`` adds the logits at the returned points (one extra forward per restart, also used
    to pick the per-sample worst case when ``restarts > 1``).
    """
    if cfg.kind == "none" or cfg.eps == 0 and cfg.kind != "trades":
        x_adv = x.detach().clone()
        logits = _forward_nograd(model, x_adv, amp) if return_logits else None
        gn = _grad_norm_at(model, x, y, cfg.norm, amp) if track_grad_norm else None
        return AttackResult(x_adv, logits, gn)
    if cfg.kind == "noise":
        noise = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
        x_adv = (x + cfg.eps * noise).clamp_(0.0, 1.0)
        return AttackResult(x_adv, _forward_nograd(model, x_adv, amp) if return_logits else None, None)
    if cfg.loss == "kl":
        if nat_probs is None:
            nat_probs = F.softmax(_forward_nograd(model, x, amp).float(), dim=1)
        target = nat_probs.detach()
    else:
        target = y
    best_x = best_logits = best_loss = best_wrong = gbest = None
    for r in range(cfg.restarts):
        with frozen_parameters(model):
            x_adv, gmax = _pgd_run(model, x, target, cfg, generator, track_grad_norm, amp)
        if cfg.restarts == 1 and not return_logits:
            return AttackResult(x_adv, None, gmax)
        logits = _forward_nograd(model, x_adv, amp)
        loss = per_sample_loss(logits, target, cfg.loss)
        wrong = logits.argmax(1) != y
        if r == 0:
            best_x, best_logits, best_loss, best_wrong, gbest = x_adv, logits, loss, wrong, gmax
            continue
        better = (wrong & ~best_wrong) | ((wrong == best_wrong) & (loss > best_loss))
        m = better.view(-1, *([1] * (x.dim() - 1)))
        best_x = torch.where(m, x_adv, best_x)
        best_logits = torch.where(better[:, None], logits, best_logits)
        best_loss = torch.where(better, loss, best_loss)
        best_wrong = best_wrong | wrong
        if track_grad_norm:
            gbest = torch.maximum(gbest, gmax)
    return AttackResult(best_x, best_logits, gbest)


def fgsm(model, x, y, eps: float, norm: str = "linf", **kw) -> AttackResult:
    """Fast gradient sign method (l_inf) / fast gradient method (l_2) with radius eps."""
    return attack(model, x, y, AttackConfig("fgsm", norm, eps), **kw)


def pgd(model, x, y, eps: float, steps: int = 20, step_size: float | None = None, norm: str = "linf",
        random_start: bool = True, restarts: int = 1, **kw) -> AttackResult:
    """Projected gradient descent; see :func:`attack`."""
    return attack(model, x, y, AttackConfig("pgd", norm, eps, steps=steps, step_size=step_size,
                                            random_start=random_start, restarts=restarts), **kw)


def _forward_nograd(model, x, amp=False):
    with torch.no_grad(), _autocast(x, amp):
        return model(x).float()


def _grad_norm_at(model, x, y, norm: str, amp=False) -> torch.Tensor:
    return dual_norm(input_gradients(model, x, y, amp), norm)


def input_gradients(model, x, y, amp: bool = False) -> torch.Tensor:
    """``∇_x CE(f(x), y)`` per sample (used by the sanity checks)."""
    xg = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        with _autocast(x, amp):
            logits = model(xg)
        (g,) = torch.autograd.grad(_loss(logits, y, "ce"), xg)
    return g
