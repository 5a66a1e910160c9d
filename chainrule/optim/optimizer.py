"""The Optimizer base: parameter groups, per-parameter state, state_dict round trip.

Every optimizer updates ``p.data`` in place (and bumps the parameter's version counter, so a graph
built before the step cannot be backpropagated afterwards by mistake).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ..tensor import Tensor, no_grad

_required = object()


class Optimizer:
    """Base class.  ``params``: an iterable of tensors or of dicts (param groups); every
    hyperparameter in ``defaults`` can be overridden per group."""

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
            if not p.requires_grad:
                raise ValueError("optimizing a tensor that does not require grad; set requires_grad=True "
                                 "or leave it out of the optimizer")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in ps):
            raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = ps
        for k, v in self.defaults.items():
            if v is _required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required hyperparameter {k!r}")
            group.setdefault(k, v)
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

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """{'state': {index: {name: array|number}}, 'param_groups': [{hyper..., 'params': [index]}]}
        with parameters numbered in group order (PyTorch layout); arrays are copies."""
        index, groups, k = {}, [], 0
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index[id(p)] = k
                ids.append(k)
                k += 1
            groups.append({**{a: b for a, b in g.items() if a != "params"}, "params": ids})
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                st = self.state.get(p)
                if st:
                    state[index[id(p)]] = {a: (np.array(b, copy=True) if isinstance(b, np.ndarray) else b)
                                           for a, b in st.items()}
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
                    g[k] = v
        self.state = {}
        for idx, st in state_dict["state"].items():
            p = params[int(idx)]
            new = {}
            for a, b in st.items():
                if isinstance(b, np.ndarray) or isinstance(b, Tensor):
                    arr = np.array(b.data if isinstance(b, Tensor) else b, copy=True)
                    if arr.shape == p.shape and arr.dtype.kind == "f":
                        arr = arr.astype(p.dtype)
                    new[a] = arr
                else:
                    new[a] = b
            self.state[p] = new

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
