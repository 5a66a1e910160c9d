"""The Optimizer base: parameter groups, per-parameter state, state_dict round trip.

Every optimizer updates ``p.data`` in place (and bumps the parameter's version counter, so a graph
built before the step cannot be backpropagated afterwards by mistake).

Conventions shared by all optimizers (spec conventions of 02): g = ∇_wR has the parameter's shape,
products/squares/roots/divisions of vectors are elementwise, t is the per-parameter step count (1 at
the first step); ``maximize=True`` negates g; ``step(closure)`` calls ``closure()`` (with gradients
enabled) to re-evaluate the loss — required by LBFGS, CG, Newton, Gauss-Newton, LM, line searches and
Rprop(variant='irprop+').
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable

import numpy as np

from ..tensor import Tensor, no_grad

_required = object()


def _copy_value(v):
    """Deep copy of a state value (arrays, lists/tuples/dicts of them, numbers)."""
    if isinstance(v, Tensor):
        return np.array(v.data, copy=True)
    if isinstance(v, np.ndarray):
        return np.array(v, copy=True)
    if isinstance(v, list):
        return [_copy_value(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_copy_value(x) for x in v)
    if isinstance(v, dict):
        return {k: _copy_value(x) for k, x in v.items()}
    return v


def _load_value(v, p: Tensor | None):
    """Inverse of ``_copy_value`` after a trip through NumPy: 0-d arrays become Python numbers,
    arrays shaped like the parameter take its dtype."""
    if isinstance(v, Tensor):
        v = v.data
    if isinstance(v, np.ndarray | np.generic):
        arr = np.array(v, copy=True)
        if p is not None and arr.shape == p.shape and arr.dtype.kind == "f":
            return arr.astype(p.dtype)
        if arr.ndim == 0:
            return arr.item()
        return arr
    if isinstance(v, list):
        return [_load_value(x, None) for x in v]
    if isinstance(v, tuple):
        return tuple(_load_value(x, None) for x in v)
    if isinstance(v, dict):
        return {k: _load_value(x, None) for k, x in v.items()}
    return v


def check_lr(lr, name: str = "lr"):
    """Validate a learning rate: a number ≥ 0 or an array/tensor (per-weight rates, spec
    OPT-PER-PARAM-LR) with entries ≥ 0.  Returns a float or a NumPy array."""
    if lr is _required:
        return lr
    if isinstance(lr, Tensor):
        lr = lr.data
    if isinstance(lr, np.ndarray):
        if lr.dtype.kind not in "fiu":
            raise TypeError(f"{name} must be a number or a numeric array, got dtype {lr.dtype}")
        if not np.all(np.isfinite(lr)) or np.any(lr < 0):
            raise ValueError(f"invalid {name}: every entry must be finite and >= 0, got min "
                             f"{lr.min()}; use positive per-weight learning rates")
        return lr.astype(np.float64) if lr.dtype.kind != "f" else lr
    if not isinstance(lr, numbers.Real) or isinstance(lr, bool):
        raise TypeError(f"{name} must be a number or an array shaped like the parameter, got "
                        f"{type(lr).__name__}")
    if not lr >= 0 or lr != lr or lr == float("inf"):
        raise ValueError(f"invalid {name} {lr}: must be a finite number >= 0 (e.g. {name}=0.01)")
    return float(lr)


def check_range(name: str, value, low=None, high=None, low_open: bool = False, high_open: bool = False,
                hint: str = "") -> None:
    """Raise a ValueError naming the hyperparameter, the allowed interval and the given value."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low}"
        hi = "inf)" if high is None else f"{high}" + (")" if high_open else "]")
        raise ValueError(f"invalid {name} {value!r}: expected a number in {lo}, {hi}" + (f"; {hint}" if hint else ""))


