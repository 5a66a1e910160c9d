"""Cross-validated grid search on three executors: sequential, joblib (local processes), Dask (a cluster).

    python examples/distributed/cv_backends.py            # 4 settings x 5 folds of an MLP on the 8x8 digits
    python examples/distributed/cv_backends.py --quick    # 2 settings x 3 folds, few epochs

The same ``GridSearchCV`` runs with ``backend='sequential'``, ``'joblib'`` (n_jobs=2) and ``'dask'`` on a
``dask.distributed.LocalCluster`` of 2 worker processes (any Dask cluster works the same: pass its Client
or make it the default).  The fold scores are identical on all three — every fit is seeded — and only the
wall time differs.  (spec: CV-KFOLD, CV-MODEL-SELECT)  Writes docs/distributed/cv_backends[_quick].{json,png}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from chainrule import nn
from chainrule.data import load_digits
from chainrule.train import model_selection as ms
from chainrule.train import parallel  # noqa: F401  (registers backend='dask')

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "distributed"


def make_mlp(hidden: int = 32):
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    X, y = load_digits("train")
    X = X.reshape(len(X), -1).astype(np.float64)
    if args.quick:
        grid = {"model_kwargs": [{"hidden": 16}, {"hidden": 64}]}
        folds, epochs = 3, 5
    else:
        grid = {"model_kwargs": [{"hidden": 16}, {"hidden": 64}], "weight_decay": [0.0, 1e-3]}
        folds, epochs = 5, 30
    est = ms.ModuleEstimator(make_mlp, task="classification", lr=1e-2, epochs=epochs, batch_size=64, random_state=0)
    cv = ms.StratifiedKFold(folds, shuffle=True, random_state=0)
    times, results = {}, {}
    from dask.distributed import Client, LocalCluster
    t = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    cluster_start = time.perf_counter() - t
    try:
        for backend in ("sequential", "joblib", "dask"):
            gs = ms.GridSearchCV(est, grid, cv=cv, scoring="accuracy", backend=backend,
                                 n_jobs=None if backend == "sequential" else 2, refit=False)
            t = time.perf_counter()
            if backend == "dask":
                with client.as_current():
                    gs.fit(X, y)
            else:
                gs.fit(X, y)
            times[backend] = time.perf_counter() - t
            results[backend] = gs
            print(f"{backend:10s} {times[backend]:6.1f} s  best {gs.best_params_}  {gs.best_score_:.4f}", flush=True)
    finally:
        client.close()
        cluster.close()
    base = results["sequential"].cv_results_["mean_test_score"]
    same = {b: bool(np.array_equal(results[b].cv_results_["mean_test_score"], base)) for b in results}
    n_fits = len(results["sequential"].cv_results_["params"]) * folds
    report = {"fits": n_fits, "folds": folds, "epochs": epochs, "seconds": times,
              "dask_cluster_start_seconds": cluster_start, "identical_to_sequential": same,
              "params": [str(p) for p in results["sequential"].cv_results_["params"]],
              "mean_test_accuracy": base.tolist(),
              "std_test_accuracy": results["sequential"].cv_results_["std_test_score"].tolist(),
              "best_params": str(results["sequential"].best_params_)}
    OUT.mkdir(parents=True, exist_ok=True)
    stem = "cv_backends" + ("_quick" if args.quick else "")
    (OUT / f"{stem}.json").write_text(json.dumps(report, indent=1))
    from chainrule.train.plots import new_figure, save_figure
    fig = new_figure(figsize=(10, 3.6))
    ax = fig.add_subplot(1, 2, 1)
    ax.bar(list(times), list(times.values()), color=["C0", "C1", "C2"])
    ax.set_ylabel(f"wall time for {n_fits} fits (s)")
    ax.set_title("GridSearchCV by backend (2 workers)")
    ax = fig.add_subplot(1, 2, 2)
    ax.errorbar(np.arange(len(base)), base, yerr=report["std_test_accuracy"], fmt="o", capsize=3)
    ax.set_xticks(np.arange(len(base)))
    ax.set_xticklabels(report["params"], rotation=20, fontsize=6, ha="right")
    ax.set_ylabel(f"{folds}-fold CV accuracy (same on all backends)")
    save_figure(fig, OUT / f"{stem}.png")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
