"""Class maps: global-average-pooling class activation maps (CAM-GAP) and class maps by fully convolutional
evaluation of a crop-trained classifier (CAM-CLASS-MAP).

CAM-GAP (Zhou et al. 2016).  A network conv features f_k(x, y) (K channels, h×w) → global average pooling
F_k = (1/hw) Σ_{x,y} f_k(x, y) → logits s_c = Σ_k w_{c,k} F_k + b_c has the class activation map

    M_c(x, y) = Σ_k w_{c,k} f_k(x, y),   so   mean_{x,y} M_c + b_c = s_c  exactly,

bilinearly upsampled to the input size to localise what drove class c.  ``GAPCNN`` is such a network,
``class_activation_map(model, image, class_idx)`` computes M_c.

CAM-CLASS-MAP.  A classifier trained on H×W crops (stride-1 convs and pools of total stride S, then
Flatten → Linear → … → Linear) becomes fully convolutional when the first Linear after the flatten is
rewritten as Conv2d(C', M, (h, w)) with weight W.reshape(M, C', h, w) (flatten order C, H, W) and every
later Linear(M, M2) as a 1×1 Conv2d (a global average pool becomes an h×w average pool with stride 1).
On an H_L×W_L image it then returns a class map (N, d, h_L − h + 1, w_L − w + 1) whose cell (u, v) equals
the classifier's logits on the crop at (uS, vS) — exactly when the convolutions are 'valid' (no padding
effects) — at the cost of one pass instead of one per crop.  ``to_fully_convolutional(model, input_hw)``,
``class_map(model, image)``, ``class_map_boxes`` (threshold the per-cell softmax, merge adjacent cells into
boxes [uS, uS + H) × [vS, vS + W)).  Errata: [S4] calls evaluating non-overlapping windows of the feature map
"precisely" exhaustive windowing; that holds only at offsets that are multiples of S and without padding.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from . import nn, ops
from .backend import Generator, _gen
from .ops._base import as_tensor
from .tensor import Tensor, no_grad

__all__ = ["GAPCNN", "class_activation_map", "upsample_bilinear", "FullyConvolutional", "to_fully_convolutional",
           "class_map", "class_map_boxes"]


# ============================================================================================ CAM-GAP
class GAPCNN(nn.Module):
    """``GAPCNN(channels=(16, 32, 64), pools=(2, 2, 1), num_classes=10, in_channels=1, kernel_size=3)``:
    a class-activation-map network (spec: CAM-GAP)

        x → [Conv2d(c_{i−1}, c_i, k, padding='same') → ReLU → MaxPool2d(p_i) if p_i > 1] for each i
          → ``features`` (N, K, h, w) → ``gap`` GlobalAvgPool2d (N, K) → ``fc`` Linear(K, num_classes).

    Any input size works (the GAP removes the spatial axes); the total stride of ``features`` is ∏ p_i.
    ``batch_norm=True`` inserts BatchNorm2d after every convolution.
    """

    def __init__(self, channels: Sequence[int] = (16, 32, 64), pools: Sequence[int] = (2, 2, 1), num_classes: int = 10,
                 in_channels: int = 1, kernel_size: int = 3, batch_norm: bool = False, dtype=None,
                 generator: Generator | None = None):
        super().__init__()
        if len(channels) != len(pools) or not channels:
            raise ValueError(f"GAPCNN: channels and pools need the same non-zero length, got {tuple(channels)} and "
                             f"{tuple(pools)}")
        if kernel_size % 2 != 1:
            raise ValueError(f"GAPCNN: kernel_size must be odd (for 'same' padding), got {kernel_size}")
        g = _gen(generator)
        layers: OrderedDict = OrderedDict()
        c_prev = in_channels
        for i, (c, p) in enumerate(zip(channels, pools), start=1):
            layers[f"conv{i}"] = nn.Conv2d(c_prev, c, kernel_size, padding="same", bias=not batch_norm, dtype=dtype,
                                           generator=g)
            if batch_norm:
                layers[f"bn{i}"] = nn.BatchNorm2d(c, dtype=dtype)
            layers[f"relu{i}"] = nn.ReLU()
            if p > 1:
                layers[f"pool{i}"] = nn.MaxPool2d(p)
            c_prev = c
        self.features = nn.Sequential(layers)
        self.gap = nn.GlobalAvgPool2d()
        self.fc = nn.Linear(c_prev, num_classes, dtype=dtype, generator=g)
        self.stride = int(np.prod([p for p in pools if p > 1])) if any(p > 1 for p in pools) else 1

    def forward(self, x) -> Tensor:
        return self.fc(self.gap(self.features(x)))


def _param_dtype(model: nn.Module):
    p = next(iter(model.parameters()), None)
    return None if p is None else p.dtype


def _as_batch(image, dtype=None) -> tuple[Tensor, bool]:
    """A Tensor (N, C, H, W) and whether a single image was given; arrays take the model's dtype."""
    if isinstance(image, Tensor):
        x = image
    else:
        a = np.asarray(image)
        x = Tensor(a.astype(dtype, copy=False) if dtype is not None and a.dtype.kind in "fiub" else a)
    single = x.ndim < 4
    if x.ndim == 2:
        x = x.reshape((1, 1) + x.shape)
    elif x.ndim == 3:
        x = x.reshape((1,) + x.shape)
    elif x.ndim != 4:
        raise ValueError(f"expected an image (H, W), (C, H, W) or a batch (N, C, H, W), got shape {x.shape}")
    return x, single


