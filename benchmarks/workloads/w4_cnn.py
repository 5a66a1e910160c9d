"""W4: the RECIPE-TF-CNN-MNIST network — conv 32@5×5 'same' → ReLU → max-pool 2 → conv 64@5×5 'same' →
ReLU → max-pool 2 → fc 1024 → ReLU → dropout 0.5 → fc 10 (3,274,634 parameters) — softmax
cross-entropy, Adam lr 1e-4, batch 50, MNIST 28×28.  (spec: RECIPE-TF-CNN-MNIST)

PyTorch-default initialisation drawn by chainrule and copied into torch; same batches in the same order
(a shuffled pass over the first 10,000 preloaded training images); the dropout masks come from each
library's own generator.  Random data of MNIST's shape when the IDX files are absent (``SOURCE``).
"""

from __future__ import annotations

import numpy as np

NAME = "W4"
DESCRIPTION = "CNN conv32-conv64-fc1024 (5x5 same, 2x2 max-pool, dropout), cross-entropy, Adam 1e-4, batch 50"
TARGET = 0.6
BATCH = 50
LR = 1e-4
N_IMAGES = 10_000
SOURCE = "not loaded yet"


def _data():
    global SOURCE
    from chainrule.utils.benchmark import mnist_or_random
    X, y, SOURCE = mnist_or_random(n=N_IMAGES, flatten=False)
    return np.ascontiguousarray(X.reshape(-1, 1, 28, 28), dtype=np.float32), y


def _chainrule_model(seed: int):
    import chainrule as cr
    from chainrule.models import TFCNN
    return TFCNN(generator=cr.Generator(seed))


def torch_tfcnn(ref):
    """The same network in PyTorch with ref's (a chainrule TFCNN) weights copied."""
    import torch
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(3136, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 10))
    src = [m for m in ref.modules() if type(m).__name__ in ("Conv2d", "Linear")]
    dst = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for d, s in zip(dst, src):
            d.weight.copy_(torch.from_numpy(np.array(s.weight.data)))
            d.bias.copy_(torch.from_numpy(np.array(s.bias.data)))
    return model


def make(lib: str, seed: int = 0):
    X, y = _data()
    from chainrule.utils.benchmark import IndexStream
    idx = IndexStream(len(X), BATCH, seed + 1)
    if lib == "chainrule":
        import chainrule as cr
        from chainrule.nn import functional as F
        model = _chainrule_model(seed)
        opt = cr.optim.Adam(model.parameters(), lr=LR)
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
        torch.manual_seed(seed)
        model = torch_tfcnn(_chainrule_model(seed))
        opt = torch.optim.Adam(model.parameters(), lr=LR)
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
