"""White-box attacks on classifiers with inputs in [0, 1]: one PGD loop, small attack classes, every setting recorded.

**The loop** (:func:`pgd_loop`; Madry et al. 2018) is the only iterative attack code of :mod:`rfrobust.deep`; the
training objectives, the evaluation metrics, the accuracy curves and the local-Lipschitz estimates all run it:

    x_0 = start(x),  x_{t+1} = Proj_{B(x, eps) ∩ [0,1]^d}(x_t + alpha * s_t),   t = 0 .. steps - 1,

with ``s_t = sign(g_t)`` (l_inf) or ``g_t / ||g_t||_2`` (l_2) and ``g_t = ∇_x L(f(x_t), target)`` of a SUMMED loss,
so each sample's gradient is its own (eval mode). It differentiates with respect to the input only (the parameters
are frozen by the caller, :func:`frozen_parameters`) and updates the iterate in place. A per-step hook
(``on_step``) sees the logits and loss of every iterate and may take points out of the loop (early stop: the
nested accuracy curves drop a point at its first misclassified iterate) or record something along the path (the
ratio Lipschitz estimate keeps its maximum). Along the way the per-sample maximum dual norm of the input gradient
over the steps is available (Wu et al. 2021, section 4.1: the l_1 norm for an l_inf attack), which
:mod:`rfrobust.deep.metrics` reports as the local Lipschitz estimate.

**Attacks** are small subclasses of :class:`Attack`, registered by their ``kind`` (:func:`register_attack`) and
built from an :class:`AttackConfig` (the record of every setting: :meth:`AttackConfig.record`):

* ``pgd``    -- PGD on the cross-entropy; random start uniform in the ball; ``restarts`` independent runs with the
  per-sample worst case kept (a misclassifying run beats a correct one, then the larger loss wins). The last
  iterate of each run is returned (Madry et al.; ART does the same).
* ``fgsm``   -- (Goodfellow et al. 2015) one step of size eps from x, no random start (l_2: FGM).
* ``trades`` -- (Zhang et al. 2019) ascent on ``KL(p(x) || p(x'))`` as in the official TRADES code: start
  ``x + 0.001 N(0, I)`` NOT projected (the first gradient is taken there); l_inf: sign steps, projection onto
  ``B(x, eps) ∩ [0,1]^d``; l_2: step ``2 eps / steps`` along ``g / ||g||_2`` (a zero gradient is replaced by a
  ``N(0, I)`` draw, unnormalised), then clamp to ``[0,1]^d``, then ``delta.renorm_(2, 0, eps)`` (torch's renorm:
  a norm above eps is scaled to ``eps / (||delta|| + 1e-7)``); the result is clamped to ``[0,1]^d``.
* ``trades-pgd`` -- the TRADES KL attack on this module's PGD rules (rfrobust 0.1): the start projected onto the
  ball and box, l_2 step ``2.5 eps / steps``, projection ball-then-box, a zero gradient stays zero.
* ``cw``     -- PGD on the Carlini-Wagner margin ``max_{j != y} z_j - z_y`` of the logits z (kappa = infinity: no
  clipping), the "C&W" attack of robustness papers (Wu et al. 2021, Table 2).
* ``noise``  -- white noise ``clip(x + eps N(0, I), 0, 1)``, eps = the noise standard deviation.
* ``none``   -- the clean points.

:meth:`Attack.__call__` runs an attack with the model in eval() mode (``eval_mode=False``: its current mode) and the
parameters frozen. Adding an attack = one subclass + ``@register_attack`` (recipe: docs/design.md#add-attack); its
``kind`` is then accepted by :class:`AttackConfig` everywhere (evaluation, training objectives, the CLI).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from rfrobust.errors import InputError

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


# ---------------------------------------------------------------------------------------------------- losses
@dataclass(frozen=True)
class AttackLoss:
    """A loss an attack maximises. ``summed(logits, target)`` is differentiated (a sum over the batch, so every
    sample's input gradient is its own); ``per_sample`` ranks restarts. ``target`` is ``"label"`` (class indices)
    or ``"probs"`` (the clean output distribution, computed by the attack when not given)."""

    name: str
    summed: Callable
    per_sample: Callable
    target: str = "label"


def _ce_sum(logits, target):
    return F.cross_entropy(logits.float(), target, reduction="sum")


def _ce_each(logits, target):
    return F.cross_entropy(logits.float(), target, reduction="none")


def _kl_sum(logits, target):
    return F.kl_div(F.log_softmax(logits.float(), dim=1), target, reduction="sum")


def _kl_each(logits, target):
    return F.kl_div(F.log_softmax(logits.float(), dim=1), target, reduction="none").sum(1)


def _margin_each(logits, target):
    """Carlini-Wagner margin ``max_{j != y} z_j - z_y`` (positive: misclassified)."""
    z = logits.float()
    true = z.gather(1, target[:, None])[:, 0]
    other = z.masked_fill(F.one_hot(target, z.shape[1]).bool(), float("-inf")).amax(1)
    return other - true


def _margin_sum(logits, target):
    return _margin_each(logits, target).sum()


LOSSES: dict[str, AttackLoss] = {
    "ce": AttackLoss("ce", _ce_sum, _ce_each, "label"),
    "kl": AttackLoss("kl", _kl_sum, _kl_each, "probs"),
    "cw": AttackLoss("cw", _margin_sum, _margin_each, "label"),
}


def register_loss(loss: AttackLoss) -> AttackLoss:
    """Make ``loss.name`` usable as ``AttackConfig(loss=...)``."""
    LOSSES[loss.name] = loss
    return loss


def _loss(logits, target, kind: str):
    """Summed loss ``kind`` (see :data:`LOSSES`)."""
    return LOSSES[kind].summed(logits, target)


def per_sample_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-sample loss ``kind`` (see :data:`LOSSES`)."""
    return LOSSES[kind].per_sample(logits, target)


# ---------------------------------------------------------------------------------------------------- config
ATTACKS: dict[str, type[Attack]] = {}


def register_attack(cls: type[Attack]) -> type[Attack]:
    """Class decorator: register an :class:`Attack` subclass under its ``kind``."""
    if not isinstance(getattr(cls, "kind", None), str) or not cls.kind:
        raise TypeError(f"{cls.__name__} needs a non-empty class attribute 'kind'")
    ATTACKS[cls.kind] = cls
    return cls


def attack_kinds() -> tuple[str, ...]:
    """The registered attack kinds."""
    return tuple(ATTACKS)


@dataclass
class AttackConfig:
    """All settings of one attack; :meth:`record` flattens them into result columns.

    ``step_size=None`` means the attack's default rule (PGD, TRADES: Madry's ``2.5 * eps / steps``; FGSM: ``eps``).
    ``kind`` is any registered attack (:func:`attack_kinds`); kind-specific rules live in its class.
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

    def __post_init__(self) -> None:
        cls = ATTACKS.get(self.kind)
        if cls is None:
            raise InputError("attack", self.kind, "one of " + ", ".join(ATTACKS))
        if self.norm not in NORMS:
            raise InputError("norm", self.norm, "linf or l2")
        if not (self.eps >= 0 and math.isfinite(self.eps)):
            raise InputError("eps", self.eps, "a finite number >= 0")
        cls.configure(self)
        if int(self.steps) != self.steps or self.steps < cls.min_steps:
            raise InputError("attack_steps", self.steps, "an integer >= 1")
        if int(self.restarts) != self.restarts or self.restarts < 1:
            raise InputError("restarts", self.restarts, "an integer >= 1")
        if self.step_size is None:
            self.step_size = cls.default_step_size(self)
        if not (self.step_size >= 0 and math.isfinite(self.step_size)):
            raise InputError("step_size", self.step_size, "a finite number >= 0")
        if not self.loss:
            self.loss = cls.default_loss
        if self.loss not in LOSSES and self.loss != "none":
            raise InputError("loss", self.loss, "one of " + ", ".join(LOSSES))
        if self.eps_text in ("", "0") and self.eps:
            self.eps_text = f"{self.eps:g}"

    @property
    def init(self) -> str:
        """How the iterate starts, e.g. ``uniform`` (in the ball), ``normal0.001`` (TRADES) or ``none``."""
        return ATTACKS[self.kind].start_name(self)

    def build(self) -> Attack:
        """The :class:`Attack` that runs these settings."""
        return ATTACKS[self.kind](self)

    def record(self, prefix: str) -> dict:
        """``{prefix_kind: ..., prefix_norm: ..., prefix_eps: ..., prefix_eps_text: ..., ...}``."""
        d = asdict(self)
        d["init"] = self.init
        return {f"{prefix}_{k}": v for k, v in d.items()}


# ---------------------------------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def eval_mode(model: torch.nn.Module, enabled: bool = True) -> Iterator[torch.nn.Module]:
    """Put ``model`` in eval() mode for the block and restore its previous mode afterwards."""
    was_training = model.training
    if enabled:
        model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


_eval_ctx = eval_mode  # the context manager, for code whose arguments are called eval_mode


@contextlib.contextmanager
def frozen_parameters(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
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


def _per_sample_view(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


def _random_start(x, cfg: AttackConfig, generator):
    """The start point named by ``cfg.init`` (before the projection onto the ball and box)."""
    if cfg.init.startswith("normal0.001"):
        return x + 0.001 * torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
    if cfg.init == "none" or cfg.eps == 0:
        return x.clone()
    if cfg.norm == "linf":
        u = torch.rand(x.shape, device=x.device, dtype=x.dtype, generator=generator)
        return x + (2 * u - 1) * cfg.eps
    # uniform in the l_2 ball: gaussian direction, radius eps * U^(1/d)
    d = x[0].numel()
    z = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
    z = z / _per_sample_view(z.flatten(1).norm(dim=1).clamp_min(1e-30), x)
    r = cfg.eps * torch.rand(x.shape[0], device=x.device, dtype=x.dtype, generator=generator) ** (1.0 / d)
    return x + z * _per_sample_view(r, x)


def _box(x: torch.Tensor, norm: str, eps: float):
    """Coordinate bounds of ``B(x, eps) ∩ [0,1]^d`` for l_inf (``lo, hi``); ``None, None`` for l_2."""
    if norm == "linf":
        return (x - eps).clamp_(min=0.0), (x + eps).clamp_(max=1.0)
    return None, None


def _project_box(x_adv, x, cfg: AttackConfig, lo=None, hi=None):
    """Project onto ``B(x, eps) ∩ [0,1]^d`` in place where possible (l_inf: exact; l_2: ball then box)."""
    return _project(x_adv, x, cfg.norm, cfg.eps, lo, hi)


def _project(x_adv, x, norm: str, eps: float, lo, hi):
    if norm == "linf":
        torch.maximum(x_adv, lo, out=x_adv)
        torch.minimum(x_adv, hi, out=x_adv)
        return x_adv
    return (x + project_l2(x_adv - x, eps)).clamp_(0.0, 1.0)


def _ascend(x_adv, g, norm: str, step_size: float, generator=None):
    """``x_adv += step_size * s`` with ``s = sign(g)`` (l_inf) or ``g / ||g||_2`` (l_2); ``g`` is overwritten."""
    if norm == "linf":
        return x_adv.add_(g.sign_(), alpha=step_size)
    gn = _per_sample_view(g.flatten(1).norm(dim=1).clamp_min(1e-30), g)
    return x_adv.add_(g.div_(gn), alpha=step_size)


def _autocast(x, amp: bool):
    if amp and x.device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _forward_nograd(model, x, amp=False):
    with torch.no_grad(), _autocast(x, amp):
        return model(x).float()


def input_gradients(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool = False) -> torch.Tensor:
    """``∇_x CE(f(x), y)`` per sample (used by the sanity checks)."""
    xg = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        with _autocast(x, amp):
            logits = model(xg)
        (g,) = torch.autograd.grad(_loss(logits, y, "ce"), xg)
    return g


def _grad_norm_at(model, x, y, norm: str, amp=False) -> torch.Tensor:
    return dual_norm(input_gradients(model, x, y, amp), norm)


# ---------------------------------------------------------------------------------------------------- the loop
@dataclass
class LoopResult:
    """``x_adv`` after the loop (points that left early keep the iterate they left at); ``grad_norm_max`` the
    per-sample maximum dual norm of the input gradient over the steps (when tracked); ``active`` the indices of
    the points still in the loop at the end (``None``: all of them)."""

    x_adv: torch.Tensor
    grad_norm_max: torch.Tensor | None = None
    active: torch.Tensor | None = None


StepHook = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], "torch.Tensor | None"]


def pgd_loop(
    model,
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    norm: str,
    eps: float,
    step_size: float,
    steps: int,
    start: Callable,
    loss: Callable,
    generator: torch.Generator | None = None,
    amp: bool = False,
    track_grad_norm: bool = False,
    on_step: StepHook | None = None,
    project_start: bool = True,
    ascend: Callable | None = None,
    project: Callable | None = None,
) -> LoopResult:
    """The projected-gradient loop of every attack (module docstring); the model runs in its current mode.

    ``start(x, generator)`` gives the first iterate (projected onto ``B(x, eps) ∩ [0,1]^d`` unless
    ``project_start=False``); ``loss(logits, target, x_adv, x)`` returns the loss to ascend, a scalar (already
    summed over the batch) or one value per sample (summed here). ``on_step(logits, loss_value, idx)`` is called at
    every iterate, before the step, with ``idx`` the indices of the points in the loop (``None``: all); it returns
    ``None`` or a boolean mask over those points: the marked points leave the loop and keep their current iterate.
    ``ascend(x_adv, g, generator)`` and ``project(x_adv, x, lo, hi)`` replace the norm's step and projection
    (default: :func:`_ascend`, :func:`_project`). ``target`` and ``x`` are indexed along with the iterate.
    """
    x = x.detach()
    lo, hi = _box(x, norm, eps)
    step = ascend or (lambda xs, g, gen: _ascend(xs, g, norm, step_size, gen))
    proj = project or (lambda xs, x0, lo_, hi_: _project(xs, x0, norm, eps, lo_, hi_))
    x_adv = start(x, generator)
    if project_start:
        x_adv = proj(x_adv, x, lo, hi)
    gmax = torch.zeros(x.shape[0], device=x.device) if track_grad_norm else None
    active: torch.Tensor | None = None
    for _ in range(steps):
        if active is None:
            xs, ts, x0, los, his = x_adv, target, x, lo, hi
        else:
            xs, ts, x0 = x_adv[active], target[active], x[active]
            los, his = (lo[active], hi[active]) if lo is not None else (None, None)
        xs.requires_grad_(True)
        with torch.enable_grad():
            with _autocast(x, amp):
                logits = model(xs)
            value = loss(logits, ts, xs, x0)
            (g,) = torch.autograd.grad(value.sum() if value.dim() else value, xs)
        xs = xs.detach()
        if gmax is not None:
            gn = dual_norm(g, norm)
            if active is None:
                torch.maximum(gmax, gn, out=gmax)
            else:
                gmax[active] = torch.maximum(gmax[active], gn)
        if on_step is not None:
            leave = on_step(logits.detach(), value.detach(), active)
            if leave is not None and bool(leave.any()):
                keep = ~leave
                if active is None:
                    active = torch.arange(x.shape[0], device=x.device)
                    x_adv = x_adv.detach()
                active, g, xs, x0 = active[keep], g[keep], xs[keep], x0[keep]
                if los is not None:
                    los, his = los[keep], his[keep]
                if active.numel() == 0:
                    break
        xs = proj(step(xs, g, generator), x0, los, his)
        if active is None:
            x_adv = xs
        else:
            x_adv[active] = xs
    return LoopResult(x_adv.detach(), gmax, active)


# ---------------------------------------------------------------------------------------------------- attacks
@dataclass
class AttackResult:
    """``x_adv``; ``logits`` at x_adv (when requested); per-sample max dual gradient norm over the steps."""

    x_adv: torch.Tensor
    logits: torch.Tensor | None = None
    grad_norm_max: torch.Tensor | None = None


class Attack:
    """Base class: runs :meth:`perturb` restart by restart in eval() mode with frozen parameters, keeps the
    per-sample worst case, and records its settings (``self.cfg``, an :class:`AttackConfig`).

    A subclass sets ``kind`` (its registry name) and overrides what differs: :meth:`perturb` (one run; default: the
    PGD loop on ``cfg.loss``), :meth:`start` (first iterate), class attributes ``default_loss`` / ``min_steps`` and
    the class methods :meth:`configure` (fixed settings), :meth:`default_step_size`, :meth:`start_name`.
    """

    kind: ClassVar[str] = ""
    default_loss: ClassVar[str] = "ce"
    min_steps: ClassVar[int] = 1
    project_start: ClassVar[bool] = True
    gradient_based: ClassVar[bool] = True

    def __init__(self, cfg: AttackConfig) -> None:
        self.cfg = cfg

    # ------------------------------------------------------------------ settings
    @classmethod
    def configure(cls, cfg: AttackConfig) -> None:
        """Apply this kind's fixed settings to ``cfg`` (before validation); default: nothing."""

    @classmethod
    def default_step_size(cls, cfg: AttackConfig) -> float:
        """Madry's rule ``2.5 eps / steps``."""
        return 2.5 * cfg.eps / max(cfg.steps, 1)

    @classmethod
    def start_name(cls, cfg: AttackConfig) -> str:
        return "uniform" if cfg.random_start else "none"

    def record(self, prefix: str) -> dict:
        return self.cfg.record(prefix)

    # ------------------------------------------------------------------ running
    def __call__(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        return_logits: bool = False,
        track_grad_norm: bool = False,
        amp: bool = False,
        nat_probs: torch.Tensor | None = None,
        eval_mode: bool = True,
    ) -> AttackResult:
        """Attack the batch ``(x, y)`` (labels ``y`` define success). ``eval_mode=False`` keeps the model's mode.

        ``return_logits`` adds the logits at the returned points (one extra forward per restart, also used to pick
        the per-sample worst case when ``restarts > 1``); ``track_grad_norm`` the per-sample maximum dual norm of
        the input gradient along the run; ``nat_probs`` the clean output distribution for KL losses.
        """
        with _eval_ctx(model, eval_mode):
            return self.run(
                model,
                x,
                y,
                generator=generator,
                return_logits=return_logits,
                track_grad_norm=track_grad_norm,
                amp=amp,
                nat_probs=nat_probs,
            )

    def is_identity(self) -> bool:
        """True when the attack returns the clean points (eps = 0)."""
        return self.cfg.eps == 0

    def run(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        return_logits: bool = False,
        track_grad_norm: bool = False,
        amp: bool = False,
        nat_probs: torch.Tensor | None = None,
    ) -> AttackResult:
        """:meth:`__call__` without the mode switch: restarts of :meth:`perturb`, per-sample worst case."""
        cfg = self.cfg
        if self.is_identity():
            x_adv = x.detach().clone()
            logits = _forward_nograd(model, x_adv, amp) if return_logits else None
            gn = _grad_norm_at(model, x, y, cfg.norm, amp) if track_grad_norm else None
            return AttackResult(x_adv, logits, gn)
        target = self.target(model, x, y, nat_probs, amp)
        # the per-sample best so far, set by the first restart (AttackConfig checks restarts >= 1)
        best_x: torch.Tensor
        best_logits: torch.Tensor
        best_loss: torch.Tensor
        best_wrong: torch.Tensor
        gbest: torch.Tensor | None
        for r in range(cfg.restarts):
            with frozen_parameters(model):
                x_adv, gmax = self.perturb(
                    model, x, target, generator=generator, track_grad_norm=track_grad_norm, amp=amp
                )
            if cfg.restarts == 1 and not return_logits:
                return AttackResult(x_adv, None, gmax)
            logits = _forward_nograd(model, x_adv, amp)
            if cfg.restarts == 1:
                return AttackResult(x_adv, logits, gmax)
            loss = per_sample_loss(logits, target, cfg.loss)
            wrong = logits.argmax(1) != y
            if r == 0:
                best_x, best_logits, best_loss, best_wrong, gbest = x_adv, logits, loss, wrong, gmax
                continue
            better = (wrong & ~best_wrong) | ((wrong == best_wrong) & (loss > best_loss))
            best_x = torch.where(_per_sample_view(better, x), x_adv, best_x)
            best_logits = torch.where(better[:, None], logits, best_logits)
            best_loss = torch.where(better, loss, best_loss)
            best_wrong = best_wrong | wrong
            if track_grad_norm and gbest is not None and gmax is not None:
                gbest = torch.maximum(gbest, gmax)
        return AttackResult(best_x, best_logits, gbest)

    def target(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        nat_probs: torch.Tensor | None = None,
        amp: bool = False,
    ) -> torch.Tensor:
        """What the loss compares with: the labels, or the clean output distribution for a ``probs`` loss."""
        if LOSSES[self.cfg.loss].target == "probs":
            if nat_probs is None:
                nat_probs = F.softmax(_forward_nograd(model, x, amp).float(), dim=1)
            return nat_probs.detach()
        return y

    def start(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The first iterate (before projection)."""
        return _random_start(x, self.cfg, generator)

    def loop(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        target: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        amp: bool = False,
        track_grad_norm: bool = False,
        on_step: StepHook | None = None,
        loss: Callable | None = None,
        steps: int | None = None,
    ) -> LoopResult:
        """One run of :func:`pgd_loop` with this attack's settings (``loss``/``steps`` override them)."""
        cfg = self.cfg
        assert cfg.step_size is not None  # AttackConfig.__post_init__ fills the default rule
        if loss is None:
            summed = LOSSES[cfg.loss].summed

            def attack_loss(logits, t, xs, x0):
                return summed(logits, t)

        return pgd_loop(
            model,
            x,
            target,
            norm=cfg.norm,
            eps=cfg.eps,
            step_size=cfg.step_size,
            steps=cfg.steps if steps is None else steps,
            start=self.start,
            loss=attack_loss if loss is None else loss,
            generator=generator,
            amp=amp,
            track_grad_norm=track_grad_norm,
            on_step=on_step,
            project_start=self.project_start,
        )

    def perturb(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        target: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        track_grad_norm: bool = False,
        amp: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One run: ``(x_adv, grad_norm_max)``; the default is one pass of the PGD loop."""
        res = self.loop(model, x, target, generator, amp=amp, track_grad_norm=track_grad_norm)
        return res.x_adv, res.grad_norm_max


@register_attack
class PGD(Attack):
    """Projected gradient descent on ``cfg.loss`` (default cross-entropy), l_inf or l_2 (module docstring)."""

    kind = "pgd"


@register_attack
class FGSM(Attack):
    """Fast gradient sign method (l_inf) / fast gradient method (l_2): one step of size eps from x."""

    kind = "fgsm"

    @classmethod
    def configure(cls, cfg: AttackConfig) -> None:
        cfg.steps, cfg.random_start, cfg.restarts = 1, False, 1

    @classmethod
    def default_step_size(cls, cfg: AttackConfig) -> float:
        return cfg.eps

    @classmethod
    def start_name(cls, cfg: AttackConfig) -> str:
        return "none"


@register_attack
class TradesKL(Attack):
    """TRADES' inner maximisation as in the official code (Zhang et al. 2019; module docstring): ascent on
    ``KL(p(x) || p(x'))`` from the unprojected start ``x + 0.001 N(0, I)``; l_2 with the official step, order of
    projections and zero-gradient rule."""

    kind = "trades"
    default_loss = "kl"
    project_start = False

    @classmethod
    def default_step_size(cls, cfg: AttackConfig) -> float:
        """l_inf: Madry's ``2.5 eps / steps``; l_2: the official ``2 eps / steps`` (SGD lr of the delta)."""
        return (2.0 if cfg.norm == "l2" else 2.5) * cfg.eps / max(cfg.steps, 1)

    @classmethod
    def start_name(cls, cfg: AttackConfig) -> str:
        return "normal0.001"

    def is_identity(self) -> bool:
        return False

    def perturb(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        target: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        track_grad_norm: bool = False,
        amp: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        cfg = self.cfg
        assert cfg.step_size is not None  # AttackConfig.__post_init__ fills the default rule
        rules: dict[str, Callable] = {}
        if cfg.norm == "l2":
            eps, step = cfg.eps, cfg.step_size

            def ascend(xs, g, gen):  # official: normalise, replace zero gradients by N(0, I), SGD step
                gn = g.flatten(1).norm(dim=1)
                g.div_(_per_sample_view(gn, g))
                zero = gn == 0
                if bool(zero.any()):
                    g[zero] = torch.randn(g[zero].shape, device=g.device, dtype=g.dtype, generator=gen)
                return xs.add_(g, alpha=step)

            def project(xs, x0, lo, hi):  # official: box first, then renorm the perturbation to the ball
                delta = xs.clamp_(0.0, 1.0) - x0
                return x0 + delta.renorm_(p=2, dim=0, maxnorm=eps)

            rules = {"ascend": ascend, "project": project}
        summed = LOSSES[cfg.loss].summed
        res = pgd_loop(
            model,
            x,
            target,
            norm=cfg.norm,
            eps=cfg.eps,
            step_size=cfg.step_size,
            steps=cfg.steps,
            start=self.start,
            loss=lambda logits, t, xs, x0: summed(logits, t),
            generator=generator,
            amp=amp,
            track_grad_norm=track_grad_norm,
            project_start=False,
            **rules,
        )
        return res.x_adv.clamp_(0.0, 1.0), res.grad_norm_max


@register_attack
class TradesPGD(Attack):
    """The TRADES KL attack on PGD's rules (rfrobust 0.1): start ``x + 0.001 N(0, I)`` projected onto the ball and
    box, l_2 step ``2.5 eps / steps`` with ball-then-box projection."""

    kind = "trades-pgd"
    default_loss = "kl"

    @classmethod
    def start_name(cls, cfg: AttackConfig) -> str:
        return "normal0.001-projected"

    def is_identity(self) -> bool:
        return False


@register_attack
class CW(Attack):
    """PGD on the Carlini-Wagner margin ``max_{j != y} z_j - z_y`` (l_inf or l_2; uniform random start)."""

    kind = "cw"
    default_loss = "cw"


@register_attack
class Noise(Attack):
    """White Gaussian noise ``clip(x + eps z, 0, 1)``, ``z ~ N(0, I)``: eps is the standard deviation."""

    kind = "noise"
    default_loss = "none"
    min_steps = 0
    gradient_based = False

    @classmethod
    def start_name(cls, cfg: AttackConfig) -> str:
        return "none"

    def run(
        self,
        model: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        return_logits: bool = False,
        track_grad_norm: bool = False,
        amp: bool = False,
        nat_probs: torch.Tensor | None = None,
    ) -> AttackResult:
        if self.is_identity():
            return super().run(
                model, x, y, generator=generator, return_logits=return_logits, track_grad_norm=track_grad_norm, amp=amp
            )
        noise = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
        x_adv = (x + self.cfg.eps * noise).clamp_(0.0, 1.0)
        return AttackResult(x_adv, _forward_nograd(model, x_adv, amp) if return_logits else None, None)


@register_attack
class NoAttack(Attack):
    """The clean points (natural accuracy through the same code path)."""

    kind = "none"
    default_loss = "none"
    min_steps = 0
    gradient_based = False

    @classmethod
    def start_name(cls, cfg: AttackConfig) -> str:
        return "none"

    def is_identity(self) -> bool:
        return True


KINDS = attack_kinds()  # the built-in kinds; attack_kinds() also lists kinds registered later


# ---------------------------------------------------------------------------------------------------- functions
def attack(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: AttackConfig,
    *,
    generator: torch.Generator | None = None,
    return_logits: bool = False,
    track_grad_norm: bool = False,
    amp: bool = False,
    nat_probs: torch.Tensor | None = None,
) -> AttackResult:
    """Run attack ``cfg`` on the batch ``(x, y)`` with ``model`` in its CURRENT mode (wrap in :func:`eval_mode`).

    Same as ``cfg.build()(model, x, y, ..., eval_mode=False)``; see :meth:`Attack.__call__`.
    """
    return cfg.build()(
        model,
        x,
        y,
        generator=generator,
        return_logits=return_logits,
        track_grad_norm=track_grad_norm,
        amp=amp,
        nat_probs=nat_probs,
        eval_mode=False,
    )


def fgsm(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str = "linf", **kw: Any
) -> AttackResult:
    """Fast gradient sign method (l_inf) / fast gradient method (l_2) with radius eps."""
    return attack(model, x, y, AttackConfig("fgsm", norm, eps), **kw)


def pgd(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    steps: int = 20,
    step_size: float | None = None,
    norm: str = "linf",
    random_start: bool = True,
    restarts: int = 1,
    **kw: Any,
) -> AttackResult:
    """Projected gradient descent; see :func:`attack`."""
    return attack(
        model,
        x,
        y,
        AttackConfig("pgd", norm, eps, steps=steps, step_size=step_size, random_start=random_start, restarts=restarts),
        **kw,
    )
