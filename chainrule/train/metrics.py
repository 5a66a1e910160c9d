"""Evaluation metrics on arrays (no graph): classification and regression.

Every metric takes ``(output, target)`` in that order, as PyTorch losses do (scikit-learn uses
``(y_true, y_pred)``): ``output`` is what the model returned (scores/logits/probabilities of shape
(N, K), or predicted labels (N,), or real predictions for regression), ``target`` the labels (N,) or
one-hot rows (N, K) or real targets.  Tensors are accepted and read without recording a graph.

Classification (spec: CV-RISK): the zero-one loss 1[y ≠ ŷ] gives

    error_count = Σₙ 1[yₙ ≠ ŷₙ],   error_rate = error_count / N,   accuracy = 1 − error_rate,

so ``accuracy + error_rate = 1`` exactly.  ŷ is the arg-max of the scores (first maximum on ties, as
``numpy.argmax`` and ``torch.argmax``); a single output column (N,) or (N, 1) of real scores is a
binary classifier thresholded at ``threshold`` (0.5 for probabilities; pass 0.0 for logits).

Top-k accuracy (spec: METRIC-TOPK): the share of samples whose label is among the k highest scores,
with ties broken exactly as ``torch.topk`` breaks them on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..tensor import Tensor

__all__ = [
    "accuracy", "error_count", "error_rate", "confusion_matrix", "mse", "mae", "rmse", "r2",
    "topk_accuracy", "predicted_labels", "get_metric", "METRICS",
]


def _arr(x) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.data
    return np.asarray(x)


def _labels_from_target(target, n: int | None = None) -> np.ndarray:
    t = _arr(target)
    if t.ndim == 2 and t.shape[1] > 1:  # one-hot / probability rows
        t = t.argmax(axis=1)
    elif t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim != 1:
        raise ValueError(f"target must be labels of shape (N,) or one-hot rows (N, K), got shape {t.shape}")
    if t.dtype.kind == "f":
        if not np.all(t == np.round(t)):
            raise ValueError("classification target holds non-integer values; pass class labels (N,) or "
                             "one-hot rows (N, K) (for regression targets use mse/mae/r2)")
        t = t.astype(np.int64)
    if n is not None and t.shape[0] != n:
        raise ValueError(f"output has {n} samples but target has {t.shape[0]}; pass one target per sample")
    return t


def predicted_labels(output, threshold: float = 0.5) -> np.ndarray:
    """ŷ from model outputs: arg-max over the last axis of (N, K) scores; threshold of one column of
    real scores (binary); integer arrays are taken as labels already."""
    o = _arr(output)
    if o.ndim == 2 and o.shape[1] > 1:
        return o.argmax(axis=1)
    if o.ndim == 2 and o.shape[1] == 1:
        o = o[:, 0]
    if o.ndim != 1:
        raise ValueError(f"output must be scores (N, K), one score column (N,)/(N, 1) or labels (N,), got "
                         f"shape {o.shape}")
    if o.dtype.kind in "iub":
        return o.astype(np.int64)
    return (o > threshold).astype(np.int64)


def error_count(output, target, threshold: float = 0.5) -> int:
    """Number of mistakes Σₙ 1[yₙ ≠ ŷₙ] (the tutorial's "training error").  (spec: CV-RISK)"""
    pred = predicted_labels(output, threshold)
    return int(np.count_nonzero(pred != _labels_from_target(target, pred.shape[0])))


def error_rate(output, target, threshold: float = 0.5) -> float:
    """Mean zero-one loss (1/N) Σₙ 1[yₙ ≠ ŷₙ] = 1 − accuracy.  (spec: CV-RISK)"""
    pred = predicted_labels(output, threshold)
    if pred.shape[0] == 0:
        raise ValueError("error_rate of an empty batch is undefined (N = 0)")
    return float(np.count_nonzero(pred != _labels_from_target(target, pred.shape[0])) / pred.shape[0])


def accuracy(output, target, threshold: float = 0.5) -> float:
    """(1/N) Σₙ 1[yₙ = ŷₙ] = 1 − error_rate.  (spec: CV-RISK)"""
    pred = predicted_labels(output, threshold)
    if pred.shape[0] == 0:
        raise ValueError("accuracy of an empty batch is undefined (N = 0)")
    wrong = np.count_nonzero(pred != _labels_from_target(target, pred.shape[0]))
    return float((pred.shape[0] - wrong) / pred.shape[0])


def confusion_matrix(output, target, num_classes: int | None = None, threshold: float = 0.5) -> np.ndarray:
    """C[i, j] = number of samples of true class i predicted as class j (rows true, columns predicted,
    as scikit-learn); K = ``num_classes`` or the largest label seen + 1."""
    pred = predicted_labels(output, threshold)
    true = _labels_from_target(target, pred.shape[0])
    o = _arr(output)
    k = num_classes
    if k is None:
        k = int(max(true.max(initial=-1), pred.max(initial=-1))) + 1
        if o.ndim == 2 and o.shape[1] > 1:
            k = max(k, o.shape[1])
    if true.size and (true.min() < 0 or pred.min() < 0 or max(true.max(), pred.max()) >= k):
        raise ValueError(f"labels must lie in [0, {k - 1}] for num_classes={k}; got true labels in "
                         f"[{true.min()}, {true.max()}] and predictions in [{pred.min()}, {pred.max()}]")
    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k).astype(np.int64)


