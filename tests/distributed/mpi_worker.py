"""Launched by the distributed tests as ``mpiexec -n P python mpi_worker.py MODE OUTDIR [args]``.

MODE (comma-separated list): collectives | equivalence | resume | fault | crash.  Rank 0 writes results into OUTDIR.
spec: TRAIN-SGD-MODES, TRAIN-EPOCHS, SGD-MINIBATCH
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from dist_common import B, N, make_data, make_model, make_opt, params_of

import chainrule as cr
from chainrule.data import DataLoader, TensorDataset
from chainrule.distributed import (
    DataParallelTrainer,
    DistributedDataParallel,
    DistributedOptimizer,
    DistributedSampler,
    get_communicator,
)
from chainrule.nn import functional as F

modes, out = sys.argv[1].split(","), Path(sys.argv[2])
comm = get_communicator()
rank, size = comm.rank, comm.size
assert size > 1, "launch me with mpiexec -n 2 or more"


def collectives() -> dict:
    res = {}
    for dt in (np.float32, np.float64, np.int64):
        a = (np.arange(6) + 10 * rank).astype(dt)
        comm.allreduce(a, "sum")
        res[f"sum_{np.dtype(dt).name}"] = a.tolist()
    m = np.arange(4.0) * (rank + 1)
    comm.allreduce(m, "mean")
    res["mean"] = m.tolist()
    t = cr.Tensor(np.full(3, float(rank + 1)))
    comm.allreduce(t, "sum")
    res["tensor_sum"] = t.data.tolist()
    res["number_sum"] = comm.allreduce(rank + 0.5)
    reqs = [comm.iallreduce(np.full(2, float(rank + k)), "sum") for k in range(3)]
    res["iallreduce"] = [r.wait().tolist() for r in reqs]
    arr = np.full(4, float(rank))
    comm.broadcast(arr, root=size - 1)
    res["bcast_array"] = arr.tolist()
    res["bcast_obj"] = comm.broadcast({"from": rank, "list": [rank] * 3}, root=size - 1)
    res["allgather"] = comm.allgather(("r", rank))
    comm.barrier()
    grads = []
    for average in (True, False):  # the same data on both ranks: the sum is twice the average
        model = make_model(seed=0)
        ddp = DistributedDataParallel(model, comm, average=average)
        X, y = make_data()
        F.cross_entropy(ddp(cr.Tensor(X)), y).backward()
        ddp.synchronize()
        grads.append(model.a.weight.grad.data.copy())
    res["ddp_sum_over_mean"] = float(np.linalg.norm(grads[1]) / np.linalg.norm(grads[0]))
    return res


def equivalence() -> dict:
    """Low-level API: DDP + DistributedOptimizer + DataLoader(sampler=DistributedSampler), 50 steps."""
    steps = 50
    X, y = make_data()
    results = {}
    configs = [(o, ov, cap, acc) for o in ("sgd", "adam") for ov, cap, acc in
               ((True, 25.0, False), (True, 1e-4, False), (False, 1e-4, False), (True, 1e-4, True))]
    for opt_name, overlap, cap, accum in configs:
        model = make_model(seed=rank)  # different init on every rank: the broadcast must fix it
        ddp = DistributedDataParallel(model, comm, bucket_cap_mb=cap, overlap=overlap)
        opt = DistributedOptimizer(make_opt(opt_name, model.parameters()), ddp)
        sampler = DistributedSampler(N, seed=0)
        b = B // size
        loader = DataLoader(TensorDataset(X, y), batch_size=b, sampler=sampler)
        done = 0
        while done < steps:
            for xb, yb in loader:
                opt.zero_grad()
                if accum:  # two micro-batches, the first without communication
                    h = b // 2
                    with ddp.no_sync():
                        (0.5 * F.cross_entropy(ddp(xb[:h]), yb[:h])).backward()
                    (0.5 * F.cross_entropy(ddp(xb[h:]), yb[h:])).backward()
                else:
                    F.cross_entropy(ddp(xb), yb).backward()
                opt.step()
                done += 1
                if done == steps:
                    break
        key = f"{opt_name}_overlap{int(overlap)}_cap{cap:g}_accum{int(accum)}"
        results[key] = params_of(model)
        results[key + "_buckets"] = len(ddp.bucket_sizes)
        results[key + "_unused_grad_is_none"] = model.unused.grad is None
    # negative control: the same loop without DistributedDataParallel (each rank trains on its own shard)
    model = make_model(seed=0)
    opt = make_opt("sgd", model.parameters())
    loader = DataLoader(TensorDataset(X, y), batch_size=B // size, sampler=DistributedSampler(N, seed=0))
    done = 0
    while done < steps:
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
            done += 1
            if done == steps:
                break
    results["control_local_sgd"] = params_of(model)
    return results


def trainer_run(steps: int, ckpt: Path | None, every: int | None, resume: Path | None, opt_name: str = "adam",
                callbacks=()) -> list[np.ndarray]:
    X, y = make_data()
    model = make_model(seed=rank)
    opt = make_opt(opt_name, model.parameters())
    tr = DataParallelTrainer(model, F.cross_entropy, opt, (X, y), batch_size=B, comm=comm, seed=0,
                             checkpoint=ckpt, checkpoint_every=every, resume=resume, progress=False,
                             step_callbacks=callbacks)
    tr.fit(epochs=100, max_steps=steps)
    return params_of(model)


def save(name: str, arrays: list[np.ndarray]) -> None:
    if rank == 0:
        np.savez(out / name, *arrays)


for mode in modes:
    if mode == "collectives":
        r = collectives()
        if rank == 0:
            (out / "collectives.json").write_text(json.dumps(r))
    elif mode == "equivalence":
        r = equivalence()
        if rank == 0:
            meta = {k: v for k, v in r.items() if not isinstance(v, list)}
            (out / "equivalence.json").write_text(json.dumps(meta))
            for k, v in r.items():
                if isinstance(v, list):
                    np.savez(out / f"{k}.npz", *v)
    elif mode == "resume":
        # 15 steps, checkpoint (the test continues it with 1 process); then continue the 1-process checkpoint
        # the test wrote at step 15 up to step 30
        trainer_run(15, out / "p2_state.npz", None, None)
        save("p2_from_p1.npz", trainer_run(30, out / "p2_cont.npz", None, out / "p1_state.npz"))
    elif mode == "fault":
        def hang(trainer, step, loss):
            if step == 12 and rank == size - 1:
                time.sleep(120)  # a hung worker: the others must time out and name this rank

        trainer_run(30, out / "fault_state.npz", 5, None, callbacks=[hang])
    elif mode == "crash":
        def crash(trainer, step, loss):
            if step == 3 and rank == size - 1:
                raise ValueError("injected failure in the worker")

        trainer_run(30, None, None, None, callbacks=[crash])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    if rank == 0:
        (out / f"{mode}.done").write_text("ok")
