"""Deep and denoising autoencoders, optionally initialised by a stack of RBMs.

(spec: AUTOENCODER-DEEP)  Encoder e = f_K ∘ … ∘ f_1 : x ↦ code z ∈ ℝ^k, each f_l(h) = φ(h W_lᵀ + b_l)
(W_l of shape (out, in)); the decoder g mirrors it (sizes reversed); x̂ = g(e(x)).  Loss: MSE, or binary
cross-entropy for inputs in [0, 1] (computed on the decoder's logits, so it is stable).  Reference
architecture (Hinton & Salakhutdinov 2006): 784-1000-500-250-30, logistic hidden units, a linear 30-unit
code, decoder 30-250-500-1000-784 with logistic outputs.

Recipe: 1) optional greedy RBM pretraining (``pretrain_rbm=True`` or :meth:`AutoEncoder.pretrain`):
RBM l is trained by CD-1 on the hidden probabilities of RBM l − 1 (the last one has Gaussian linear
hidden units when the code is linear); 2) unroll: encoder layer l ← (W_l, b_l), the mirrored decoder
layer ← (W_lᵀ, a_l); 3) fine-tune everything by backprop on the reconstruction error.

``tied=True`` shares weights: decoder layer l computes h W_l + c_l with the encoder's W_l (gradients of
both uses add up).  A denoising autoencoder (:class:`DenoisingAutoEncoder`) reconstructs the clean x
from a corrupted x̃ (masking noise, Gaussian noise or salt-and-pepper).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import nn, ops, optim
from ..backend import Generator, _gen, get_default_dtype
from ..nn import functional as F
from ..ops._base import _plain, as_tensor
from ..tensor import Tensor, no_grad
from .rbm import BernoulliRBM

__all__ = ["AutoEncoder", "DenoisingAutoEncoder"]


class _TiedLinear(nn.Module):
    """x ↦ x W + c, W the (out, in) weight of an encoder Linear (so this maps out → in)."""

    def __init__(self, enc: nn.Linear, dtype):
        super().__init__()
        object.__setattr__(self, "_enc", enc)          # not registered: the weight belongs to the encoder
        self.bias = nn.Parameter(np.zeros(enc.in_features, dtype=dtype))

    @property
    def weight(self) -> Tensor:
        return ops.transpose(self._enc.weight, 0, 1)

    def forward(self, x):
        return ops.linear(x, ops.transpose(self._enc.weight, 0, 1), self.bias)

    def extra_repr(self) -> str:
        return f"{self._enc.out_features}, {self._enc.in_features}, tied"


class AutoEncoder(nn.Module):
    """``AutoEncoder(sizes=[784, 1000, 500, 250, 30], activation='sigmoid', code_activation=None,
    output_activation=None, tied=False, pretrain_rbm=False)``.  (spec: AUTOENCODER-DEEP)

    ``sizes`` = [input, hidden…, code]; hidden layers use ``activation`` (None = linear), the code layer
    ``code_activation``, the reconstruction ``output_activation`` ('sigmoid' for data in [0, 1]).
    Methods: ``encode`` / ``decode`` / ``forward`` (tensors, differentiable), ``transform`` and
    ``reconstruct`` (arrays in, arrays out, no graph), ``fit``, ``pretrain``.
    """

    def __init__(self, sizes: Sequence[int] = (784, 1000, 500, 250, 30), activation="sigmoid",
                 code_activation=None, output_activation=None, tied: bool = False, pretrain_rbm: bool = False,
                 dtype=None, generator: Generator | None = None):
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list at least the input and code sizes (positive), got {list(sizes)}")
        self.sizes = sizes
        self.activation, self.code_activation, self.output_activation = activation, code_activation, output_activation
        self.tied, self.pretrain_rbm = bool(tied), bool(pretrain_rbm)
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self._dt = dt
        g = _gen(generator)
        self.generator = g
        L = len(sizes) - 1
        self.encoder = nn.ModuleList([nn.Linear(sizes[i], sizes[i + 1], dtype=dt, generator=g) for i in range(L)])
        if tied:
            self.decoder = nn.ModuleList([_TiedLinear(self.encoder[L - 1 - j], dt) for j in range(L)])
        else:
            self.decoder = nn.ModuleList([nn.Linear(sizes[L - j], sizes[L - j - 1], dtype=dt, generator=g)
                                          for j in range(L)])
        self._enc_acts = [nn.get_activation(activation) for _ in range(L - 1)] + [nn.get_activation(code_activation)]
        self._dec_acts = [nn.get_activation(activation) for _ in range(L - 1)]
        self._out_act = nn.get_activation(output_activation)
        self.history_: list[dict] = []

    # ------------------------------------------------------------------ maps
    def encode(self, x) -> Tensor:
        h = as_tensor(x)
        for lin, act in zip(self.encoder, self._enc_acts):
            h = lin(h)
            if act is not None:
                h = act(h)
        return h

    def decode_logits(self, z) -> Tensor:
        """The decoder up to the last layer's pre-activation."""
        h = as_tensor(z)
        L = len(self.decoder)
        for j, lin in enumerate(self.decoder):
            h = lin(h)
            if j < L - 1 and self._dec_acts[j] is not None:
                h = self._dec_acts[j](h)
        return h

    def decode(self, z) -> Tensor:
        h = self.decode_logits(z)
        return h if self._out_act is None else self._out_act(h)

    def forward(self, x) -> Tensor:
        return self.decode(self.encode(x))

    def _array(self, X) -> np.ndarray:
        X = np.asarray(_plain(X))
        if X.ndim > 2:
            X = X.reshape(len(X), -1)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"{type(self).__name__}: expected data of shape (N, {self.sizes[0]}), got {X.shape}")
        return X.astype(self._dt, copy=False)

    def transform(self, X, batch_size: int = 4096) -> np.ndarray:
        """Codes e(X) as an array (no graph)."""
        X = self._array(X)
        with no_grad():
            return np.concatenate([self.encode(Tensor._wrap(X[s:s + batch_size])).data
                                   for s in range(0, len(X), batch_size)]) if len(X) else np.zeros((0, self.sizes[-1]))

    def reconstruct(self, X, batch_size: int = 4096) -> np.ndarray:
        """x̂ = g(e(X)) as an array (no graph)."""
        X = self._array(X)
        with no_grad():
            return np.concatenate([self.forward(Tensor._wrap(X[s:s + batch_size])).data
                                   for s in range(0, len(X), batch_size)])

    # ------------------------------------------------------------------ training
    def corrupt(self, X: np.ndarray, generator: Generator) -> np.ndarray:
        """Input corruption used during training (identity for a plain autoencoder)."""
        return X

    def loss(self, x, target, loss: str = "mse") -> Tensor:
        """Reconstruction loss of the input x against ``target``: 'mse' (mean over entries) or 'bce'
        (mean binary cross-entropy; on logits when the output activation is the sigmoid)."""
        x = as_tensor(x)
        if loss == "mse":
            return F.mse_loss(self.forward(x), as_tensor(target, x))
        if loss == "bce":
            if isinstance(self._out_act, nn.Sigmoid):
                return F.binary_cross_entropy_with_logits(self.decode_logits(self.encode(x)), as_tensor(target, x))
            return F.binary_cross_entropy(self.forward(x), as_tensor(target, x))
        raise ValueError(f"loss must be 'mse' or 'bce', got {loss!r}")

    def fit(self, X, epochs: int = 10, batch_size: int | None = 128, lr: float = 1e-3, optimizer: str = "adam",
            loss: str = "mse", X_val=None, pretrain_epochs: int = 5, pretrain_lr: float = 0.1,
            verbose: bool = False, callback=None) -> AutoEncoder:
        """Fine-tune by minibatch backprop (``batch_size=None``: full batch); runs :meth:`pretrain` first
        when the model was built with ``pretrain_rbm=True`` (and has not been pretrained).  Records
        ``history_`` per epoch: train loss (mean over the epoch's batches) and validation loss."""
        X = self._array(X)
        if self.pretrain_rbm and not getattr(self, "_pretrained", False):
            self.pretrain(X, epochs=pretrain_epochs, lr=pretrain_lr, verbose=verbose)
        n = len(X)
        bs = n if batch_size is None else max(1, min(int(batch_size), n))
        if optimizer == "adam":
            opt = optim.Adam(self.parameters(), lr=lr)
        elif optimizer == "sgd":
            opt = optim.SGD(self.parameters(), lr=lr, momentum=0.9)
        else:
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
        g = self.generator
        it = range(int(epochs))
        if verbose:
            from tqdm import tqdm
            it = tqdm(it, desc=type(self).__name__, unit="epoch")
        Xv = None if X_val is None else self._array(X_val)
        for ep in it:
            perm = g.rng.permutation(n) if bs < n else np.arange(n)
            tot, cnt = 0.0, 0
            for s in range(0, n, bs):
                xb = X[perm[s:s + bs]] if bs < n else X
                opt.zero_grad()
                lv = self.loss(Tensor._wrap(self.corrupt(xb, g)), xb, loss)
                lv.backward()
                opt.step()
                tot += float(lv.data) * len(xb)
                cnt += len(xb)
            rec = {"epoch": ep + 1, "loss": tot / cnt}
            if Xv is not None:
                with no_grad():
                    rec["val_loss"] = float(self.loss(Tensor._wrap(Xv), Xv, loss).data)
            self.history_.append(rec)
            if verbose:
                it.set_postfix({k: f"{v:.4f}" for k, v in rec.items() if k != "epoch"})
            if callback is not None:
                callback(self, ep)
        return self

    def pretrain(self, X, epochs: int = 5, lr: float = 0.1, batch_size: int = 100, k: int = 1,
                 momentum: float = 0.5, verbose: bool = False) -> list[BernoulliRBM]:
        """Greedy layer-wise RBM pretraining (Hinton & Salakhutdinov 2006).  (spec: AUTOENCODER-DEEP, RBM)

        RBM l (visible = sizes[l], hidden = sizes[l + 1]) is trained by CD-k on the hidden probabilities
        of RBM l − 1 (RBM 0 on X, which must lie in [0, 1]); the code layer's RBM has Gaussian linear
        hidden units when ``code_activation`` is None (learning rate ×0.01 as in the paper).  Then the
        network is unrolled: encoder layer l ← (W_l, b_l), its mirrored decoder layer ← (W_lᵀ, a_l).
        Returns the trained RBMs.
        """
        X = self._array(X)
        if X.min() < 0 or X.max() > 1:
            raise ValueError("RBM pretraining needs inputs in [0, 1] (probabilities of binary units); "
                             "scale the data first, e.g. X / 255")
        if len(self.sizes) > 2 and self.activation != "sigmoid":
            raise ValueError("RBM pretraining gives logistic hidden units: build the autoencoder with "
                             "activation='sigmoid'")
        L = len(self.encoder)
        rbms = []
        data = X
        for l in range(L):
            last = l == L - 1
            gaussian = last and self.code_activation is None
            rbm = BernoulliRBM(n_components=self.sizes[l + 1], n_features=self.sizes[l],
                               learning_rate=lr * (0.01 if gaussian else 1.0), batch_size=batch_size, n_iter=epochs,
                               k=k, momentum=momentum, hidden="gaussian" if gaussian else "bernoulli",
                               dtype=self._dt, generator=Generator(int(self.generator.rng.integers(2 ** 31))),
                               verbose=verbose)
            rbm.fit(data)
            enc = self.encoder[l]
            dec = self.decoder[L - 1 - l]
            with no_grad():
                enc.weight.data[...] = rbm.weight.data
                enc.bias.data[...] = rbm.hidden_bias.data
                if not self.tied:
                    dec.weight.data[...] = rbm.weight.data.T
                dec.bias.data[...] = rbm.visible_bias.data
            for p in (enc.weight, enc.bias, dec.bias) + (() if self.tied else (dec.weight,)):
                p._version += 1
            rbms.append(rbm)
            data = rbm.transform(data)
        self._pretrained = True
        return rbms

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, tied={self.tied}"


