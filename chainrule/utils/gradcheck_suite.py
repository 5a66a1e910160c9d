"""A suite of finite-difference gradient checks over the library's ops (``chainrule gradcheck``).

Each case builds float64 inputs (kept away from kinks and domain edges), runs
``chainrule.gradcheck`` (central differences against reverse mode) and, for smooth ops,
``chainrule.gradgradcheck`` (second derivatives by double backward).  Ops that this installation lacks
(e.g. ``conv2d`` before the convolution module lands) are skipped, not failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Case", "default_cases", "run_suite", "format_table"]


@dataclass
class Case:
    name: str
    fn: Callable | None               # f(*tensors) -> Tensor; None = op unavailable (skipped)
    shapes: tuple[tuple[int, ...], ...]
    smooth: bool = True               # also run gradgradcheck
    domain: str = "any"               # 'any', 'positive', 'away0' (|x| >= 0.2), 'unit' (0.1..0.9)


def _get(path: str):
    import importlib
    mod_name, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError):
        return None


def _opt(path: str, make: Callable[[Callable], Callable]) -> Callable | None:
    f = _get(path)
    return None if f is None else make(f)


def default_cases() -> list[Case]:
    import chainrule as cr
    from chainrule import ops
    from chainrule.nn import functional as F
    y_idx = np.array([0, 2, 1, 2])
    cases = [
        Case("add (broadcast)", lambda a, b: a + b, ((3, 4), (4,))),
        Case("sub (broadcast)", lambda a, b: a - b, ((3, 1), (1, 4))),
        Case("mul (broadcast)", lambda a, b: a * b, ((3, 4), (3, 1))),
        Case("div", lambda a, b: a / b, ((3, 4), (3, 4)), domain="positive"),
        Case("pow x^2.5", lambda a: a ** 2.5, ((3, 4),), domain="positive"),
        Case("exp", ops.exp, ((3, 4),)),
        Case("log", ops.log, ((3, 4),), domain="positive"),
        Case("sqrt", ops.sqrt, ((3, 4),), domain="positive"),
        Case("sin", ops.sin, ((3, 4),)),
        Case("abs", ops.abs, ((3, 4),), smooth=False, domain="away0"),
        Case("tanh", ops.tanh, ((3, 4),)),
        Case("sigmoid", ops.sigmoid, ((3, 4),)),
        Case("relu", ops.relu, ((3, 4),), smooth=False, domain="away0"),
        Case("leaky_relu", lambda a: ops.leaky_relu(a, 0.1), ((3, 4),), smooth=False, domain="away0"),
        Case("elu", ops.elu, ((3, 4),), smooth=False, domain="away0"),
        Case("softplus", ops.softplus, ((3, 4),)),
        Case("gelu", ops.gelu, ((3, 4),)),
        Case("silu", ops.silu, ((3, 4),)),
        Case("sum(axis=1)", lambda a: ops.sum(a, 1), ((3, 4),)),
        Case("mean", ops.mean, ((3, 4),)),
        Case("var(axis=0)", lambda a: ops.var(a, 0), ((5, 3),)),
        Case("max(axis=1)", lambda a: ops.max(a, 1), ((3, 4),), smooth=False),
        Case("softmax", lambda a: ops.softmax(a, 1), ((3, 4),)),
        Case("log_softmax", lambda a: ops.log_softmax(a, 1), ((3, 4),)),
        Case("logsumexp", lambda a: ops.logsumexp(a, 1), ((3, 4),)),
        Case("matmul", ops.matmul, ((3, 4), (4, 2))),
        Case("matmul (batched)", ops.matmul, ((2, 3, 4), (4, 2))),
        Case("linear", ops.linear, ((5, 4), (3, 4), (3,))),
        Case("reshape+transpose", lambda a: ops.transpose(ops.reshape(a, (4, 3)), 0, 1), ((3, 4),)),
        Case("getitem", lambda a: a[1:, ::2], ((3, 4),)),
        Case("concatenate", lambda a, b: ops.concatenate([a, b], 0), ((2, 3), (1, 3))),
        Case("mse_loss", F.mse_loss, ((4, 3), (4, 3))),
        Case("cross_entropy", lambda s: F.cross_entropy(s, y_idx), ((4, 3),)),
        Case("bce_with_logits", lambda s, t: F.binary_cross_entropy_with_logits(s, t), ((4, 3), (4, 3)),
             domain="unit"),
        Case("conv2d", _opt("chainrule.ops.conv2d", lambda f: (lambda x, w, b: f(x, w, b, padding=1))),
             ((2, 2, 5, 5), (3, 2, 3, 3), (3,))),
        Case("max_pool2d", _opt("chainrule.ops.max_pool2d", lambda f: (lambda x: f(x, 2))), ((1, 2, 4, 4),),
             smooth=False),
        Case("avg_pool2d", _opt("chainrule.ops.avg_pool2d", lambda f: (lambda x: f(x, 2))), ((1, 2, 4, 4),)),
    ]
    bn = _get("chainrule.nn.BatchNorm1d")
    if bn is not None:
        def _bn(x):
            m = bn(3).double()
            return m(x)
        cases.append(Case("batch_norm1d (train)", _bn, ((6, 3),)))
    _ = cr
    return cases


def _inputs(case: Case, seed: int):
    import chainrule as cr
    rng = np.random.default_rng(seed)
    xs = []
    for shape in case.shapes:
        if case.domain == "positive":
            a = rng.uniform(0.5, 2.0, shape)
        elif case.domain == "away0":
            a = rng.uniform(0.2, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
        elif case.domain == "unit":
            a = rng.uniform(0.1, 0.9, shape)
        else:
            a = rng.uniform(-1.0, 1.0, shape)
        xs.append(cr.Tensor(a, requires_grad=True, dtype=np.float64))
    return xs


def run_suite(cases: list[Case] | None = None, second_order: bool = True, only: list[str] | None = None,
              seed: int = 0) -> list[dict]:
    """Run the cases; one dict per case: name, status of first and second order ('pass', 'FAIL', 'skip',
    'n/a'), message and seconds."""
    import chainrule as cr
    cases = default_cases() if cases is None else cases
    if only:
        keys = [o.lower() for o in only]
        cases = [c for c in cases if any(k in c.name.lower() for k in keys)]
    rows = []
    for case in cases:
        row = {"name": case.name, "shapes": " ".join("x".join(map(str, s)) or "()" for s in case.shapes),
               "first": "skip", "second": "skip", "message": "", "seconds": 0.0}
        if case.fn is None:
            row["message"] = "op not available in this build"
            rows.append(row)
            continue
        t0 = time.perf_counter()
        try:
            cr.gradcheck(case.fn, _inputs(case, seed))
            row["first"] = "pass"
        except Exception as e:  # noqa: BLE001 - every failure is reported in the table
            row["first"] = "FAIL"
            row["message"] = f"{type(e).__name__}: {e}"
        if not case.smooth or not second_order:
            row["second"] = "n/a" if not case.smooth else "skip"
        elif row["first"] == "pass":
            try:
                cr.gradgradcheck(case.fn, _inputs(case, seed))
                row["second"] = "pass"
            except Exception as e:  # noqa: BLE001
                row["second"] = "FAIL"
                row["message"] = f"second order: {type(e).__name__}: {e}"
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    w = max([len(r["name"]) for r in rows] + [4])
    ws = max([len(r["shapes"]) for r in rows] + [6])
    lines = [f"{'op':<{w}}  {'inputs':<{ws}}  {'grad':<5} {'grad²':<5} {'s':>6}  note",
             "-" * (w + ws + 30)]
    for r in rows:
        lines.append(f"{r['name']:<{w}}  {r['shapes']:<{ws}}  {r['first']:<5} {r['second']:<5} {r['seconds']:>6.3f}  "
                     f"{r['message'][:160]}")
    n_fail = sum(r["first"] == "FAIL" or r["second"] == "FAIL" for r in rows)
    n_pass = sum(r["first"] == "pass" for r in rows)
    n_skip = sum(r["first"] == "skip" for r in rows)
    lines.append(f"{n_pass} passed, {n_fail} failed, {n_skip} skipped (float64 central differences; grad² = "
                 "gradgradcheck)")
    return "\n".join(lines)