def upsample_bilinear(x, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of the last two axes of ``x`` (…, h, w) to ``size`` = (H, W) with PyTorch's
    ``F.interpolate(mode='bilinear', align_corners=False)`` sampling: source coordinate
    (i + ½)·h/H − ½, clamped at 0, interpolating between the two neighbouring cells.  (spec: CAM-GAP)"""
    a = np.asarray(getattr(x, "data", x))
    H, W = (int(s) for s in size)
    if H < 1 or W < 1:
        raise ValueError(f"upsample_bilinear: size must be positive, got {size}")

    def axis_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        src = np.maximum(src, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (src - i0).astype(a.dtype if a.dtype.kind == "f" else np.float64)

    r0, r1, lr = axis_weights(a.shape[-2], H)
    c0, c1, lc = axis_weights(a.shape[-1], W)
    rows = a[..., r0, :] * (1 - lr)[:, None] + a[..., r1, :] * lr[:, None]
    return rows[..., c0] * (1 - lc) + rows[..., c1] * lc


def _gap_parts(model, features, fc):
    features = features if features is not None else getattr(model, "features", None)
    if fc is None:
        fc = getattr(model, "fc", None)
        if fc is None:
            lin = [m for m in model.modules() if isinstance(m, nn.Linear)]
            fc = lin[-1] if lin else None
    if features is None or not isinstance(fc, nn.Linear):
        raise ValueError(f"class_activation_map: {type(model).__name__} needs a conv feature extractor `features` "
                         "and a final Linear `fc` applied after global average pooling (e.g. GAPCNN); pass "
                         "features= and fc= explicitly for other models")
    return features, fc


def class_activation_map(model: nn.Module, image, class_idx=None, upsample: bool = True, features=None, fc=None,
                         return_logits: bool = False):
    """The class activation map M_c(x, y) = Σ_k w_{c,k} f_k(x, y) of a conv → GAP → Linear network
    (``GAPCNN`` or any model with ``features`` and a last ``fc``/Linear; spec: CAM-GAP).

    ``image``: (H, W), (C, H, W) or a batch (N, C, H, W).  ``class_idx``: an int, one per image, or None
    (the predicted class).  Returns (H, W) for one image or (N, H, W) — bilinearly upsampled to the input
    size if ``upsample`` (else the feature-map resolution h×w, where mean_{x,y} M_c + b_c = s_c exactly).
    With ``return_logits`` also returns the logits s (N, classes) from the same pass.  Eval mode, no graph
    (the model's mode is restored).
    """
    features, fc = _gap_parts(model, features, fc)
    x, single = _as_batch(image, fc.weight.dtype)
    was = model.training
    model.eval()
    try:
        with no_grad():
            f = features(x).data  # (N, K, h, w)
    finally:
        model.train(was)
    if f.ndim != 4 or f.shape[1] != fc.in_features:
        raise ValueError(f"class_activation_map: features give shape {f.shape}, but fc expects {fc.in_features} "
                         "channels; the model must be conv features → global average pooling → Linear")
    W = fc.weight.data
    b = fc.bias.data if fc.bias is not None else np.zeros(W.shape[0], dtype=W.dtype)
    logits = f.mean(axis=(2, 3)) @ W.T + b
    n = f.shape[0]
    if class_idx is None:
        cls = logits.argmax(1)
    else:
        cls = np.broadcast_to(np.asarray(class_idx, dtype=np.int64), (n,))
        if (cls < 0).any() or (cls >= W.shape[0]).any():
            raise ValueError(f"class_activation_map: class_idx must be in [0, {W.shape[0]}), got {class_idx}")
    cam = np.einsum("nk,nkhw->nhw", W[cls], f)
    if upsample:
        cam = upsample_bilinear(cam, x.shape[2:])
    cam = cam[0] if single else cam
    return (cam, logits) if return_logits else cam


# ======================================================================================= CAM-CLASS-MAP
_ELEMENTWISE = ("ReLU", "Tanh", "Sigmoid", "LeakyReLU", "ELU", "GELU", "SELU", "SiLU", "Softplus", "Identity",
                "Dropout", "ReLU6", "Hardtanh", "Mish", "CELU", "Softsign", "Swish")
_LEAF_TYPES = (nn.Conv2d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.BatchNorm2d, nn.BatchNorm1d, nn.Flatten,
               nn.GlobalAvgPool2d, nn.AdaptiveAvgPool2d)


def _leaves(m: nn.Module) -> list:
    """The layers in execution order: Sequential children in order; other containers' children in
    registration order (their forward must apply them in that order, as LeNet5, TFCNN and GAPCNN do)."""
    if isinstance(m, _LEAF_TYPES) or type(m).__name__ in _ELEMENTWISE or not any(True for _ in m.children()):
        return [m]
    out = []
    for c in m.children():
        out += _leaves(c)
    return out


def _stride_of(m) -> tuple[int, int]:
    s = getattr(m, "stride", 1)
    s = (s, s) if isinstance(s, (int, np.integer)) else tuple(s)
    return int(s[0]), int(s[1])


class FullyConvolutional(nn.Module):
    """A crop classifier rewritten as a fully convolutional network (``to_fully_convolutional``).
    ``forward(x)`` → class map (N, d, h_L − h + 1, w_L − w + 1); cell (u, v) ↔ the crop at (u·S, v·S) of
    size ``input_hw``; ``stride`` = S (total stride of the feature extractor).  (spec: CAM-CLASS-MAP)"""

    def __init__(self, body: nn.Sequential, input_hw: tuple[int, int], stride: tuple[int, int],
                 feature_shape: tuple[int, int, int]):
        super().__init__()
        self.body = body
        self.input_hw, self.stride, self.feature_shape = tuple(input_hw), tuple(stride), tuple(feature_shape)

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        if x.ndim != 4 or x.shape[2] < self.input_hw[0] or x.shape[3] < self.input_hw[1]:
            raise ValueError(f"FullyConvolutional: expected images (N, C, H, W) with H, W at least the crop size "
                             f"{self.input_hw}, got shape {x.shape}")
        return self.body(x)

    def cell_box(self, u: int, v: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of the crop [uS, uS + H) × [vS, vS + W) seen by cell (u, v)."""
        (H, W), (sh, sw) = self.input_hw, self.stride
        return u * sh, v * sw, u * sh + H, v * sw + W

    def extra_repr(self) -> str:
        return f"input_hw={self.input_hw}, stride={self.stride}, feature_shape={self.feature_shape}"


def to_fully_convolutional(model: nn.Module, input_hw: tuple[int, int],
                           in_channels: int | None = None) -> FullyConvolutional:
    """Rewrite a classifier trained on ``input_hw`` crops as a ``FullyConvolutional`` network
    (spec: CAM-CLASS-MAP): layers before the Flatten (convs, pools, element-wise layers, BatchNorm2d) are
    shared with ``model``; the first Linear after the Flatten becomes Conv2d(C', M, (h, w)) with weight
    W.reshape(M, C', h, w) (C', h, w = the feature shape at ``input_hw``); later Linear(M, M2) layers
    become 1×1 Conv2d (weights copied, same dtype); element-wise layers (activations, Dropout) are kept.
    A GlobalAvgPool2d / AdaptiveAvgPool2d(1) becomes AvgPool2d((h, w), stride=1).  Other layers after the
    flatten (e.g. BatchNorm1d) raise.  The layer order is the registration order of ``model``'s modules."""
    layers = _leaves(model)
    first = next((m for m in layers if isinstance(m, nn.Conv2d)), None)
    if first is None:
        raise ValueError(f"to_fully_convolutional: {type(model).__name__} has no Conv2d layer")
    c_in = in_channels or first.in_channels
    dt = first.weight.dtype
    H, W = (int(s) for s in input_hw)
    prefix, rest, flat_kind = [], [], None
    for i, m in enumerate(layers):
        if isinstance(m, nn.Flatten):
            flat_kind, rest = "flatten", layers[i + 1:]
            break
        if isinstance(m, nn.GlobalAvgPool2d) or (isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size in (1, (1, 1))):
            flat_kind, rest = "gap", layers[i + 1:]
            if rest and isinstance(rest[0], nn.Flatten):
                rest = rest[1:]
            break
        if isinstance(m, nn.Linear):
            raise ValueError("to_fully_convolutional: found a Linear layer before any Flatten/global pooling; "
                             "the model must be conv features → Flatten (or global average pooling) → Linear …")
        prefix.append(m)
    if flat_kind is None:
        raise ValueError("to_fully_convolutional: no Flatten or global average pooling found; the model is already "
                         "fully convolutional or not a conv → dense classifier")
    feat = nn.Sequential(*prefix)
    was = model.training
    model.eval()
    try:
        with no_grad():
            f = feat(Tensor(np.zeros((1, c_in, H, W), dtype=dt)))
    finally:
        model.train(was)
    _, C, h, w = f.shape
    sh = sw = 1
    for m in prefix:
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            a, b = _stride_of(m)
            sh, sw = sh * a, sw * b
    body = list(prefix)
    first_linear = True
    if flat_kind == "gap":
        body.append(nn.AvgPool2d((h, w), stride=1))
    for m in rest:
        if isinstance(m, nn.Linear):
            if first_linear and flat_kind == "flatten":
                if m.in_features != C * h * w:
                    raise ValueError(f"to_fully_convolutional: the first Linear expects {m.in_features} inputs but "
                                     f"the features at input_hw={input_hw} have C·h·w = {C}·{h}·{w} = {C * h * w}; "
                                     "pass the crop size the model was trained on")
                conv = nn.Conv2d(C, m.out_features, (h, w), bias=m.bias is not None, dtype=m.weight.dtype)
                conv.weight.data[...] = m.weight.data.reshape(m.out_features, C, h, w)
            else:
                conv = nn.Conv2d(m.in_features, m.out_features, 1, bias=m.bias is not None, dtype=m.weight.dtype)
                conv.weight.data[...] = m.weight.data[:, :, None, None]
            if m.bias is not None:
                conv.bias.data[...] = m.bias.data
            body.append(conv)
            first_linear = False
        elif type(m).__name__ in _ELEMENTWISE:
            body.append(m)
        else:
            raise ValueError(f"to_fully_convolutional: cannot convert {type(m).__name__} after the flatten; supported "
                             "there: Linear and element-wise layers (activations, Dropout)")
    fcn = FullyConvolutional(nn.Sequential(*body), (H, W), (sh, sw), (C, h, w))
    fcn.train(model.training)
    return fcn


def class_map(model: nn.Module, image, input_hw: tuple[int, int] | None = None, softmax: bool = False) -> np.ndarray:
    """Class confidences per window by one fully convolutional pass (spec: CAM-CLASS-MAP).

    ``model``: a ``FullyConvolutional`` network or a crop classifier plus the crop size ``input_hw`` it was
    trained on.  ``image``: (H, W), (C, H, W) or (N, C, H, W).  Returns the class map (d, h', w') (or
    (N, d, h', w')): logits, or the softmax over classes per cell with ``softmax=True``.  Eval mode, no graph.
    """
    fcn = model if isinstance(model, FullyConvolutional) else None
    if fcn is None:
        if input_hw is None:
            raise ValueError("class_map: pass input_hw (the crop size the classifier was trained on) or a model "
                             "converted with to_fully_convolutional")
        fcn = to_fully_convolutional(model, input_hw)
    x, single = _as_batch(image, _param_dtype(fcn))
    was = fcn.training
    fcn.eval()
    try:
        with no_grad():
            out = fcn(x)
            if softmax:
                out = ops.softmax(out, 1)
    finally:
        fcn.train(was)
    out = out.data
    return out[0] if single else out


def class_map_boxes(probs: np.ndarray, stride: tuple[int, int] | int, input_hw: tuple[int, int], threshold: float = 0.5,
                    classes: Sequence[int] | None = None) -> list[tuple[int, float, tuple[int, int, int, int]]]:
    """Detections from a per-cell class probability map (d, h', w') (spec: CAM-CLASS-MAP step 4): for each
    class, the cells with p_c > ``threshold`` are grouped into 4-connected components, and each component
    becomes the union of its cells' crops [uS, uS + H) × [vS, vS + W).  Returns a list of
    (class, max probability, (top, left, bottom, right)), highest probability first."""
    from scipy import ndimage
    p = np.asarray(probs)
    if p.ndim != 3:
        raise ValueError(f"class_map_boxes: expected a class map (d, h', w') for one image, got shape {p.shape}")
    sh, sw = (stride, stride) if isinstance(stride, (int, np.integer)) else stride
    H, W = input_hw
    out = []
    for c in (range(p.shape[0]) if classes is None else classes):
        lab, n = ndimage.label(p[c] > threshold)
        for k in range(1, n + 1):
            us, vs = np.nonzero(lab == k)
            box = (int(us.min() * sh), int(vs.min() * sw), int(us.max() * sh + H), int(vs.max() * sw + W))
            out.append((int(c), float(p[c][lab == k].max()), box))
    return sorted(out, key=lambda r: -r[1])