class DenoisingAutoEncoder(AutoEncoder):
    """Autoencoder trained to reconstruct clean x from a corrupted x̃ (Vincent et al. 2008).

    ``noise='masking'`` (each input set to 0 with probability ``noise_level``), ``'gaussian'``
    (x + N(0, noise_level²)) or ``'salt_pepper'`` (a fraction ``noise_level`` of the inputs set to 0 or 1
    at random).  Corruption is applied to every training batch only; ``encode``/``transform`` use the
    clean input.  Other arguments as :class:`AutoEncoder`.
    """

    def __init__(self, sizes: Sequence[int] = (784, 256, 64), noise: str = "masking", noise_level: float = 0.3,
                 **kwargs):
        if noise not in ("masking", "gaussian", "salt_pepper"):
            raise ValueError(f"noise must be 'masking', 'gaussian' or 'salt_pepper', got {noise!r}")
        if noise_level < 0 or (noise != "gaussian" and noise_level > 1):
            raise ValueError(f"noise_level must be in [0, 1] for {noise!r} noise (a std >= 0 for gaussian), "
                             f"got {noise_level}")
        super().__init__(sizes, **kwargs)
        self.noise, self.noise_level = noise, float(noise_level)

    def corrupt(self, X: np.ndarray, generator: Generator) -> np.ndarray:
        rng = generator.rng
        p = self.noise_level
        if self.noise == "masking":
            return X * (rng.random(X.shape) >= p).astype(X.dtype)
        if self.noise == "gaussian":
            return (X + p * rng.standard_normal(X.shape)).astype(X.dtype)
        hit = rng.random(X.shape) < p
        salt = rng.random(X.shape) < 0.5
        return np.where(hit, salt.astype(X.dtype), X).astype(X.dtype)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", noise={self.noise!r}, noise_level={self.noise_level}"