# ------------------------------------------------------------------ regression
def _reg(output, target) -> tuple[np.ndarray, np.ndarray]:
    o, t = _arr(output), _arr(target)
    if o.shape != t.shape:
        if o.size == t.size and o.squeeze().shape == t.squeeze().shape:
            o, t = o.reshape(t.shape), t
        else:
            raise ValueError(f"regression metric: output shape {o.shape} and target shape {t.shape} differ")
    return o.astype(np.float64, copy=False), t.astype(np.float64, copy=False)


def mse(output, target) -> float:
    """Mean squared error (1/n) Σ (ŷ − y)² over all entries."""
    o, t = _reg(output, target)
    return float(np.mean((o - t) ** 2))


def rmse(output, target) -> float:
    """√mse."""
    return float(np.sqrt(mse(output, target)))


def mae(output, target) -> float:
    """Mean absolute error (1/n) Σ |ŷ − y|."""
    o, t = _reg(output, target)
    return float(np.mean(np.abs(o - t)))


def r2(output, target) -> float:
    """Coefficient of determination 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (ȳ per output column; averaged over
    columns uniformly, as scikit-learn's ``r2_score``).  1 is perfect, 0 = predicting the mean."""
    o, t = _reg(output, target)
    if t.ndim == 1:
        o, t = o[:, None], t[:, None]
    ss_res = ((t - o) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        col = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                       np.where(ss_res == 0, 1.0, 0.0))
    return float(col.mean())


# ------------------------------------------------------------------ top-k (torch.topk tie-breaking)
def _gt(a: float, b: float) -> bool:
    """torch.topk's comparator for largest=True: NaN counts as the largest value."""
    return (a != a and b == b) or a > b


