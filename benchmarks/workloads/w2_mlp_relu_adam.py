"""W2: MLP [784, 256, 256, 10] with ReLU, softmax cross-entropy, Adam (lr 1e-3), batch 128, MNIST.

PyTorch-default initialisation (U(±1/√fan_in)) drawn by chainrule and copied into torch; both libraries
see the same batches in the same order (a shuffled pass over the preloaded arrays, indexed per step).
Falls back to random data of MNIST's shape when the IDX files are absent (``SOURCE`` says which).
"""

from __future__ import annotations

NAME = "W2"
DESCRIPTION = "MLP [784,256,256,10] ReLU, cross-entropy, Adam lr 1e-3, batch 128 (MNIST)"
TARGET = 1.0
BATCH = 128
LR = 1e-3
SIZES = [784, 256, 256, 10]
SOURCE = "not loaded yet"


def _data():
    global SOURCE
    from chainrule.utils.benchmark import mnist_or_random
    X, y, SOURCE = mnist_or_random(flatten=True)
    return X, y


def _chainrule_model(seed: int):
    import chainrule as cr
    from chainrule.models import MLP
    return MLP(SIZES, activation="relu", output_activation=None, generator=cr.Generator(seed))


def make(lib: str, seed: int = 0):
    X, y = _data()
    stream_seed = seed + 1
    if lib == "chainrule":
        import chainrule as cr
        from chainrule.nn import functional as F
        from chainrule.utils.benchmark import IndexStream
        model = _chainrule_model(seed)
        opt = cr.optim.Adam(model.parameters(), lr=LR)
        idx = IndexStream(len(X), BATCH, stream_seed)
        wrap = cr.Tensor._wrap

        def step():
            b = next(idx)
            xb, yb = wrap(X[b]), y[b]
            loss = F.cross_entropy(model(xb), yb)
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
        layers = []
        for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            layers.append(torch.nn.Linear(a, b))
            if i < len(SIZES) - 2:
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
        with torch.no_grad():
            for tl, cl in zip([m for m in model if isinstance(m, torch.nn.Linear)], lins):
                tl.weight.copy_(torch.from_numpy(cl.weight.data))
                tl.bias.copy_(torch.from_numpy(cl.bias.data))
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        idx = IndexStream(len(X), BATCH, stream_seed)
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
