"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, and ConvBlock.

Weights (C_out, C_in/groups, k…) and one bias per output channel, initialised as PyTorch
(kaiming_uniform a = √5 → W, b ~ U(±1/√fan_in), fan_in = C_in/groups·∏k).  A Conv2d has
C_out(C_in·kH·kW/groups + 1) parameters, shared over all positions (spec: CNN-PARAM-COUNT, CONV2D-LAYER).
"""

from __future__ import annotations

import numpy as np

from ..backend import Generator, get_default_dtype
from ..ops import conv as C
from ..ops._base import as_tensor
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

_PAD_MODES = ("zeros", "circular", "reflect", "replicate")


class _ConvNd(Module):
    _nd = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", output_padding=0, dtype=None,
                 generator: Generator | None = None):
        super().__init__()
        n = self._nd
        name = type(self).__name__
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"{name}: in_channels and out_channels must be >= 1, got {in_channels}, {out_channels}")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PAD_MODES}, got {padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported for transposed convolutions")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = C._tuple(kernel_size, n, "kernel_size")
        self.stride = C._tuple(stride, n, "stride")
        self.dilation = C._tuple(dilation, n, "dilation")
        self.padding = padding if isinstance(padding, str) else (
            C._tuple(padding, n, "padding") if not self._is_pairs(padding) else tuple(map(tuple, padding)))
        self.output_padding = C._tuple(output_padding, n, "output_padding")
        self.groups, self.padding_mode = int(groups), padding_mode
        # pads resolved once (validates 'same' with stride > 1 at construction, as PyTorch)
        self._pads = C._resolve_padding(self.padding, self.kernel_size, self.dilation, self.stride, name) \
            if not self._transposed else None
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        if self._transposed:
            wshape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            wshape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(wshape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.generator = generator
        self.reset_parameters()

    @staticmethod
    def _is_pairs(p) -> bool:
        return not isinstance(p, (int, np.integer, str)) and all(not isinstance(q, (int, np.integer)) for q in p)

    def reset_parameters(self) -> None:
        """W, b ~ U(±1/√fan_in) (PyTorch's kaiming_uniform with a = √5)."""
        init.default_init_(self.weight, self.bias, self.generator)

    def _check(self, x: Tensor) -> tuple[Tensor, bool]:
        """Validate the input; an unbatched input (C, *spatial) gets a batch axis (returned flag: remove it
        from the output again, as PyTorch)."""
        n = self._nd
        name = type(self).__name__
        unbatched = x.ndim == n + 1
        if unbatched:
            from ..ops import unsqueeze
            x = unsqueeze(x, 0)
        if x.ndim != n + 2:
            dims = "(N, C, L)" if n == 1 else "(N, C, H, W)"
            raise ValueError(f"{name}: expected input {dims}, got shape {x.shape}")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{name}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}): expected input "
                f"with C_in = {self.in_channels} channels at axis 1, got shape {x.shape} ({x.shape[1]} channels). "
                "Check in_channels against the previous layer's out_channels (images are NCHW).")
        return x, unbatched

    @staticmethod
    def _finish(y: Tensor, unbatched: bool) -> Tensor:
        if unbatched:
            from ..ops import squeeze
            return squeeze(y, 0)
        return y

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in (0, (0,) * self._nd):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class Conv2d(_ConvNd):
    """``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
    padding_mode='zeros')`` on (N, C_in, H, W):

        Y[n,k,a,b] = b_k + Σ_c Σ_{i,j} W[k,c,i,j] · X̃[n,c,a·s + d·i, b·s + d·j]

    (cross-correlation).  ``padding``: int, pair, 'valid', 'same' (stride 1) or 'full'; ``padding_mode``
    'zeros' | 'circular' | 'reflect' | 'replicate' (circular: exactly shift-equivariant).  Output size
    ⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1.  (spec: CNN-CONV2D, CONV2D-LAYER, CNN-CONV-OUTSIZE, CONV-PAD-SAME,
    CONV-PAD-FULL, CONV-DILATED, CNN-PARAM-COUNT)"""

    _nd = 2

    def forward(self, x) -> Tensor:
        x, unbatched = self._check(as_tensor(x))
        pads = self._pads
        if self.padding_mode != "zeros":
            x, pads = C.pad_nd(x, self._pads, self.padding_mode), 0
        return self._finish(C.conv2d(x, self.weight, self.bias, self.stride, pads, self.dilation, self.groups),
                            unbatched)


