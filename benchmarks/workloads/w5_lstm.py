"""W5: a 1-layer LSTM sequence classifier — hidden 128, sequence length 50, batch 32, input size 32.

Data: 4096 synthetic sequences (T = 50, F = 32, float32, N(0, 1)) with 10 classes (the label is the argmax
of the first 10 features summed over time, so the task is learnable), stored time-major (T, n, F).  One
step = fetch the next batch (the same ``IndexStream`` order for both libraries: X[:, idx] → (50, 32, 32)),
``nn.LSTM(32, 128)`` over the sequence, a ``Linear(128, 10)`` head on the last hidden state h_T,
softmax cross-entropy, backward (BPTT through all 50 steps), Adam lr 1e-3.  Both libraries start from
the same weights (chainrule's, copied into torch; identical parameter names and gate order i, f, g, o).
"""

from __future__ import annotations

import numpy as np

NAME = "W5"
DESCRIPTION = "LSTM(32→128), T=50, batch 32, linear head on h_T, cross-entropy, Adam 1e-3"
TARGET = 0.7
T, F, H, C, BATCH, N_SEQ = 50, 32, 128, 10, 32, 4096
LR = 1e-3
SOURCE = "synthetic sequences (N(0,1), 10 classes)"


def _data():
    rng = np.random.default_rng(1234)
    X = rng.standard_normal((T, N_SEQ, F)).astype(np.float32)
    y = X[:, :, :C].sum(axis=0).argmax(axis=1).astype(np.int64)
    return X, y


def _chainrule_model(seed: int):
    import chainrule as cr
    from chainrule import nn
    g = cr.Generator(seed)
    return nn.LSTM(F, H, generator=g), nn.Linear(H, C, generator=g)


def make(lib: str, seed: int = 0):
    from chainrule.utils.benchmark import IndexStream
    X, y = _data()
    idx = IndexStream(N_SEQ, BATCH, seed + 1)
    lstm, head = _chainrule_model(seed)
    if lib == "chainrule":
        import chainrule as cr
        from chainrule.nn import functional as Fn
        opt = cr.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=LR)
        wrap = cr.Tensor._wrap

        def step():
            b = next(idx)
            _, (h, _) = lstm(wrap(X[:, b]))
            loss = Fn.cross_entropy(head(h[0]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return step, BATCH
    if lib == "torch":
        import torch
        tl, th = torch.nn.LSTM(F, H), torch.nn.Linear(H, C)
        with torch.no_grad():
            tl.load_state_dict({k: torch.from_numpy(v.data.copy()) for k, v in lstm.state_dict().items()})
            th.load_state_dict({k: torch.from_numpy(v.data.copy()) for k, v in head.state_dict().items()})
        opt = torch.optim.Adam(list(tl.parameters()) + list(th.parameters()), lr=LR)
        ce = torch.nn.functional.cross_entropy
        yt = torch.from_numpy(y)

        def step():
            b = next(idx)
            _, (h, _) = tl(torch.from_numpy(X[:, b]))
            loss = ce(th(h[0]), yt[torch.from_numpy(b)])
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return step, BATCH
    raise ValueError(f"unknown lib {lib!r}: use 'chainrule' or 'torch'")
