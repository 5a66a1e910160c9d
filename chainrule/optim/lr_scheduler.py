r"""Learning-rate schedules with PyTorch's semantics: call ``scheduler.step()`` once per epoch (after
the epoch's ``optimizer.step()`` calls); construction applies the epoch-0 rate.  (spec: OPT-LR-SCHEDULE)

Closed forms, η₀ = the group's initial lr, e = ``last_epoch``:

- ``StepLR``:            η₀·γ^⌊e/step_size⌋ (step decay)
- ``MultiStepLR``:       η₀·γ^{#milestones ≤ e}  (e.g. [150], 0.1: the DenseNet/CIFAR recipe)
- ``ExponentialLR``:     η₀·γ^e
- ``InverseTimeLR``:     η₀/(1 + k·e)^p (search-then-converge annealing; p = 1: η ∝ 1/t as in
                         Robbins–Monro)
- ``PolynomialLR``:      η₀·(1 − min(e, T)/T)^p
- ``CosineAnnealingLR``: η_min + (η₀ − η_min)(1 + cos(π e/T_max))/2
- ``CosineAnnealingWarmRestarts``: the same within each cycle of length T_i = T₀·T_multⁱ (SGDR)
- ``LinearLR`` (linear warm-up): η₀·(s + (f − s)·min(e, T)/T)
- ``ConstantLR``:        η₀·factor for e < T, then η₀
- ``LambdaLR``:          η₀·λ(e);   ``MultiplicativeLR``: η_e = η_{e−1}·λ(e)
- ``SequentialLR``:      switch schedulers at milestones (e.g. warm-up then cosine, see
                         :func:`warmup_cosine`)
- ``ChainedScheduler``:  step several schedules at once; their effects compose (η_e = η₀·Π_s f_s(e) for
                         the multiplicative ones, e.g. ConstantLR warm-up × ExponentialLR decay)
- ``ReduceLROnPlateau``: η ← max(η·factor, min_lr) after ``patience`` epochs without improvement
- ``scale_lr(lr, b_old, b_new)``: batch-size scaling η·b_new/b_old (keeps η/b, the SGD temperature of
  REG-SGD-TEMPERATURE, fixed); ``rule='sqrt'`` gives η·√(b_new/b_old).

Per-parameter-group rates are scheduled independently; per-weight lr arrays are scaled elementwise.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence

import numpy as np

from .optimizer import Optimizer


def _check_optimizer(optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"a scheduler needs a chainrule Optimizer, got {type(optimizer).__name__}")


class LRScheduler:
    """Base: keeps ``base_lrs`` (each group's ``initial_lr``) and sets ``group['lr'] = get_lr()`` on each
    ``step()``.  Subclasses give the closed form ``get_lr()`` at ``self.last_epoch``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for g in optimizer.param_groups:
                g.setdefault("initial_lr", g["lr"])
        else:
            for i, g in enumerate(optimizer.param_groups):
                if "initial_lr" not in g:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a "
                                   "scheduler (last_epoch != -1); load the optimizer state first")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list:
        raise NotImplementedError

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch (or jump to ``epoch``) and set the groups' rates."""
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        self._apply(self.get_lr())

    def _apply(self, lrs) -> None:
        for g, lr in zip(self.optimizer.param_groups, lrs):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        return list(self._last_lr)

    # ------------------------------------------------- chainable (recursive) form, for ChainedScheduler
    def _chain_factors(self, epoch: int) -> list | None:
        """PyTorch's chainable form as factors: η_e = η_{e−1}·φ_e per group (η_{−1} = the rate before the
        schedule), or None when the schedule has no chainable form (it then sets its closed form)."""
        return None

    def _chain_map(self, lrs: list, epoch: int) -> list:
        """The group rates after this schedule's epoch ``epoch`` is applied to the rates ``lrs``."""
        fs = self._chain_factors(epoch)
        return [lr * f for lr, f in zip(lrs, fs)]

    @property
    def _chainable(self) -> bool:
        return type(self)._chain_map is not LRScheduler._chain_map or \
            type(self)._chain_factors is not LRScheduler._chain_factors

    def _chain_step(self) -> None:
        """One ``step()`` inside a :class:`ChainedScheduler`: scale the groups' *current* rates (so the
        schedules compose, as PyTorch's recursive forms do), or set the closed form when there is no
        chainable form (LambdaLR, CosineAnnealingWarmRestarts — PyTorch's behave the same)."""
        if not self._chainable:
            self.step()
            return
        self.last_epoch += 1
        self._apply(self._chain_map([g["lr"] for g in self.optimizer.param_groups], self.last_epoch))

    def state_dict(self) -> dict:
        """Everything but the optimizer and callables (lr lambdas are code, not state)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer" and not callable(v)
                and not (isinstance(v, list) and v and all(callable(x) for x in v))}

    def load_state_dict(self, sd: dict) -> None:
        self.__dict__.update(sd)


class StepLR(LRScheduler):
    """η_e = η₀·γ^⌊e/step_size⌋ (step decay).  (spec: OPT-LR-SCHEDULE)"""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"step_size must be a positive integer (epochs between decays), got {step_size!r}")
        _check_gamma(gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]

    def _chain_factors(self, epoch):
        f = self.gamma if epoch > 0 and epoch % self.step_size == 0 else 1.0
        return [f] * len(self.base_lrs)


class MultiStepLR(LRScheduler):
    """η_e = η₀·γ^{#milestones ≤ e}.  MultiStepLR([150], 0.1) from 0.1: 0.1 for epochs 0–149, 0.01
    from 150.  (spec: OPT-LR-SCHEDULE)"""

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1, last_epoch: int = -1):
        ms = list(milestones)
        if any(not isinstance(m, int | np.integer) or m < 0 for m in ms):
            raise ValueError(f"milestones must be non-negative integer epochs, got {milestones!r}")
        _check_gamma(gamma)
        self.milestones = sorted(int(m) for m in ms)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        k = bisect.bisect_right(self.milestones, self.last_epoch)
        return [b * self.gamma ** k for b in self.base_lrs]

    def _chain_factors(self, epoch):
        k = self.milestones.count(epoch)  # a repeated milestone decays k times
        return [self.gamma ** k if k else 1.0] * len(self.base_lrs)


class ExponentialLR(LRScheduler):
    """η_e = η₀·γ^e."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        _check_gamma(gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]

    def _chain_factors(self, epoch):
        return [self.gamma if epoch > 0 else 1.0] * len(self.base_lrs)


class InverseTimeLR(LRScheduler):
    """η_e = η₀/(1 + k·e)^p: the classical annealing η ∝ 1/t (p = 1, Robbins–Monro conditions
    Σηₑ = ∞, Σηₑ² < ∞) or 1/√t (p = 0.5)."""

    def __init__(self, optimizer: Optimizer, decay: float, power: float = 1.0, last_epoch: int = -1):
        if not decay >= 0:
            raise ValueError(f"decay k must be >= 0, got {decay}")
        if not power >= 0:
            raise ValueError(f"power p must be >= 0, got {power}")
        self.decay, self.power = decay, power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [b / (1 + self.decay * self.last_epoch) ** self.power for b in self.base_lrs]

    def _chain_factors(self, epoch):
        f = ((1 + self.decay * (epoch - 1)) / (1 + self.decay * epoch)) ** self.power if epoch > 0 else 1.0
        return [f] * len(self.base_lrs)


class PolynomialLR(LRScheduler):
    """η_e = η₀·(1 − min(e, T)/T)^p with T = ``total_iters``."""

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        if not isinstance(total_iters, int) or total_iters < 1:
            raise ValueError(f"total_iters must be a positive integer, got {total_iters!r}")
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        f = (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
        return [b * f for b in self.base_lrs]

    def _chain_factors(self, epoch):
        T = self.total_iters
        f = 1.0 if epoch == 0 or epoch > T else ((1.0 - epoch / T) / (1.0 - (epoch - 1) / T)) ** self.power
        return [f] * len(self.base_lrs)


class CosineAnnealingLR(LRScheduler):
    """η_e = η_min + (η₀ − η_min)(1 + cos(π e/T_max))/2 (SGDR without restarts; periodic beyond T_max
    like PyTorch's)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if not T_max > 0:
            raise ValueError(f"T_max must be > 0 (epochs of one half cosine), got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (b - self.eta_min) * c for b in self.base_lrs]

    def _chain_map(self, lrs, epoch):
        """PyTorch's recursive form: η_e − η_min = (η_{e−1} − η_min)·(1 + cos(πe/T))/(1 + cos(π(e−1)/T)),
        and at the restart points of its periodic continuation η_e = η_{e−1} + (η₀ − η_min)(1 − cos(π/T))/2."""
        T, mn = self.T_max, self.eta_min
        if epoch == 0:
            return list(lrs)
        if (epoch - 1 - T) % (2 * T) == 0:
            return [lr + (b - mn) * (1 - math.cos(math.pi / T)) / 2 for lr, b in zip(lrs, self.base_lrs)]
        r = (1 + math.cos(math.pi * epoch / T)) / (1 + math.cos(math.pi * (epoch - 1) / T))
        return [r * (lr - mn) + mn for lr in lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov & Hutter): η = η_min + (η₀ − η_min)(1 + cos(π T_cur/T_i))/2, restarting at η₀
    after T_i epochs; T_i = T₀·T_multⁱ.  ``step(epoch)`` accepts fractional epochs (per batch)."""

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1):
        if not isinstance(T_0, int) or T_0 < 1:
            raise ValueError(f"T_0 must be a positive integer, got {T_0!r}")
        if not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"T_mult must be an integer >= 1, got {T_mult!r}")
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        c = (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        return [self.eta_min + (b - self.eta_min) * c for b in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"expected a non-negative epoch, got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        self._apply(self.get_lr())


class LinearLR(LRScheduler):
    """Linear warm-up (or decay): η_e = η₀·(s + (f − s)·min(e, T)/T), s = ``start_factor``,
    f = ``end_factor``, T = ``total_iters``."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(f"need 0 < start_factor <= 1 and 0 <= end_factor <= 1, got {start_factor}, {end_factor}")
        if not isinstance(total_iters, int) or total_iters < 1:
            raise ValueError(f"total_iters must be a positive integer, got {total_iters!r}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        f = self.start_factor + (self.end_factor - self.start_factor) * min(self.total_iters, self.last_epoch) \
            / self.total_iters
        return [b * f for b in self.base_lrs]

    def _chain_factors(self, epoch):
        s, e, T = self.start_factor, self.end_factor, self.total_iters
        if epoch == 0:
            f = s
        elif epoch > T:
            f = 1.0
        else:
            f = 1.0 + (e - s) / (T * s + (epoch - 1) * (e - s))
        return [f] * len(self.base_lrs)


class ConstantLR(LRScheduler):
    """η_e = η₀·factor for e < total_iters, then η₀."""

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        if not 0 <= factor <= 1:
            raise ValueError(f"factor must be in [0, 1], got {factor}")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        f = self.factor if self.last_epoch < self.total_iters else 1.0
        return [b * f for b in self.base_lrs]

    def _chain_factors(self, epoch):
        if epoch == 0:
            f = self.factor
        elif epoch == self.total_iters:
            if self.factor == 0:
                raise ZeroDivisionError("ConstantLR(factor=0) cannot be chained: leaving the constant phase would "
                                        "divide the chained rate by 0; use a small positive factor")
            f = 1.0 / self.factor
        else:
            f = 1.0
        return [f] * len(self.base_lrs)


class LambdaLR(LRScheduler):
    """η_e = η₀·λ(e); ``lr_lambda`` is a function of the epoch or one per parameter group."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | Sequence[Callable], last_epoch: int = -1):
        n = len(optimizer.param_groups)
        if callable(lr_lambda):
            self.lr_lambdas = [lr_lambda] * n
        else:
            self.lr_lambdas = list(lr_lambda)
            if len(self.lr_lambdas) != n or not all(callable(f) for f in self.lr_lambdas):
                raise ValueError(f"expected one callable or {n} callables (one per parameter group), got "
                                 f"{lr_lambda!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [b * f(self.last_epoch) for b, f in zip(self.base_lrs, self.lr_lambdas)]


class MultiplicativeLR(LRScheduler):
    """η_e = η_{e−1}·λ(e) for e > 0 (recursive)."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | Sequence[Callable], last_epoch: int = -1):
        n = len(optimizer.param_groups)
        self.lr_lambdas = [lr_lambda] * n if callable(lr_lambda) else list(lr_lambda)
        if len(self.lr_lambdas) != n or not all(callable(f) for f in self.lr_lambdas):
            raise ValueError(f"expected one callable or {n} callables (one per parameter group)")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch > 0:
            return [g["lr"] * f(self.last_epoch) for g, f in zip(self.optimizer.param_groups, self.lr_lambdas)]
        return [g["lr"] for g in self.optimizer.param_groups]

    def _chain_factors(self, epoch):
        return [f(epoch) if epoch > 0 else 1.0 for f in self.lr_lambdas]


class SequentialLR(LRScheduler):
    """Run ``schedulers[i]`` from ``milestones[i−1]`` on; each one restarts at its epoch 0 when it takes
    over (PyTorch semantics).  Example: ``SequentialLR(opt, [LinearLR(opt, 0.01, total_iters=5),
    CosineAnnealingLR(opt, T_max=95)], milestones=[5])`` = 5 warm-up epochs then cosine decay."""

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1):
        _check_optimizer(optimizer)
        if len(schedulers) < 1 or len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR needs k schedulers and k − 1 milestones, got {len(schedulers)} and "
                             f"{len(milestones)}")
        for s in schedulers:
            if s.optimizer is not optimizer:
                raise ValueError("all schedulers of a SequentialLR must belong to its optimizer")
        self.optimizer = optimizer
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        for g in optimizer.param_groups:
            g["lr"] = g["initial_lr"]
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        first = self._schedulers[0]
        first.last_epoch = -1
        first.step()
        self._last_lr = first.get_last_lr()

    def step(self, epoch=None) -> None:
        self.last_epoch += 1
        idx = bisect.bisect_right(self._milestones, self.last_epoch)
        sch = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sch.step(0)
        else:
            sch.step()
        self._last_lr = sch.get_last_lr()

    def state_dict(self) -> dict:
        sd = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        sd["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return sd

    def load_state_dict(self, sd: dict) -> None:
        sd = dict(sd)
        subs = sd.pop("_schedulers")
        self.__dict__.update(sd)
        for s, d in zip(self._schedulers, subs):
            s.load_state_dict(d)


class ChainedScheduler(LRScheduler):
    """Step several schedulers of one optimizer together: ``step()`` steps each in order, and their effects
    compose (PyTorch's ChainedScheduler and the schedules' chainable forms).  For the multiplicative
    schedules (StepLR, MultiStepLR, ExponentialLR, LinearLR, ConstantLR, PolynomialLR, MultiplicativeLR,
    InverseTimeLR) the rate is the product of their factors, η_e = η₀·Π_s f_s(e), f_s(e) = η_s(e)/η₀;
    CosineAnnealingLR scales η − η_min; LambdaLR and CosineAnnealingWarmRestarts set their closed form
    (anything stepped before them in the chain is overwritten), as in PyTorch.

    Example: ``ChainedScheduler([ConstantLR(opt, factor=0.1, total_iters=20), ExponentialLR(opt, 0.9)])``
    from η₀ = 0.05 gives 0.005·0.9^e for e < 20 and 0.05·0.9^e from e = 20 on.

    The schedulers are built first, as usual (here each one sets its own closed form when built);
    constructing the ChainedScheduler sets the chained rate of their current epoch (0 when fresh).
    ``state_dict`` holds its own state and every scheduler's.
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None):
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler expects at least one scheduler to be chained, got none")
        optimizer = optimizer if optimizer is not None else getattr(schedulers[0], "optimizer", None)
        _check_optimizer(optimizer)
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"ChainedScheduler does not support ReduceLROnPlateau (index {i}): it needs the "
                                 "metric in step(metric); step it yourself next to the ChainedScheduler")
            if isinstance(s, SequentialLR | ChainedScheduler):
                raise ValueError(f"ChainedScheduler cannot chain a {type(s).__name__} (index {i}): its schedules "
                                 "are set in closed form; chain the inner schedulers directly instead")
            if not isinstance(s, LRScheduler):
                raise TypeError(f"ChainedScheduler expects learning-rate schedulers, got {type(s).__name__} at "
                                f"index {i}")
            if s.optimizer is not optimizer:
                raise ValueError(f"ChainedScheduler expects all schedulers to belong to the same optimizer, but "
                                 f"the {type(s).__name__} at index {i} has another one")
        self.optimizer = optimizer
        self._schedulers = schedulers
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = max(s.last_epoch for s in schedulers)
        # replay the chain epoch by epoch from η₀ (the schedulers set their own closed forms when built)
        lrs = list(self.base_lrs)
        for e in range(self.last_epoch + 1):
            for s in schedulers:
                if s._chainable:
                    if e <= s.last_epoch:
                        lrs = s._chain_map(lrs, e)
                elif e == s.last_epoch:  # closed form: only its last application counts
                    lrs = s.get_lr()
        for s in schedulers:
            s._apply(lrs)
        self._apply(lrs)

    def step(self) -> None:
        """Step every scheduler once, in order."""
        for s in self._schedulers:
            s._chain_step()
        self.last_epoch += 1
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        sd = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        sd["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return sd

    def load_state_dict(self, sd: dict) -> None:
        sd = dict(sd)
        subs = sd.pop("_schedulers")
        if len(subs) != len(self._schedulers):
            raise ValueError(f"the saved ChainedScheduler has {len(subs)} schedulers, this one "
                             f"{len(self._schedulers)}; build the same chain before loading")
        self.__dict__.update(sd)
        for s, d in zip(self._schedulers, subs):
            s.load_state_dict(d)


def warmup_cosine(optimizer: Optimizer, warmup_epochs: int, total_epochs: int, eta_min: float = 0.0,
                  start_factor: float = 0.01) -> SequentialLR:
    """Linear warm-up from start_factor·η₀ to η₀ over ``warmup_epochs``, then cosine annealing to
    ``eta_min`` at ``total_epochs``."""
    if not 0 < warmup_epochs < total_epochs:
        raise ValueError(f"need 0 < warmup_epochs < total_epochs, got {warmup_epochs}, {total_epochs}")
    warm = LinearLR(optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup_epochs)
    cos = CosineAnnealingLR(optimizer, T_max=total_epochs - warmup_epochs, eta_min=eta_min)
    return SequentialLR(optimizer, [warm, cos], milestones=[warmup_epochs])


class ReduceLROnPlateau:
    """η ← max(η·factor, min_lr) when the monitored metric has not improved for more than ``patience``
    epochs (PyTorch semantics: ``step(metric)`` once per epoch; ``mode`` 'min'|'max', ``threshold_mode``
    'rel' (better = below best·(1 − threshold)) | 'abs', ``cooldown`` epochs ignored after a reduction,
    changes smaller than ``eps`` skipped)."""

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | Sequence[float] = 0.0, eps: float = 1e-8):
        _check_optimizer(optimizer)
        if not 0 <= factor < 1:
            raise ValueError(f"factor must be in [0, 1) (the rate is multiplied by it), got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        if isinstance(min_lr, list | tuple):
            if len(min_lr) != n:
                raise ValueError(f"expected {n} min_lrs (one per parameter group), got {len(min_lr)}")
            self.min_lrs = list(min_lr)
        else:
            self.min_lrs = [min_lr] * n
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (self.threshold + 1.0) if self.threshold_mode == "rel" else a > best + self.threshold

    def step(self, metrics, epoch=None) -> None:
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for g, mn in zip(self.optimizer.param_groups, self.min_lrs):
                old = g["lr"]
                new = np.maximum(old * self.factor, mn) if isinstance(old, np.ndarray) else max(old * self.factor, mn)
                if np.max(np.asarray(old) - np.asarray(new)) > self.eps:
                    g["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, sd: dict) -> None:
        self.__dict__.update(sd)


def scale_lr(lr: float, b_old: int, b_new: int, rule: str = "linear") -> float:
    """Learning rate for a new batch size: η·b_new/b_old (``rule='linear'``, keeps η/b — the SGD
    temperature η/(2b) of REG-SGD-TEMPERATURE — constant) or η·√(b_new/b_old) (``'sqrt'``, keeps the
    update's noise variance η²/b).  (spec: OPT-LR-SCHEDULE)"""
    if b_old <= 0 or b_new <= 0:
        raise ValueError(f"batch sizes must be positive, got b_old={b_old}, b_new={b_new}")
    if rule == "linear":
        return lr * b_new / b_old
    if rule == "sqrt":
        return lr * math.sqrt(b_new / b_old)
    raise ValueError(f"rule must be 'linear' or 'sqrt', got {rule!r}")


def _check_gamma(gamma) -> None:
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0 (the decay factor, e.g. 0.1), got {gamma}")
