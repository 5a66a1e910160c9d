"""Module system: registration, traversal order, modes, grads, state_dict round trip, repr, containers."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.Tanh()
        self.block = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2))
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))
        self.register_buffer("steps", np.zeros((), dtype=np.int64))
        self.register_buffer("cache", np.zeros(2, dtype=np.float32), persistent=False)
        self.plain = cr.Tensor([1.0])  # a plain tensor attribute is not registered

    def forward(self, x):
        return self.block(self.act(self.fc1(x))) * self.scale


def test_registration_and_named_parameters_order():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "block.0.weight", "block.0.bias", "block.2.weight",
                     "block.2.bias"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [n for n, _ in net.named_buffers()] == ["steps", "cache"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "block"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "block", "block.0", "block.1", "block.2"]
    assert len(list(net.parameters(recurse=False))) == 1
    assert net.num_parameters() == 1 + 4 * 3 + 3 + 3 * 3 + 3 + 3 * 2 + 2
    assert "plain" not in dict(net.named_parameters())


def test_parameter_order_matches_torch_for_nested_models():
    """Depth-first registration order, as PyTorch: parameters can be zipped with a torch twin."""
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 3)), nn.Linear(3, 1))
    theirs = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 3)),
                                 torch.nn.Linear(3, 1))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]


def test_tied_parameters_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.Tanh(), lin)
    assert len(list(seq.parameters())) == 2


def test_reassign_and_delete():
    net = Net()
    net.fc1 = nn.Identity()
    assert "fc1.weight" not in dict(net.named_parameters())
    net.scale = nn.Parameter(np.full(1, 2.0, dtype=np.float32))
    assert net.scale.data[0] == 2.0
    del net.block
    assert "block" not in dict(net.named_children())
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        net.missing  # noqa: B018


def test_assign_before_init_raises():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(1))
            super().__init__()

    with pytest.raises(AttributeError, match="call super\\(\\).__init__\\(\\) first"):
        Bad()


def test_train_eval_propagate():
    net = Net()
    assert net.training and net.block[1].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_and_requires_grad():
    net = Net()
    net(cr.Tensor(np.ones((2, 4), dtype=np.float32))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not net(cr.Tensor(np.ones((2, 4), dtype=np.float32))).requires_grad


def test_state_dict_round_trip():
    cr.manual_seed(1)
    a = Net()
    cr.manual_seed(2)
    b = Net()
    a.steps.data[...] = 7
    sd = a.state_dict()
    assert list(sd) == ["scale", "steps", "fc1.weight", "fc1.bias", "block.0.weight", "block.0.bias",
                        "block.2.weight", "block.2.bias"]  # 'cache' is not persistent
    sd["fc1.weight"].data[0, 0] = 123.0  # a copy: the model is unaffected
    assert a.fc1.weight.data[0, 0] != 123.0
    sd = a.state_dict()
    w_before = b.fc1.weight
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert b.fc1.weight is w_before  # loaded in place: optimizers keep working
    x = cr.Tensor(np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32))
    np.testing.assert_array_equal(a(x).data, b(x).data)
    assert b.steps.item() == 7
    # plain arrays work as values, and the dtype of the model is kept
    b.load_state_dict({k: v.data.astype(np.float64) for k, v in sd.items()})
    assert b.fc1.weight.dtype == np.float32


def test_load_state_dict_errors_name_the_keys():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"]
    sd["extra.weight"] = np.zeros(2)
    with pytest.raises(RuntimeError, match="missing keys: \\['fc1.bias'\\].*unexpected keys: \\['extra.weight'\\]"):
        net.load_state_dict(sd)
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc1.bias"] and res.unexpected_keys == ["extra.weight"]
    bad = net.state_dict()
    bad["block.0.weight"] = np.zeros((5, 3))
    with pytest.raises(RuntimeError, match="block.0.weight: checkpoint \\(5, 3\\) vs model \\(3, 3\\)"):
        net.load_state_dict(bad, strict=False)


def test_load_state_dict_bumps_versions():
    lin = nn.Linear(2, 2)
    out = lin(cr.Tensor(np.ones((1, 2), dtype=np.float32))).sum()
    lin.load_state_dict(lin.state_dict())
    with pytest.raises(RuntimeError, match="modified in place"):
        out.backward()


def test_repr_shows_structure_and_parameter_counts():
    net = Net()
    r = repr(net)
    assert "(fc1): Linear(4, 3, bias=True)  # 15 parameters" in r
    assert "(block): Sequential(" in r and "(1): ReLU()" in r
    assert r.rstrip().endswith(f"# {net.num_parameters():,} parameters")


def test_to_double_casts_parameters_and_buffers():
    net = Net().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.cache.dtype == np.float64 and net.steps.dtype == np.int64
    y = net(cr.Tensor(np.ones((1, 4))))
    assert y.dtype == np.float64
    net.float()
    assert net.fc1.weight.dtype == np.float32
    with pytest.raises(ValueError, match="not available"):
        net.to("cuda")


def test_apply_and_deepcopy():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 3
    twin = copy.deepcopy(net)
    twin.fc1.weight.data[...] = 0
    assert net.fc1.weight.data.any()
    x = cr.Tensor(np.ones((1, 4), dtype=np.float32))
    assert twin(x).shape == net(x).shape


def test_forward_hooks():
    net = Net()
    seen = []
    h = net.fc1.register_forward_hook(lambda m, inp, out: seen.append(out.shape))
    net.block.register_forward_hook(lambda m, inp, out: out * 0)
    x = cr.Tensor(np.ones((2, 4), dtype=np.float32))
    assert not net(x).data.any()
    assert seen == [(2, 3)]
    h.remove()
    net(x)
    assert seen == [(2, 3)]


def test_sequential_and_containers():
    seq = nn.Sequential(OrderedDict([("a", nn.Linear(2, 3)), ("b", nn.Tanh())]))
    assert [n for n, _ in seq.named_children()] == ["a", "b"]
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Tanh) and len(seq) == 2
    assert isinstance(seq[:1], nn.Sequential) and len(seq[:1]) == 1
    seq.append(nn.Linear(3, 1))
    assert seq(cr.Tensor(np.ones((4, 2), dtype=np.float32))).shape == (4, 1)
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear"]
    ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    ml.append(nn.ReLU())
    ml.insert(0, nn.Tanh())
    assert len(ml) == 4 and isinstance(ml[0], nn.Tanh) and isinstance(ml[-1], nn.ReLU)
    ml[1] = nn.Identity()
    assert isinstance(ml[1], nn.Identity)
    holder = nn.Module()
    holder.layers = ml
    assert len(list(holder.parameters())) == 2
    md = nn.ModuleDict({"x": nn.Linear(1, 1)})
    md["y"] = nn.Linear(1, 2)
    assert list(md.keys()) == ["x", "y"] and len(md) == 2 and len(list(md.parameters())) == 4


def test_parameter_basics():
    p = nn.Parameter(np.zeros(3))
    assert p.requires_grad and p.is_leaf and p.dtype == np.float64
    assert repr(p).startswith("Parameter containing:")
    q = nn.Parameter(cr.Tensor(np.ones(2, dtype=np.float32)), requires_grad=False)
    assert not q.requires_grad and q.dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.arange(3))


def test_forward_not_implemented():
    with pytest.raises(NotImplementedError, match="must implement forward"):
        nn.Module()(1)


def test_reassigning_a_submodule_keeps_its_position():
    """setattr over an existing layer replaces it in place (PyTorch), it does not move it to the end."""
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    setattr(seq, "1", nn.Tanh())
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear"]
    x = cr.Tensor(np.ones((4, 2), dtype=np.float32))
    assert seq(x).shape == (4, 1)
