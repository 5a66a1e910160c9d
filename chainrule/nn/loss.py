"""Loss modules: thin wrappers of ``chainrule.nn.functional`` (see it for the NLL view of each,
spec: LOSS-MLE-RECIPE).  ``reduction``: 'mean' (default, over all elements), 'sum' or 'none'."""

from __future__ import annotations

from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """mean (ŷ − y)² — Gaussian NLL with fixed variance, up to constants.  (spec: LOSS-MSE)"""

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """mean |ŷ − y| — Laplace NLL up to constants.  (spec: LOSS-LP)"""

    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """½d² for |d| < δ, δ(|d| − ½δ) otherwise, d = ŷ − y."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_Loss):
    """−w[y log a + (1 − y) log(1 − a)] on probabilities — Bernoulli NLL.  (spec: LOSS-BCE, LOSS-BERNOULLI)"""

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """BCE on logits s: max(s, 0) − sy + log(1 + e^{−|s|}), stable for any s; ∂/∂s = σ(s) − y.
    (spec: LOSS-BCE, LOSS-BERNOULLI, LOSS-OUTPUT-DELTA)"""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)


class CrossEntropyLoss(_Loss):
    """−Σ_k y_k log softmax(S)_k from logits, class-index or probability targets — categorical NLL;
    ∂/∂S = softmax(S) − Y.  (spec: LOSS-CE, LOSS-CATEGORICAL, LOSS-OUTPUT-DELTA)"""

    def __init__(self, weight=None, reduction: str = "mean", label_smoothing: float = 0.0, ignore_index: int = -100):
        super().__init__(reduction)
        self.weight, self.label_smoothing, self.ignore_index = weight, label_smoothing, ignore_index

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.reduction, self.label_smoothing, self.ignore_index)


class NLLLoss(_Loss):
    """−log p[target] from log-probabilities (use after LogSoftmax).  (spec: LOSS-CE)"""

    def __init__(self, weight=None, reduction: str = "mean", ignore_index: int = -100):
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.reduction, self.ignore_index)


class GaussianNLLLoss(_Loss):
    """½(log var + (y − μ)²/var) (+ ½ log 2π if ``full``); called as ``loss(mu, y, var)``.
    (spec: LOSS-GAUSSIAN-NLL)"""

    def __init__(self, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)


class PoissonNLLLoss(_Loss):
    """e^z − yz (+ log y! if ``full``) for log-rate z — Poisson NLL with exp link.  (spec: LOSS-POISSON)"""

    def __init__(self, log_input: bool = True, full: bool = False, eps: float = 1e-8, reduction: str = "mean"):
        super().__init__(reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, input, target):
        return F.poisson_nll_loss(input, target, self.log_input, self.full, self.eps, self.reduction)


class KLDivLoss(_Loss):
    """q(log q − input) with input = log p; use ``reduction='batchmean'`` for KL(q‖p) per sample.
    (spec: LOSS-KL-DIVERGENCE)"""

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, self.reduction, self.log_target)
