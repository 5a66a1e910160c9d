"""Transfer learning helpers: freeze, replace the head, copy parameters, fine-tuning groups.

spec: TRANSFER-FINETUNE
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.models import TFCNN
from chainrule.nn import functional as F
from chainrule.transfer import (
    find_head,
    finetune_param_groups,
    freeze,
    load_pretrained,
    replace_head,
    trainable_parameters,
    unfreeze,
)


def _small(seed=0, classes=10):
    return TFCNN(num_classes=classes, channels=(3, 4), hidden=8, dtype=np.float64, generator=cr.Generator(seed))


def _data(n=16, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 28, 28)), rng.integers(0, classes, n)


def test_freeze_replace_head_train_keeps_extractor_bitwise():
    # spec: TRANSFER-FINETUNE — frozen parameters bitwise unchanged, .grad None, extractor outputs unchanged,
    # head has d_new outputs (and does learn)
    m = _small()
    old = replace_head(m, 3, generator=cr.Generator(1))
    assert isinstance(old, nn.Linear) and old.out_features == 10
    assert list(m.classifier._modules) == ["fc1", "relu3", "dropout", "fc2"]  # position kept
    assert m.classifier.fc2.out_features == 3 and m.classifier.fc2.in_features == 8
    assert m.classifier.fc2.weight.dtype == np.float64
    frozen = freeze(m, upto="classifier.fc2")
    assert frozen == ["features.conv1.weight", "features.conv1.bias", "features.conv2.weight", "features.conv2.bias",
                      "classifier.fc1.weight", "classifier.fc1.bias"]
    names = [n for n, p in m.named_parameters() if p.requires_grad]
    assert names == ["classifier.fc2.weight", "classifier.fc2.bias"]
    X, y = _data()
    m.eval()
    feats0 = m.classifier.fc1(m.flatten(m.features(cr.Tensor(X)))).data.copy()
    m.train()
    before = {n: p.data.copy() for n, p in m.named_parameters()}
    opt = cr.optim.Adam(trainable_parameters(m), lr=1e-2, weight_decay=1e-3)
    losses = []
    for _ in range(5):
        loss = F.cross_entropy(m(cr.Tensor(X)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.data))
    assert losses[-1] < losses[0]
    for n, p in m.named_parameters():
        if n in frozen:
            np.testing.assert_array_equal(p.data, before[n])
            assert p.grad is None
        else:
            assert not np.array_equal(p.data, before[n]), n
    m.eval()
    np.testing.assert_array_equal(m.classifier.fc1(m.flatten(m.features(cr.Tensor(X)))).data, feats0)
    assert m(cr.Tensor(X)).shape == (16, 3)
    assert unfreeze(m) and all(p.requires_grad for p in m.parameters())


def test_optimizer_built_before_freezing_leaves_frozen_ones():
    # spec: TRANSFER-FINETUNE — frozen parameters get no gradient, so an optimizer that already holds them skips them
    m = _small()
    opt = cr.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    freeze(m, names=["features"])
    before = m.features.conv1.weight.data.copy()
    opt2 = cr.optim.SGD(m.parameters(), lr=0.1)  # built after freezing: accepted (PyTorch), frozen ones skipped
    X, y = _data(classes=10)
    for o in (opt, opt2):
        for _ in range(2):
            o.zero_grad()
            F.cross_entropy(m(cr.Tensor(X)), y).backward()
            o.step()
    np.testing.assert_array_equal(m.features.conv1.weight.data, before)
    assert not m.features.conv1.weight.requires_grad and m.classifier.fc1.weight.requires_grad
    assert len(freeze(m)) == len(list(m.parameters()))


def test_load_pretrained_copies_all_but_the_head():
    # spec: TRANSFER-FINETUNE step 2 — copy up to, not including, the last FC layer
    src, dst = _small(0), _small(1, classes=4)
    copied = load_pretrained(dst, src.state_dict(), exclude=["classifier.fc2"])
    assert "classifier.fc2.weight" not in copied and len(copied) == 6
    for k in copied:
        np.testing.assert_array_equal(dst.state_dict()[k].data, src.state_dict()[k].data)
    assert not np.array_equal(dst.classifier.fc2.weight.data[:4], src.classifier.fc2.weight.data[:4])
    with pytest.raises(ValueError, match=r"classifier.fc2.weight: source \(10, 8\) vs target \(4, 8\)"):
        load_pretrained(dst, src.state_dict())


def test_finetune_param_groups_step_sizes():
    # spec: TRANSFER-FINETUNE step 4b — copied layers at 0.1× lr, the head at lr (plain SGD: Δw = −lr_group·g)
    m = _small()
    groups = finetune_param_groups(m, lr=0.5)
    assert [g["lr"] for g in groups] == [0.05, 0.5]
    assert len(groups[0]["params"]) == 6 and len(groups[1]["params"]) == 2
    opt = cr.optim.SGD(groups, lr=0.5)
    X, y = _data(classes=10)
    before = {n: p.data.copy() for n, p in m.named_parameters()}
    opt.zero_grad()
    F.cross_entropy(m(cr.Tensor(X)), y).backward()
    grads = {n: p.grad.data.copy() for n, p in m.named_parameters()}
    opt.step()
    for n, p in m.named_parameters():
        lr = 0.5 if n.startswith("classifier.fc2") else 0.05
        np.testing.assert_allclose(p.data, before[n] - lr * grads[n], rtol=1e-12, atol=1e-15)
    freeze(m, upto="classifier.fc2")
    assert len(finetune_param_groups(m, lr=0.1)) == 1
    freeze(m)
    with pytest.raises(ValueError, match="no trainable parameters"):
        finetune_param_groups(m, lr=0.1)


def test_head_helpers_and_errors():
    seq = nn.Sequential(OrderedDict([("body", nn.Linear(4, 5)), ("act", nn.ReLU()), ("head", nn.Linear(5, 2))]))
    assert find_head(seq) == "head"
    new = nn.Sequential(nn.Linear(5, 3), nn.Tanh())
    replace_head(seq, new)
    assert list(seq._modules) == ["body", "act", "head"] and seq.head is new
    assert seq(cr.Tensor(np.zeros((2, 4), np.float32))).shape == (2, 3)
    replace_head(seq, nn.Tanh(), name="act")  # a middle module keeps its place (setattr would move it last)
    assert list(seq._modules) == ["body", "act", "head"] and type(seq[1]).__name__ == "Tanh"
    with pytest.raises(KeyError, match="no submodule 'nope'"):
        replace_head(seq, 3, name="nope")
    with pytest.raises(TypeError, match="pass a module instead"):
        replace_head(seq, 3, name="act")
    with pytest.raises(TypeError, match="must be a Module or an int"):
        replace_head(seq, "x", name="head")
    with pytest.raises(ValueError, match="has no Linear"):
        find_head(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="either upto= or names="):
        freeze(seq, upto="head", names=["body"])
    with pytest.raises(ValueError, match="no parameters to stop at"):
        freeze(seq, upto="act")
    with pytest.raises(KeyError, match=r"no parameters under \['zz'\]"):
        freeze(seq, names=["zz"])
