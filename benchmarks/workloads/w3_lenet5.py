"""W3: LeNet-5 (tanh, max pooling; 61,706 parameters) on MNIST padded to 32×32, softmax cross-entropy,
SGD lr 0.01 momentum 0.9, batch 64.  (spec: CNN-LENET5)

PyTorch-default initialisation drawn by chainrule and copied into torch; both libraries see the same
batches in the same order (a shuffled pass over the first 10,000 preloaded, pre-padded training
images).  Falls back to random data of MNIST's shape when the IDX files are absent (``SOURCE``).
"""

from __future__ import annotations

import numpy as np

NAME = "W3"
DESCRIPTION = "LeNet-5 tanh/max-pool, 32x32 input, cross-entropy, SGD lr 0.01 momentum 0.9, batch 64 (MNIST)"
TARGET = 0.8
BATCH = 64
LR, MOMENTUM = 0.01, 0.9
N_IMAGES = 10_000
SOURCE = "not loaded yet"


def _data():
    global SOURCE
    from chainrule.utils.benchmark import mnist_or_random
    X, y, SOURCE = mnist_or_random(n=N_IMAGES, flatten=False)
    X = np.pad(X.reshape(-1, 1, 28, 28), ((0, 0), (0, 0), (2, 2), (2, 2)))
    return np.ascontiguousarray(X, dtype=np.float32), y


def _chainrule_model(seed: int):
    import chainrule as cr
    from chainrule.models import LeNet5
    return LeNet5(generator=cr.Generator(seed))


def torch_lenet5(ref):
    """The same network in PyTorch with ref's (a chainrule LeNet5) weights copied."""
    import torch
    nn = torch.nn
    act = nn.Tanh if ref.activation == "tanh" else nn.ReLU
    pool = (lambda: nn.MaxPool2d(2)) if ref.pool == "max" else (lambda: nn.AvgPool2d(2))
    model = nn.Sequential(nn.Conv2d(1, 6, 5), act(), pool(), nn.Conv2d(6, 16, 5), act(), pool(),
                          nn.Conv2d(16, 120, 5), act(), nn.Flatten(), nn.Linear(120, 84), act(), nn.Linear(84, 10))
    src = [m for m in ref.modules() if type(m).__name__ in ("Conv2d", "Linear")]
    dst = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for d, s in zip(dst, src):
            d.weight.copy_(torch.from_numpy(np.array(s.weight.data)))
            d.bias.copy_(torch.from_numpy(np.array(s.bias.data)))
    return model


def make(lib: str, seed: int = 0):
    X, y = _data()
    stream_seed = seed + 1
    from chainrule.utils.benchmark import IndexStream
    idx = IndexStream(len(X), BATCH, stream_seed)
    if lib == "chainrule":
        import chainrule as cr
        from chainrule.nn import functional as F
        model = _chainrule_model(seed)
        opt = cr.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        wrap = cr.Tensor._wrap

        def step():
            b = next(idx)
            loss = F.cross_entropy(model(wrap(X[b])), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return step, BATCH
    if lib == "torch":
        import torch
        model = torch_lenet5(_chainrule_model(seed))
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        ce = torch.nn.functional.cross_entropy

        def step():
            b = torch.from_numpy(next(idx))
            loss = ce(model(Xt[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return step, BATCH
    raise ValueError(f"unknown lib {lib!r}: use 'chainrule' or 'torch'")