class Optimizer:
    """Base class.  ``params``: an iterable of tensors or of dicts (param groups); every
    hyperparameter in ``defaults`` can be overridden per group.

    Subclasses implement ``step(closure=None)``; the helpers ``_grad`` (g with ``maximize`` applied),
    ``_eval_closure`` and the flat-vector helpers (``_flat_params``, ``_gather_flat_grad``,
    ``_add_flat``, ``_set_flat``) are shared by the first- and second-order methods.

    **Frozen parameters and missing gradients** (as in PyTorch).  Parameters with ``requires_grad=False``
    may be passed.  The per-parameter methods (SGD, Adam, Rprop, Quickprop, delta-bar-delta, ...) skip,
    in ``step()``, every parameter whose ``.grad`` is None (a frozen layer, a branch the loss did not
    use): it is not moved and its state (momentum buffer, step count t, per-weight rates) is left as it
    was.  The whole-vector methods (LBFGS, ConjugateGradient, GD with a line search, Newton,
    GaussNewton, LevenbergMarquardt, ``line_search``) take as variables w the parameters that require
    grad at the time of the step (concatenated in group order); the others are constants, never written.
    A parameter that requires grad but got no gradient from the closure counts as g = 0 there.  If the
    set of trainable parameters changes between steps, LBFGS and ConjugateGradient restart their
    history (first-iteration rules).  Optimizer-wide state (LBFGS's history, LM's λ, ...) is kept, as in
    PyTorch, under the first parameter of the group, frozen or not.  ``state_dict`` numbers all
    parameters, frozen ones included, so it round-trips either way.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict = {}
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of tensors (e.g. model.parameters()), not a tensor")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for g in params:
            self.add_param_group(g)

    def add_param_group(self, group: dict) -> None:
        group = dict(group)
        ps = group["params"]
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        for p in ps:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (one computed by an op); optimize the leaf it "
                                 "came from, or pass x.detach().requires_grad_() as a new parameter")
            # frozen parameters (requires_grad=False) are accepted, as in PyTorch: step() skips every
            # parameter without a gradient (see the class docstring)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in ps):
            raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = ps
        for k, v in self.defaults.items():
            if v is _required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required hyperparameter {k!r}")
            group.setdefault(k, v)
        if "lr" in group:
            group["lr"] = check_lr(group["lr"])
            lr = group["lr"]
            if isinstance(lr, np.ndarray) and lr.ndim > 0:
                for p in ps:
                    try:
                        np.broadcast_shapes(lr.shape, p.shape)
                    except ValueError:
                        raise ValueError(f"per-weight lr of shape {lr.shape} does not broadcast to a parameter "
                                         f"of shape {p.shape}; give each parameter its own group with an "
                                         "lr shaped like it") from None
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = Tensor._wrap(np.zeros_like(p.data))

    def step(self, closure: Callable | None = None):
        raise NotImplementedError

    @staticmethod
    def _eval_closure(closure: Callable | None):
        if closure is None:
            return None
        from ..tensor import enable_grad
        with enable_grad():
            return closure()

    def _params_with_grad(self, group: dict):
        for p in group["params"]:
            if p.grad is not None:
                yield p

    @staticmethod
    def _grad(p: Tensor, group: dict) -> np.ndarray:
        """g for parameter p (negated when ``maximize``); never modify the result in place."""
        g = p.grad.data
        return -g if group.get("maximize") else g

    # -------------------------------------------------------- flat-vector helpers (second order)
    def _flat_params(self) -> list[Tensor]:
        """The variables of the whole-vector methods: the parameters that require grad, in group order."""
        ps = [p for g in self.param_groups for p in g["params"] if p.requires_grad]
        if not ps:
            raise ValueError(f"{type(self).__name__}: none of the optimizer's parameters requires grad (all are "
                             "frozen), so there is nothing to optimize; unfreeze some with requires_grad_(True)")
        return ps

    def _numel(self) -> int:
        return sum(p.size for p in self._flat_params())

    def _gather_flat_params(self) -> np.ndarray:
        return np.concatenate([p.data.ravel() for p in self._flat_params()])

    def _gather_flat_grad(self) -> np.ndarray:
        """The concatenated gradient over ``_flat_params()`` (zeros for a parameter without one),
        maximize applied per group."""
        views = []
        for grp in self.param_groups:
            for p in grp["params"]:
                if not p.requires_grad:
                    continue
                if p.grad is None:
                    views.append(np.zeros(p.size, dtype=p.dtype))
                else:
                    g = p.grad.data.ravel()
                    views.append(-g if grp.get("maximize") else g)
        if not views:
            self._flat_params()  # raises the error for "all frozen"
        return np.concatenate(views)

    def _global_state(self) -> dict:
        """Optimizer-wide state of the whole-vector methods, kept under the group's first parameter
        (PyTorch's convention), so ``state_dict`` carries it."""
        return self.state.setdefault(self.param_groups[0]["params"][0], {})

    def _add_flat(self, t: float, d: np.ndarray) -> None:
        """w ← w + t·d for the flat vector d (in place, version bumped)."""
        off = 0
        for p in self._flat_params():
            n = p.size
            p.data += t * d[off:off + n].reshape(p.shape)
            p._version += 1
            off += n

    def _set_flat(self, x: np.ndarray) -> None:
        off = 0
        for p in self._flat_params():
            n = p.size
            p.data[...] = x[off:off + n].reshape(p.shape)
            p._version += 1
            off += n

    def _sign(self) -> float:
        """−1 when maximizing (the flat methods minimize −R), else +1."""
        return -1.0 if self.param_groups[0].get("maximize") else 1.0

    def _directional_evaluate(self, closure: Callable, x: np.ndarray, t: float, d: np.ndarray):
        """(R(x + t·d), ∇R(x + t·d)) through the closure (which calls backward); parameters end at x."""
        self._add_flat(t, d)
        loss = self._sign() * float(self._eval_closure(closure))
        flat_grad = self._gather_flat_grad()
        self._set_flat(x)
        return loss, flat_grad

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """{'state': {index: {name: array|number|list}}, 'param_groups': [{hyper..., 'params': [index]}]}
        with parameters numbered in group order (PyTorch layout).  Arrays are copies; callables in the
        groups (e.g. a user line-search function) are left out and kept by ``load_state_dict``."""
        index, groups, k = {}, [], 0
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index[id(p)] = k
                ids.append(k)
                k += 1
            groups.append({**{a: _copy_value(b) for a, b in g.items() if a != "params" and not callable(b)},
                           "params": ids})
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                st = self.state.get(p)
                if st:
                    state[index[id(p)]] = {a: _copy_value(b) for a, b in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state has {len(groups)} parameter groups, this optimizer has "
                             f"{len(self.param_groups)}; it was saved for a different model/optimizer")
        params = []
        for g_saved, g in zip(groups, self.param_groups):
            if len(g_saved["params"]) != len(g["params"]):
                raise ValueError(f"a parameter group has {len(g['params'])} parameters but the saved one had "
                                 f"{len(g_saved['params'])}; the optimizer state is for a different model")
            params.extend(g["params"])
            for k, v in g_saved.items():
                if k != "params":
                    old = g.get(k)
                    v = _load_value(v, None)
                    if isinstance(old, tuple) and isinstance(v, list | np.ndarray):
                        v = tuple(np.asarray(v).tolist())
                    g[k] = v
        self.state = {}
        for idx, st in state_dict["state"].items():
            p = params[int(idx)]
            self.state[p] = {a: _load_value(b, p) for a, b in st.items()}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k, v in sorted(g.items()):
                if k != "params":
                    lines.append(f"    {k}: {v}")
        return "\n".join(lines) + "\n)"


def _apply_update(p: Tensor, delta: np.ndarray) -> None:
    """p ← p + delta, in place, recorded in the version counter."""
    with no_grad():
        p.data += delta
    p._version += 1


def params_of(params: Iterable) -> list[Tensor]:
    out = []
    for x in params:
        out.extend(x["params"] if isinstance(x, dict) else [x])
    return out