def _adjust_heap(q: list, hole: int, length: int, value: tuple) -> None:
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if _gt(q[child][0], q[child - 1][0]):
            child -= 1
        q[hole] = q[child]
        hole = child
    if (length & 1) == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        q[hole] = q[child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and _gt(q[parent][0], value[0]):
        q[hole] = q[parent]
        hole = parent
        parent = (hole - 1) // 2
    q[hole] = value


def _heap_select(q: list, first: int, middle: int, last: int) -> None:
    # libstdc++ std::__heap_select on q[first:last] (heap on q[first:middle]); indices relative to first.
    sub = q[first:last]
    length = middle - first
    if length >= 2:
        parent = (length - 2) // 2
        while True:
            _adjust_heap(sub, parent, length, sub[parent])
            if parent == 0:
                break
            parent -= 1
    for i in range(length, last - first):
        if _gt(sub[i][0], sub[0][0]):
            value = sub[i]
            sub[i] = sub[0]
            _adjust_heap(sub, 0, length, value)
    q[first:last] = sub


def _introselect(q: list, nth: int) -> None:
    # libstdc++ std::nth_element (introselect, median-of-three pivot, unguarded partition).
    first, last = 0, len(q)
    if first == last or nth == last:
        return
    depth = 2 * ((last - first).bit_length() - 1)
    while last - first > 3:
        if depth == 0:
            _heap_select(q, first, nth + 1, last)
            q[first], q[nth] = q[nth], q[first]
            return
        depth -= 1
        a, b, c = first + 1, first + (last - first) // 2, last - 1
        va, vb, vc = q[a][0], q[b][0], q[c][0]
        if _gt(va, vb):
            m = b if _gt(vb, vc) else (c if _gt(va, vc) else a)
        else:
            m = a if _gt(va, vc) else (c if _gt(vb, vc) else b)
        q[first], q[m] = q[m], q[first]
        pivot = q[first][0]
        lo, hi = first + 1, last
        while True:
            while _gt(q[lo][0], pivot):
                lo += 1
            hi -= 1
            while _gt(pivot, q[hi][0]):
                hi -= 1
            if not lo < hi:
                break
            q[lo], q[hi] = q[hi], q[lo]
            lo += 1
        if lo <= nth:
            first = lo
        else:
            last = lo
    # insertion sort of q[first:last]
    for i in range(first + 1, last):
        val = q[i]
        if _gt(val[0], q[first][0]):
            q[first + 1:i + 1] = q[first:i]
            q[first] = val
        else:
            j = i
            while _gt(val[0], q[j - 1][0]):
                q[j] = q[j - 1]
                j -= 1
            q[j] = val


def _torch_topk_set(row: np.ndarray, k: int) -> list[int]:
    """Indices chosen by torch.topk(row, k) on the CPU (ATen's topk_impl_loop over libstdc++)."""
    q = [(float(v), j) for j, v in enumerate(row)]
    if k * 64 <= len(q):
        _heap_select(q, 0, k, len(q))  # std::partial_sort: the set is fixed by the heap selection
    else:
        _introselect(q, k - 1)
    return [j for _, j in q[:k]]


def topk_indices(scores, k: int) -> np.ndarray:
    """(N, k) indices of the k largest scores per row, as a set equal to torch.topk's choice on ties
    (sorted by decreasing score within the row; tie order inside the row is not specified)."""
    s = _arr(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must have shape (N, K), got {s.shape}")
    n, c = s.shape
    if not 1 <= k <= c:
        raise ValueError(f"k must be in [1, {c}] for {c} classes, got {k}")
    key = np.where(np.isnan(s), np.inf, s.astype(np.float64))
    order = np.argsort(-key, axis=1, kind="stable")
    idx = order[:, :k].copy()
    if k < c:
        kth = np.take_along_axis(key, order[:, k - 1:k], axis=1)[:, 0]
        nxt = np.take_along_axis(key, order[:, k:k + 1], axis=1)[:, 0]
        nan_row = np.isnan(s).any(axis=1)
        ambiguous = np.flatnonzero((kth == nxt) | nan_row)
        for i in ambiguous:  # ties straddle the cut: reproduce torch's selection exactly
            chosen = _torch_topk_set(s[i], k)
            idx[i] = sorted(chosen, key=lambda j: (-key[i, j], j))
    return idx


def topk_accuracy(scores, target, k: int | Sequence[int] = (1, 5)) -> float | tuple[float, ...]:
    """Share of samples whose label is among the k highest scores (ILSVRC-style top-k).

    ``k`` an int → a float; a tuple → a tuple of floats, one per k (k larger than the number of
    classes counts every sample as correct).  Ties at the k-th place are broken exactly as
    ``torch.topk`` does on the CPU.  (spec: METRIC-TOPK)

    >>> topk_accuracy([[0.1, 0.5, 0.4], [0.3, 0.2, 0.5]], [2, 0], k=(1, 2))
    (0.0, 1.0)
    """
    s = _arr(scores)
    if s.ndim != 2:
        raise ValueError(f"topk_accuracy: scores must have shape (N, K), got {s.shape}")
    y = _labels_from_target(target, s.shape[0])
    if s.shape[0] == 0:
        raise ValueError("topk_accuracy of an empty batch is undefined (N = 0)")
    ks = (k,) if isinstance(k, int | np.integer) else tuple(k)
    out = []
    for kk in ks:
        kk = int(kk)
        if kk < 1:
            raise ValueError(f"topk_accuracy: k must be >= 1, got {kk}")
        if kk >= s.shape[1]:
            out.append(1.0)
            continue
        idx = topk_indices(s, kk)
        out.append(float(np.mean((idx == y[:, None]).any(axis=1))))
    return out[0] if isinstance(k, int | np.integer) else tuple(out)


# ------------------------------------------------------------------ registry
def _topk_metric(k: int) -> Callable:
    def f(output, target):
        return topk_accuracy(output, target, k)
    f.__name__ = f"top{k}"
    return f


METRICS: dict[str, Callable] = {
    "accuracy": accuracy, "acc": accuracy, "error_rate": error_rate, "error_count": error_count,
    "mse": mse, "rmse": rmse, "mae": mae, "r2": r2,
}


def get_metric(name: str | Callable) -> tuple[str, Callable]:
    """(name, function) for a metric given by name ('accuracy', 'error_rate', 'error_count', 'mse',
    'rmse', 'mae', 'r2', 'top5', ...) or a callable ``f(output, target) -> float``."""
    if callable(name):
        return getattr(name, "__name__", "metric"), name
    if not isinstance(name, str):
        raise TypeError(f"a metric is a name or a callable f(output, target), got {type(name).__name__}")
    key = name.lower()
    if key.startswith("top") and key[3:].isdigit():
        return key, _topk_metric(int(key[3:]))
    if key not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose one of {sorted(METRICS)} or 'top<k>' (e.g. 'top5'), "
                         "or pass a function f(output, target) -> float")
    return ("accuracy" if key == "acc" else key), METRICS[key]
