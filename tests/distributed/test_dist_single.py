"""chainrule.distributed in one process: communicator semantics, the sampler's sharding, the DDP bucket and
hook logic (bitwise equal to plain training at size 1), the trainer's checkpoint/resume.

spec: TRAIN-EPOCHS (shards of one permutation per epoch, same seed → same order), SGD-MINIBATCH,
TRAIN-SGD-MODES, OPT-SGD, CV-TEST-SET (distributed_evaluate)
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from dist_common import B, N, Net, make_data, make_model, make_opt, max_diff, params_of, reference

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader, RandomSampler, TensorDataset
from chainrule.distributed import (
    Communicator,
    DataParallelTrainer,
    DistributedDataParallel,
    DistributedOptimizer,
    DistributedSampler,
    SingleProcessCommunicator,
    WorkerLostError,
    distributed_evaluate,
    get_communicator,
    launched_world_size,
    load_training_state,
    save_training_state,
    set_communicator,
)
from chainrule.distributed import comm as comm_mod
from chainrule.nn import functional as F


class FakeComm(SingleProcessCommunicator):
    """Identity collectives but another rank/size: for the rank-dependent code paths."""

    def __init__(self, rank: int, size: int):
        super().__init__()
        self.rank, self.size = rank, size

    def broadcast(self, x, root: int = 0):
        return x


# ============================================================================ communicators
def test_single_process_collectives_are_identities():
    c = SingleProcessCommunicator()
    assert (c.rank, c.size, c.is_main) == (0, 1, True)
    a = np.arange(5.0)
    assert c.allreduce(a, "sum") is a and a.tolist() == [0, 1, 2, 3, 4]
    assert c.allreduce(a, "mean") is a and a.tolist() == [0, 1, 2, 3, 4]
    assert c.allreduce(2.5) == 2.5 and c.allreduce(3) == 3
    t = cr.Tensor(np.ones(3))
    assert c.allreduce(t) is t
    r = c.iallreduce(a)
    assert r.test() and r.wait() is a
    assert c.broadcast({"k": 1}) == {"k": 1}
    assert c.allgather("x") == ["x"]
    c.barrier()
    c.allreduce_many([a, np.ones(2)])


def test_communicator_errors_say_what_to_do():
    c = SingleProcessCommunicator()
    with pytest.raises(ValueError, match="'sum' or 'mean'"):
        c.allreduce(np.ones(2), "max")
    with pytest.raises(ValueError, match="C-contiguous"):
        c.iallreduce(np.ones((3, 4))[:, 1])
    with pytest.raises(TypeError, match="use allreduce"):
        c.iallreduce(1.0)
    with pytest.raises(ValueError, match="root must be a rank"):
        c.broadcast(1, root=1)
    err = WorkerLostError("x", rank=0, lost=[2])
    assert isinstance(err, RuntimeError) and err.lost == [2]


def test_get_communicator_picks_single_process_outside_mpiexec(monkeypatch):
    for k in comm_mod._ENV_SIZE:
        monkeypatch.delenv(k, raising=False)
    set_communicator(None)
    try:
        assert launched_world_size() == 1
        c = get_communicator()
        assert isinstance(c, SingleProcessCommunicator) and get_communicator() is c
        monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
        assert launched_world_size() == 4
        monkeypatch.setenv("PMI_SIZE", "3")
        assert launched_world_size() == 3
        with pytest.raises(ValueError, match="'auto', 'mpi' or 'single'"):
            get_communicator("nccl")
        with pytest.raises(TypeError):
            set_communicator("mpi")
    finally:
        set_communicator(None)


def test_mpi_backend_without_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import fails
    set_communicator(None)
    try:
        with pytest.raises(ImportError, match=r"pip install chainrule\[mpi\]"):
            get_communicator("mpi")
    finally:
        set_communicator(None)


def test_timeout_environment_variable(monkeypatch):
    monkeypatch.setenv("CHAINRULE_DIST_TIMEOUT", "none")
    assert comm_mod._default_timeout() is None
    monkeypatch.setenv("CHAINRULE_DIST_TIMEOUT", "2.5")
    assert comm_mod._default_timeout() == 2.5
    monkeypatch.setenv("CHAINRULE_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="number of seconds"):
        comm_mod._default_timeout()
    monkeypatch.delenv("CHAINRULE_DIST_TIMEOUT")
    assert comm_mod._default_timeout() == comm_mod.DEFAULT_TIMEOUT


# ============================================================================ sampler
def test_sampler_shards_are_disjoint_cover_and_pad():
    n, p = 10, 3
    shards = [DistributedSampler(n, p, r, seed=5).indices() for r in range(p)]
    assert [len(s) for s in shards] == [4, 4, 4] == [len(DistributedSampler(n, p, r)) for r in range(p)]
    allidx = np.concatenate(shards)
    assert set(allidx.tolist()) == set(range(n))            # covers
    assert len(allidx) - len(set(allidx.tolist())) == 2      # exactly the 2 padding repeats
    dl = [DistributedSampler(n, p, r, seed=5, drop_last=True).indices() for r in range(p)]
    flat = np.concatenate(dl)
    assert len(flat) == 9 and len(set(flat.tolist())) == 9   # disjoint, tail dropped
    for mode in ("strided", "contiguous"):
        sh = [DistributedSampler(12, 4, r, seed=1, mode=mode).indices() for r in range(4)]
        assert sorted(np.concatenate(sh).tolist()) == list(range(12))


def test_strided_shards_make_the_single_process_global_batches():
    """Step k of all ranks together = the k-th batch of B of the single-process order (RandomSampler(seed))."""
    n, p, b = 48, 4, 3
    single = RandomSampler(n, seed=7)
    for epoch in (0, 1, 2):
        single.set_epoch(epoch)
        order = single.indices()
        shards = []
        for r in range(p):
            s = DistributedSampler(n, p, r, seed=7)
            s.set_epoch(epoch)
            shards.append(s.indices())
        for k in range(n // (p * b)):
            union = sorted(np.concatenate([sh[k * b:(k + 1) * b] for sh in shards]).tolist())
            assert union == sorted(order[k * p * b:(k + 1) * p * b].tolist())
    one = DistributedSampler(n, 1, 0, seed=7)
    one.set_epoch(2)
    single.set_epoch(2)
    np.testing.assert_array_equal(one.indices(), single.indices())


def test_sampler_epochs_seed_and_permutation():
    s = DistributedSampler(20, 1, 0, seed=3)
    e0 = s.indices()
    assert sorted(e0.tolist()) == list(range(20))
    s.set_epoch(1)
    e1 = s.indices()
    assert not np.array_equal(e0, e1)
    s.set_epoch(0)
    np.testing.assert_array_equal(s.indices(), e0)               # same seed and epoch → same order
    assert not np.array_equal(DistributedSampler(20, 1, 0, seed=4).indices(), e0)
    assert DistributedSampler(5, 1, 0, shuffle=False).indices().tolist() == [0, 1, 2, 3, 4]


def test_sampler_resume_start_index_is_one_shot_and_round_trips():
    s = DistributedSampler(30, 2, 1, seed=2)
    s.set_epoch(3)
    full = s.global_permutation()
    s.set_start_index(10)
    assert len(s) == 10
    np.testing.assert_array_equal(s.indices(), full[10:][1::2])
    assert len(s) == 15                                         # cleared after one pass
    s.set_start_index(4)
    st = s.state_dict()
    t = DistributedSampler(30, 3, 0, seed=0)
    t.load_state_dict(st)
    assert (t.epoch, t.seed, t.start_index) == (3, 2, 4)
    np.testing.assert_array_equal(t.indices(), full[4:][0::3])
    s.set_epoch(4)
    assert s.start_index == 0                                   # a new epoch starts at 0
    with pytest.raises(ValueError, match="start must be in"):
        s.set_start_index(31)
    with pytest.raises(ValueError, match="30 samples"):
        DistributedSampler(31, 1, 0).load_state_dict(st)


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\)"):
        DistributedSampler(10, 2, 2)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(10, 0, 0)
    with pytest.raises(ValueError, match="'strided' or 'contiguous'"):
        DistributedSampler(10, 1, 0, mode="blocks")
    with pytest.raises(ValueError, match="empty"):
        DistributedSampler(0, 1, 0)
    s = DistributedSampler(np.zeros((7, 2)))                   # len() of a data set; comm defaults
    assert (s.n, s.num_replicas, s.rank) == (7, 1, 0)


def test_sampler_drives_dataloader_epochs():
    X = np.arange(24.0).reshape(12, 2)
    y = np.arange(12)
    s = DistributedSampler(12, 2, 1, seed=9)
    loader = DataLoader(TensorDataset(X, y), batch_size=2, sampler=s)
    assert len(loader) == 3
    seen = []
    for epoch in range(2):
        got = np.concatenate([yb.data for _, yb in loader])
        ref = DistributedSampler(12, 2, 1, seed=9)
        ref.set_epoch(epoch)
        np.testing.assert_array_equal(got, ref.indices())
        seen.append(got)
    assert not np.array_equal(seen[0], seen[1])


# ============================================================================ DistributedDataParallel
def _train(model, opt, steps, ddp=None, micro=False):
    X, y = make_data()
    loader = DataLoader(TensorDataset(X, y), batch_size=B, sampler=RandomSampler(N, seed=0))
    done = 0
    fwd = ddp if ddp is not None else model
    while done < steps:
        for xb, yb in loader:
            opt.zero_grad()
            if micro:
                h = B // 2
                with ddp.no_sync():
                    (0.5 * F.cross_entropy(fwd(xb[:h]), yb[:h])).backward()
                (0.5 * F.cross_entropy(fwd(xb[h:]), yb[h:])).backward()
            else:
                F.cross_entropy(fwd(xb), yb).backward()
            opt.step()
            done += 1
            if done == steps:
                return params_of(model)
    return params_of(model)


@pytest.mark.parametrize("overlap,cap", [(True, 25.0), (True, 1e-4), (False, 1e-4)])
@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_ddp_single_process_is_bitwise_plain_training(overlap, cap, opt_name):
    plain_model = make_model()
    plain = _train(plain_model, make_opt(opt_name, plain_model.parameters()), 12)
    model = make_model()
    ddp = DistributedDataParallel(model, SingleProcessCommunicator(), bucket_cap_mb=cap, overlap=overlap)
    got = _train(model, DistributedOptimizer(make_opt(opt_name, model.parameters()), ddp), 12, ddp)
    assert max_diff(got, plain) == 0.0
    assert model.unused.grad is None and plain_model.unused.grad is None
    assert ddp.stats.steps == 12 and ddp.stats.as_dict()["bytes_per_step"] > 0
    assert len(ddp.bucket_sizes) == (1 if cap == 25.0 else 7)
    assert sum(ddp.bucket_sizes) == sum(p.size for p in model.parameters())


def test_ddp_buckets_reverse_order_cap_and_dtype():
    m = nn.Sequential(nn.Linear(100, 100), nn.Linear(100, 10))  # float32: 10100 and 1010 entries
    cap = 5000 * 4 / 2 ** 20  # 5000 float32 entries
    ddp = DistributedDataParallel(m, SingleProcessCommunicator(), bucket_cap_mb=cap)
    # reverse order: out.bias (10), out.weight (1000), in.bias (100) fit in one bucket; in.weight (10000, over
    # the cap) gets its own
    assert ddp.bucket_sizes == [1110, 10000]
    assert [ddp._params[i].shape for i in ddp._buckets[0].params] == [(10,), (10, 100), (100,)]
    ddp.remove_hooks()
    m[0].to(np.float64)  # a dtype change starts a new bucket
    ddp = DistributedDataParallel(m, SingleProcessCommunicator(), bucket_cap_mb=cap)
    assert ddp.bucket_sizes == [1010, 100, 10000]
    assert [b.dtype for b in ddp._buckets] == [np.float32, np.float64, np.float64]
    with pytest.raises(ValueError, match="bucket_cap_mb"):
        DistributedDataParallel(m, SingleProcessCommunicator(), bucket_cap_mb=0)
    with pytest.raises(TypeError, match="nn.Module"):
        DistributedDataParallel(lambda x: x, SingleProcessCommunicator())


def test_gradient_accumulation_with_no_sync_equals_one_batch():
    plain_model = make_model()
    plain = _train(plain_model, make_opt("sgd", plain_model.parameters()), 8)
    for overlap in (True, False):
        model = make_model()
        ddp = DistributedDataParallel(model, SingleProcessCommunicator(), bucket_cap_mb=1e-4, overlap=overlap)
        got = _train(model, DistributedOptimizer(make_opt("sgd", model.parameters()), ddp), 8, ddp, micro=True)
        assert max_diff(got, plain) < 1e-14


def test_forgotten_synchronize_is_an_error():
    X, y = make_data()
    model = make_model()
    ddp = DistributedDataParallel(model, SingleProcessCommunicator())
    opt = make_opt("sgd", model.parameters())
    for _ in range(2):  # the first step calibrates, the second runs overlapped
        F.cross_entropy(ddp(cr.Tensor(X)), y).backward()
        ddp.synchronize()
        ddp.synchronize()  # idempotent
        opt.step()
        opt.zero_grad()
    F.cross_entropy(ddp(cr.Tensor(X)), y).backward()
    opt.step()  # without synchronize
    with pytest.raises(RuntimeError, match="never synchronized.*DistributedOptimizer"):
        ddp(cr.Tensor(X))


class Varying(Net):
    uses = 2

    def forward(self, x):
        z = cr.tanh(self.a(x))
        for _ in range(self.uses):
            z = cr.tanh(self.h(z))
        return self.out(z)


def test_overlap_detects_a_graph_that_changed_and_handles_unused_parameters():
    X, y = make_data()
    cr.set_default_dtype(np.float64)
    cr.manual_seed(0)
    model = Varying()
    ddp = DistributedDataParallel(model, SingleProcessCommunicator(), bucket_cap_mb=1e-4)
    F.cross_entropy(ddp(cr.Tensor(X)), y).backward()
    ddp.synchronize()
    # fewer uses: h's bucket is never complete during backward; synchronize reduces it in order
    model.uses = 0
    model.zero_grad()
    F.cross_entropy(ddp(cr.Tensor(X)), y).backward()
    ddp.synchronize()
    assert model.h.weight.grad is None and model.a.weight.grad is not None
    model.uses = 3
    model.zero_grad()
    with pytest.raises(RuntimeError, match="overlap=False"):
        F.cross_entropy(ddp(cr.Tensor(X)), y).backward()
    # overlap=False has no such restriction
    cr.manual_seed(0)
    m2 = Varying()
    d2 = DistributedDataParallel(m2, SingleProcessCommunicator(), overlap=False)
    for uses in (2, 3, 1):
        m2.uses = uses
        m2.zero_grad()
        F.cross_entropy(d2(cr.Tensor(X)), y).backward()
        g = m2.h.weight.grad.data.copy()
        d2.synchronize()
        np.testing.assert_array_equal(m2.h.weight.grad.data, g)
    d2.remove_hooks()
    ddp.remove_hooks()
    assert not model.h.weight._hooks


def test_distributed_optimizer_wraps_closures_and_delegates():
    X, y = make_data()

    def run(wrap):
        model = make_model()
        ddp = DistributedDataParallel(model, SingleProcessCommunicator())
        opt = cr.optim.LBFGS(model.parameters(), lr=0.5, max_iter=5)
        if wrap:
            opt = DistributedOptimizer(opt, ddp)

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(ddp(cr.Tensor(X)), y)
            loss.backward()
            if not wrap:
                ddp.synchronize()
            return loss

        for _ in range(3):
            opt.step(closure)
        return params_of(model), opt

    a, opt = run(True)
    b, _ = run(False)
    assert max_diff(a, b) == 0.0
    assert opt.param_groups[0]["lr"] == 0.5 and "state" in opt.state_dict()
    assert "DistributedOptimizer(" in repr(opt)
    with pytest.raises(TypeError, match="DistributedDataParallel model"):
        DistributedOptimizer(opt.optimizer, make_model())


def test_ddp_state_dict_is_the_modules_and_buffers_broadcast():
    cr.set_default_dtype(np.float64)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    ddp = DistributedDataParallel(m, SingleProcessCommunicator())
    assert list(ddp.state_dict()) == list(m.state_dict())
    ddp.load_state_dict(m.state_dict())
    out = ddp(cr.Tensor(np.random.default_rng(0).standard_normal((8, 3))))
    out.sum().backward()
    ddp.synchronize()
    assert all(p.grad is not None for p in m.parameters())
    assert "buckets=1" in repr(ddp)


# ============================================================================ trainer
def _trainer(steps, ckpt=None, resume=None, comm=None, **kw):
    X, y = make_data()
    model = make_model()
    opt = make_opt("adam", model.parameters())
    tr = DataParallelTrainer(model, F.cross_entropy, opt, (X, y), batch_size=B,
                             comm=comm or SingleProcessCommunicator(), checkpoint=ckpt, resume=resume,
                             progress=False, **kw)
    h = tr.fit(epochs=100, max_steps=steps)
    return params_of(model), tr, h


def test_trainer_follows_the_single_process_trajectory_and_resumes_mid_epoch(tmp_path):
    ref = reference("adam", 30)
    full, tr_full, h_full = _trainer(30)
    assert max_diff(full, ref) < 1e-12
    _, tr, _ = _trainer(15, tmp_path / "s.npz")               # 15 = 2 epochs + 3 steps (6 steps/epoch)
    assert (tr.epoch, tr.step_in_epoch, tr.samples_in_epoch) == (2, 3, 48)
    got, tr2, h = _trainer(30, tmp_path / "t.npz", resume=tmp_path / "s.npz")
    assert max_diff(got, ref) < 1e-12
    np.testing.assert_allclose(h["step_loss"], h_full["step_loss"], rtol=1e-12)
    np.testing.assert_allclose(h["loss"], h_full["loss"], rtol=1e-12)
    assert len(h["step_loss"]) == 30 and len(h["loss"]) == 5
    np.testing.assert_allclose(h["loss"][0], np.mean(h["step_loss"][:6]), rtol=1e-12)
    assert max_diff(_trainer(15)[0], ref) > 1e-3            # resuming mattered
    # resume=True picks up the trainer's own checkpoint
    _, tr3, _ = _trainer(18, tmp_path / "s.npz", resume=True)
    assert tr3.global_step == 18


def test_trainer_checks_batch_worker_count_and_checkpoint_compatibility(tmp_path):
    X, y = make_data()
    model = make_model()
    with pytest.raises(ValueError, match="not divisible by the 3 workers.*mpiexec -n k for k in"):
        DataParallelTrainer(model, F.cross_entropy, make_opt("sgd", model.parameters()), (X, y), batch_size=16,
                            comm=FakeComm(0, 3))
    _trainer(2, tmp_path / "a.npz")
    with pytest.raises(ValueError, match="global batch 16"):
        DataParallelTrainer(model, F.cross_entropy, make_opt("sgd", model.parameters()), (X, y), batch_size=32,
                            comm=SingleProcessCommunicator(), resume=tmp_path / "a.npz")
    with pytest.raises(FileNotFoundError, match="cannot resume from"):
        _trainer(2, resume=tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="checkpoint_every"):
        _trainer(2, checkpoint_every=0)


def test_only_rank0_writes_checkpoints(tmp_path):
    model = make_model()
    opt = make_opt("adam", model.parameters())
    assert save_training_state(tmp_path / "r1.npz", model, opt, FakeComm(1, 2), epoch=0) is None
    assert not (tmp_path / "r1.npz").exists()
    assert save_training_state(tmp_path / "r0.npz", model, opt, FakeComm(0, 2), epoch=4).exists()
    m2 = make_model()
    for p in m2.parameters():
        p.data += 1.0
    obj = load_training_state(tmp_path / "r0.npz", m2, make_opt("adam", m2.parameters()), SingleProcessCommunicator())
    assert obj["epoch"] == 4 and max_diff(params_of(m2), params_of(model)) == 0.0


def test_distributed_evaluate_matches_evaluate():
    from chainrule.train import evaluate
    X, y = make_data()
    model = make_model()
    d = distributed_evaluate(model, X, y, F.cross_entropy, SingleProcessCommunicator(), batch_size=40)
    e = evaluate(model, (X, y), nn.CrossEntropyLoss(), ("accuracy",))
    for k in ("loss", "loss_se", "accuracy"):
        assert d[k] == pytest.approx(e[k], rel=1e-12)
    assert d["n"] == N
    # rank 1 of 2 evaluates its own half: sums are what would be reduced
    half = distributed_evaluate(model, X, y, F.cross_entropy, FakeComm(1, 2))
    assert half["n"] == N // 2


def test_trainer_logs_and_validation(capsys, tmp_path):
    X, y = make_data()
    _, tr, h = _trainer(12, val_data=(X, y), log_every=6, checkpoint_every=4)
    out = capsys.readouterr().out
    assert "step 6: loss" in out and "epoch 2/100" in out and "val_acc" in out
    assert len(h["val_loss"]) == 2 and 0 <= h["val_accuracy"][-1] <= 1
    with pytest.raises(ValueError, match="no checkpoint path"):
        tr.save()


def test_default_trainer_communicator_is_the_process_one():
    set_communicator(None)
    try:
        assert isinstance(get_communicator(), Communicator)
    finally:
        set_communicator(None)