class Conv1d(_ConvNd):
    """``Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
    padding_mode='zeros')`` on (N, C_in, L): z[n,o,i] = β_o + Σ_c Σ_j Ω[o,c,j]·x_pad[n,c,i·s + j·d],
    L_out = ⌊(L + 2p − d(K − 1) − 1)/s⌋ + 1; C_o·C_i·K + C_o parameters.  (spec: CNN-CONV1D, CONV1D-DILATED;
    errata [S2]: weight (C_o, C_i, K))"""

    _nd = 1

    def forward(self, x) -> Tensor:
        x, unbatched = self._check(as_tensor(x))
        pads = self._pads
        if self.padding_mode != "zeros":
            x, pads = C.pad_nd(x, self._pads, self.padding_mode), 0
        return self._finish(C.conv1d(x, self.weight, self.bias, self.stride, pads, self.dilation, self.groups),
                            unbatched)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", dtype=None,
                 generator: Generator | None = None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, dtype, generator)
        if isinstance(self.padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple, got {padding!r}")

    def _output_padding(self, x: Tensor, output_size) -> tuple:
        if output_size is None:
            return self.output_padding
        want = tuple(output_size)[-self._nd:]
        res = []
        for i, (o, s, p, k, d) in enumerate(zip(want, self.stride, self.padding, self.kernel_size, self.dilation)):
            base = s * (x.shape[2 + i] - 1) + d * (k - 1) + 1 - 2 * p
            a = o - base
            if not 0 <= a < max(s, d):
                raise ValueError(f"{type(self).__name__}: requested output size {want} is not reachable; sizes "
                                 f"{base}..{base + max(s, d) - 1} are possible on axis {i}")
            res.append(a)
        return tuple(res)


class ConvTranspose2d(_ConvTransposeNd):
    """``ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
    groups=1, bias=True, dilation=1)``, weight (C_in, C_out/groups, kH, kW): the adjoint Cᵀ of the
    convolution sharing the kernel (its input gradient); H_out = s(H − 1) + a + d(k − 1) + 1 − 2p.
    ``forward(x, output_size=None)`` picks a = output_padding from a wanted size.  (spec: CONV-TRANSPOSED)"""

    _nd = 2

    def forward(self, x, output_size=None) -> Tensor:
        x, unbatched = self._check(as_tensor(x))
        return self._finish(C.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                               self._output_padding(x, output_size), self.groups, self.dilation),
                            unbatched)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution on (N, C_in, L), weight (C_in, C_out/groups, k).  (spec: CONV-TRANSPOSED)"""

    _nd = 1

    def forward(self, x, output_size=None) -> Tensor:
        x, unbatched = self._check(as_tensor(x))
        return self._finish(C.conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding,
                                               self._output_padding(x, output_size), self.groups, self.dilation),
                            unbatched)


class ConvBlock(Module):
    """``ConvBlock(c_in, c_out, k, activation='relu', pool=2)``: convolution → non-linearity (the
    "detector stage") → pooling (approximate invariance to small shifts).  ``pool`` = window = stride
    (None/0/1: no pooling), ``pool_type`` 'max' | 'avg', ``padding`` as Conv2d (e.g. 'same'),
    ``batch_norm=True`` inserts BatchNorm2d after the convolution.  (spec: CNN-BLOCK, CONV2D-LAYER)"""

    def __init__(self, c_in: int, c_out: int, k, activation="relu", pool=2, padding=0, stride=1,
                 pool_type: str = "max", batch_norm: bool = False, dtype=None, generator: Generator | None = None):
        super().__init__()
        from .activation import get_activation
        from .batchnorm import BatchNorm2d
        from .pooling import AvgPool2d, MaxPool2d
        self.conv = Conv2d(c_in, c_out, k, stride=stride, padding=padding, bias=not batch_norm, dtype=dtype,
                           generator=generator)
        if batch_norm:
            self.bn = BatchNorm2d(c_out, dtype=dtype)
        self.act = get_activation(activation)
        if pool not in (None, 0, 1):
            if pool_type not in ("max", "avg"):
                raise ValueError(f"ConvBlock: pool_type must be 'max' or 'avg', got {pool_type!r}")
            self.pool = MaxPool2d(pool) if pool_type == "max" else AvgPool2d(pool)

    def forward(self, x) -> Tensor:
        x = self.conv(x)
        if "bn" in self._modules:
            x = self.bn(x)
        if self.act is not None:
            x = self.act(x)
        if "pool" in self._modules:
            x = self.pool(x)
        return x
