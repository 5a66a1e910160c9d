"""Pooling layers (no parameters): MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d,
GlobalAvgPool2d.

Per channel; stride defaults to the window size.  Output size ⌊(i + 2p − d(k − 1) − 1)/s⌋ + 1
(spec: POOL-OUTSIZE).  Max pooling routes the gradient to the first arg-max of each window (spec:
CNN-MAXPOOL); average pooling spreads it evenly (spec: CNN-AVGPOOL).
"""

from __future__ import annotations

from ..ops import pool as P
from ..ops._base import as_tensor
from .module import Module


class _Pool(Module):
    _nd = 2
    _name = "max"

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.padding, self.dilation = kernel_size, padding, dilation
        self.stride = kernel_size if stride is None else stride
        self.ceil_mode = ceil_mode

    def _check(self, x):
        x = as_tensor(x)
        want = self._nd + 2
        if x.ndim != want:
            dims = "(N, C, L)" if self._nd == 1 else "(N, C, H, W)"
            raise ValueError(f"{type(self).__name__}(kernel_size={self.kernel_size}): expected input {dims}, got "
                             f"shape {x.shape}")
        return x

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool):
    """``MaxPool2d(kernel_size, stride=kernel_size, padding=0, dilation=1, return_indices=False,
    ceil_mode=False)``: O[n,c,i,j] = max over the window at (i·s, j·s) of the −∞-padded input; gradient to
    the first arg-max (row-major window order; the last NaN of a window holding one; as PyTorch).
    (spec: CNN-MAXPOOL, CONV2D-LAYER)"""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        self.return_indices = return_indices

    def forward(self, x):
        return P.max_pool2d(self._check(x), self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class MaxPool1d(MaxPool2d):
    """``MaxPool1d(kernel_size, stride=kernel_size, padding=0, dilation=1, return_indices=False)`` on
    (N, C, L).  (spec: CNN-MAXPOOL)"""

    _nd = 1

    def forward(self, x):
        return P.max_pool1d(self._check(x), self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool2d(_Pool):
    """``AvgPool2d(kernel_size, stride=kernel_size, padding=0, ceil_mode=False, count_include_pad=True)``:
    O = (1/k²)Σ_window X̃ (zero padding counted); backward spreads δ/k².  (spec: CNN-AVGPOOL)"""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None):
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        return P.avg_pool2d(self._check(x), self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AvgPool1d(_Pool):
    """``AvgPool1d(kernel_size, stride=kernel_size, padding=0, ceil_mode=False, count_include_pad=True)`` on
    (N, C, L).  (spec: CNN-AVGPOOL)"""

    _nd = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return P.avg_pool1d(self._check(x), self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    """Average over PyTorch's adaptive windows [⌊i·H/o⌋, ⌈(i + 1)·H/o⌉) to a fixed ``output_size``
    ((1, 1) = global average pooling).  (spec: CNN-AVGPOOL)"""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return P.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    def forward(self, x):
        return P.adaptive_avg_pool1d(x, self.output_size)


class AdaptiveMaxPool2d(Module):
    """``AdaptiveMaxPool2d(output_size, return_indices=False)``: max over PyTorch's adaptive windows
    [⌊i·H/oH⌋, ⌈(i + 1)·H/oH⌉) × [⌊j·W/oW⌋, ⌈(j + 1)·W/oW⌉) on (N, C, H, W) or (C, H, W); ``output_size`` an
    int or a pair, None keeps that axis.  Gradient to the arg-max of each window (first maximum in row-major
    window order; the last NaN if the window has one), as PyTorch.  (spec: CNN-MAXPOOL, POOL-OUTSIZE)"""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return P.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """``AdaptiveMaxPool1d(output_size, return_indices=False)`` on (N, C, L) or (C, L): max over
    [⌊i·L/o⌋, ⌈(i + 1)·L/o⌉).  (spec: CNN-MAXPOOL, POOL-OUTSIZE)"""

    def forward(self, x):
        return P.adaptive_max_pool1d(x, self.output_size, self.return_indices)


class GlobalAvgPool2d(Module):
    """Mean over H, W: (N, C, H, W) → (N, C) (``keepdim=True``: (N, C, 1, 1)), as used before the classifier
    of all-convolutional nets and class activation maps.  (spec: CNN-AVGPOOL)"""

    def __init__(self, keepdim: bool = False):
        super().__init__()
        self.keepdim = keepdim

    def forward(self, x):
        return P.global_avg_pool2d(x, self.keepdim)
