"""W1: the classic sigmoid MLP [784, 30, 10] on MNIST — quadratic cost, plain SGD η = 3.0, batch 10.

The settings of spec RECIPE-NIELSEN-MNIST (N(0, 1) weights and biases, sigmoid output layer,
c = ½‖a − y‖² averaged over the batch, one-hot targets).  One step = fetch the next batch of a shuffled
pass by indexing the preloaded arrays, forward, backward, SGD update.  Both libraries start from the
same weights (chainrule's, copied into torch) and see the same batches in the same order.
Falls back to random data of MNIST's shape when the IDX files are absent (``SOURCE`` says which).
"""

from __future__ import annotations

import numpy as np

NAME = "W1"
DESCRIPTION = "MLP [784,30,10] sigmoid, quadratic cost, SGD lr 3.0, batch 10 (MNIST)"
TARGET = 2.0
BATCH = 10
LR = 3.0
SOURCE = "not loaded yet"


def _data():
    global SOURCE
    from chainrule.utils.benchmark import mnist_or_random
    X, y, SOURCE = mnist_or_random(flatten=True)
    Y = np.zeros((len(y), 10), dtype=np.float32)
    Y[np.arange(len(y)), y] = 1.0
    return X, Y


def _chainrule_model(seed: int):
    import chainrule as cr
    from chainrule.models import MLP
    return MLP([784, 30, 10], activation="sigmoid", output_activation="sigmoid", init="normal",
               generator=cr.Generator(seed))


def make(lib: str, seed: int = 0):
    X, Y = _data()
    stream_seed = seed + 1
    if lib == "chainrule":
        import chainrule as cr
        from chainrule.nn import functional as F
        from chainrule.utils.benchmark import IndexStream
        model = _chainrule_model(seed)
        opt = cr.optim.SGD(model.parameters(), lr=LR)
        idx = IndexStream(len(X), BATCH, stream_seed)
        wrap = cr.Tensor._wrap
        scale = 0.5 / BATCH

        def step():
            b = next(idx)
            x, y = wrap(X[b]), wrap(Y[b])
            loss = F.mse_loss(model(x), y, reduction="sum") * scale
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return step, BATCH
    if lib == "torch":
        import torch

        from chainrule.utils.benchmark import IndexStream
        ref = _chainrule_model(seed)
        lins = [m for m in ref.modules() if type(m).__name__ == "Linear"]
        model = torch.nn.Sequential(torch.nn.Linear(784, 30), torch.nn.Sigmoid(), torch.nn.Linear(30, 10),
                                    torch.nn.Sigmoid())
        with torch.no_grad():
            for tl, cl in zip([model[0], model[2]], lins):
                tl.weight.copy_(torch.from_numpy(cl.weight.data))
                tl.bias.copy_(torch.from_numpy(cl.bias.data))
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
        idx = IndexStream(len(X), BATCH, stream_seed)
        mse = torch.nn.functional.mse_loss
        scale = 0.5 / BATCH

        def step():
            b = torch.from_numpy(next(idx))
            x, y = Xt[b], Yt[b]
            loss = mse(model(x), y, reduction="sum") * scale
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return step, BATCH
    raise ValueError(f"unknown lib {lib!r}: use 'chainrule' or 'torch'")
