"""Recurrent layers and cells: PyTorch equality (float64, 1e-10), finite differences, second derivatives,
the spec's explicit BPTT equations, variable-length sequences and errors.

spec: RNN-ELMAN, RNN-BPTT, RNN-LSTM
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import torch_or_skip

import chainrule as cr
from chainrule import nn
from chainrule.autodiff import gradcheck, gradgradcheck, jacobian
from chainrule.nn.rnn import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    PackedSequence,
    RNNCell,
    lengths_to_mask,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
)
from chainrule.ops import rnn as R
from chainrule.reference_rnn import elman_bptt, lstm_bptt

RTOL, ATOL = 1e-10, 1e-12
CLASSES = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}


def _t(a, rg=True):
    return cr.Tensor(np.array(a, dtype=np.float64), requires_grad=rg)


def _pair(kind, F_, H, **kw):
    """A chainrule layer and a PyTorch layer with the same (copied) float64 weights."""
    torch = torch_or_skip()
    m = CLASSES[kind](F_, H, dtype=np.float64, generator=cr.Generator(3), **kw)
    tkw = dict(kw)
    tkw.pop("forget_bias", None)
    tm = getattr(torch.nn, kind)(F_, H, **tkw).double()
    tm.load_state_dict({k: torch.tensor(v.data) for k, v in m.state_dict().items()})
    return m, tm


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), b.detach().numpy() if hasattr(b, "detach") else b, rtol=RTOL, atol=ATOL)


def _run_pair(kind, x, m, tm, h0=None, c0=None):
    """Forward + backward of a nonlinear loss of all outputs in both libraries; compare everything."""
    torch = torch_or_skip()
    X, TX = _t(x), torch.tensor(x, requires_grad=True)
    args, targs = [], []
    st = []
    if h0 is not None:
        H0, TH0 = _t(h0), torch.tensor(h0, requires_grad=True)
        st.append((H0, TH0))
        if kind == "LSTM":
            C0, TC0 = _t(c0), torch.tensor(c0, requires_grad=True)
            st.append((C0, TC0))
            args, targs = [(H0, C0)], [(TH0, TC0)]
        else:
            args, targs = [H0], [TH0]
    o, s = m(X, *args)
    to, ts = tm(TX, *targs)
    w = np.random.default_rng(7).standard_normal(o.shape)
    loss = (o * _t(w, False)).sum() + (o * o).sum()
    tloss = (to * torch.tensor(w)).sum() + (to * to).sum()
    hs, ths = (s if kind == "LSTM" else (s,)), (ts if kind == "LSTM" else (ts,))
    for h, th in zip(hs, ths):
        _close(h.data, th)
        loss = loss + (h * h * h).sum()
        tloss = tloss + (th ** 3).sum()
    _close(o.data, to)
    loss.backward()
    tloss.backward()
    _close(X.grad.data, TX.grad)
    for a, b in st:
        _close(a.grad.data, b.grad)
    tparams = dict(tm.named_parameters())
    for name, p in m.named_parameters():
        _close(p.grad.data, tparams[name].grad)


# ------------------------------------------------------------------------------- PyTorch equality
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("cfg", [
    {},
    {"num_layers": 2, "bidirectional": True},
    {"num_layers": 2, "batch_first": True},
    {"bias": False, "bidirectional": True},
])
def test_layers_equal_torch(kind, cfg):
    """spec: RNN-ELMAN, RNN-LSTM — forward and all gradients = PyTorch (float64, rtol 1e-10)."""
    m, tm = _pair(kind, 4, 5, **cfg)
    rng = np.random.default_rng(0)
    shape = (3, 6, 4) if cfg.get("batch_first") else (6, 3, 4)
    LD = cfg.get("num_layers", 1) * (2 if cfg.get("bidirectional") else 1)
    h0 = rng.standard_normal((LD, 3, 5))
    c0 = rng.standard_normal((LD, 3, 5))
    _run_pair(kind, rng.standard_normal(shape), m, tm, h0, c0)
    _run_pair(kind, rng.standard_normal(shape), m, tm)        # zero initial state


def test_rnn_relu_equals_torch():
    m, tm = _pair("RNN", 3, 4, nonlinearity="relu", num_layers=2, bidirectional=True)
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    _run_pair("RNN", x, m, tm, np.random.default_rng(2).standard_normal((4, 2, 4)))


def test_parameter_names_shapes_and_gate_order_match_torch():
    """Same names, shapes and order as PyTorch: weight_ih_l0 (4H, in) stacked i, f, g, o (LSTM), r, z, n (GRU)."""
    torch = torch_or_skip()
    for kind, G in (("RNN", 1), ("LSTM", 4), ("GRU", 3)):
        m = CLASSES[kind](3, 5, num_layers=2, bidirectional=True)
        tm = getattr(torch.nn, kind)(3, 5, num_layers=2, bidirectional=True)
        ours = [(k, v.shape) for k, v in m.state_dict().items()]
        theirs = [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
        assert ours == theirs
        assert m.weight_ih_l0.shape == (G * 5, 3) and m.weight_ih_l1.shape == (G * 5, 10)


def test_unbatched_input_and_states():
    m, tm = _pair("LSTM", 3, 4, num_layers=2)
    torch = torch_or_skip()
    rng = np.random.default_rng(4)
    x, h0, c0 = rng.standard_normal((5, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    o, (h, c) = m(_t(x), (_t(h0), _t(c0)))
    to, (th, tc) = tm(torch.tensor(x), (torch.tensor(h0), torch.tensor(c0)))
    assert o.shape == (5, 4) and h.shape == (2, 4)
    _close(o.data, to)
    _close(h.data, th)
    _close(c.data, tc)


@pytest.mark.parametrize("kind,cell", [("RNN", RNNCell), ("LSTM", LSTMCell), ("GRU", GRUCell)])
def test_cells_equal_torch_and_gradcheck(kind, cell):
    """Cells: = PyTorch's cells (forward, backward); float64 gradcheck and gradgradcheck."""
    torch = torch_or_skip()
    c = cell(3, 4, dtype=np.float64, generator=cr.Generator(1))
    tc = getattr(torch.nn, kind + "Cell")(3, 4).double()
    tc.load_state_dict({k: torch.tensor(v.data) for k, v in c.state_dict().items()})
    rng = np.random.default_rng(0)
    x, h, cc = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    X, Hh, C = _t(x), _t(h), _t(cc)
    TX, TH, TC = (torch.tensor(a, requires_grad=True) for a in (x, h, cc))
    if kind == "LSTM":
        (h2, c2), (th2, tc2) = c(X, (Hh, C)), tc(TX, (TH, TC))
        (h2.sum() + (c2 * c2).sum()).backward()
        (th2.sum() + (tc2 * tc2).sum()).backward()
        _close(c2.data, tc2)
        _close(C.grad.data, TC.grad)
    else:
        h2, th2 = c(X, Hh), tc(TX, TH)
        (h2 * h2).sum().backward()
        (th2 * th2).sum().backward()
    _close(h2.data, th2)
    _close(X.grad.data, TX.grad)
    _close(Hh.grad.data, TH.grad)
    tparams = dict(tc.named_parameters())
    for name, p in c.named_parameters():
        _close(p.grad.data, tparams[name].grad)

    ws = [_t(p.data) for p in (c.weight_ih, c.weight_hh, c.bias_ih, c.bias_hh)]
    xs = [_t(x), _t(h)] + ([_t(cc)] if kind == "LSTM" else [])
    if kind == "LSTM":
        f = lambda x_, h_, c_, *w: cr.concatenate(R.lstm_cell(x_, h_, c_, *w), 1)
    elif kind == "GRU":
        f = lambda x_, h_, *w: R.gru_cell(x_, h_, *w)
    else:
        f = lambda x_, h_, *w: R.rnn_cell(x_, h_, *w, nonlinearity="tanh")
    assert gradcheck(f, xs + ws)
    assert gradgradcheck(f, xs + ws)


# ------------------------------------------------------------------------------- fused layers
def _layer_fn(kind, reverse, mask, nonlinearity="tanh"):
    if kind == "lstm":
        return lambda x, h, c, wi, wh, bi, bh: R.lstm_layer(x, h, c, wi, wh, bi, bh, reverse=reverse, mask=mask)
    if kind == "gru":
        return lambda x, h, wi, wh, bi, bh: R.gru_layer(x, h, wi, wh, bi, bh, reverse=reverse, mask=mask)
    return lambda x, h, wi, wh, bi, bh: R.rnn_layer(x, h, wi, wh, bi, bh, nonlinearity, reverse=reverse, mask=mask)


def _layer_inputs(kind, T=3, N=2, F_=2, H=2, seed=0):
    rng = np.random.default_rng(seed)
    G = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    xs = [rng.standard_normal((T, N, F_)), rng.standard_normal((N, H))]
    if kind == "lstm":
        xs.append(rng.standard_normal((N, H)))
    xs += [rng.standard_normal((G * H, F_)) * 0.8, rng.standard_normal((G * H, H)) * 0.8,
           rng.standard_normal(G * H) * 0.5, rng.standard_normal(G * H) * 0.5]
    return [_t(a) for a in xs]


MASK = np.array([[1, 1], [1, 0], [0, 1]], dtype=bool)   # a general mask (T = 3, N = 2)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("reverse,mask", [(False, None), (True, None), (False, MASK), (True, MASK)])
def test_fused_layer_gradcheck_and_equals_cell_composition(kind, reverse, mask):
    """The hand-written BPTT of the fused op = finite differences, and forward/backward = the same
    recurrence written with the differentiable cells (the create_graph fallback)."""
    xs = _layer_inputs(kind)
    f = _layer_fn(kind, reverse, mask)
    assert gradcheck(f, xs, atol=1e-7, rtol=1e-6)
    T = xs[0].shape[0]
    compose = R._compose_layer(kind, T, reverse, mask)
    ys = [_t(a.data) for a in xs]
    if kind != "lstm":
        ys_c = ys[:2] + [None] + ys[2:]
    else:
        ys_c = ys
    P1 = f(*xs)
    P2 = compose(*ys_c)
    np.testing.assert_allclose(P1.data, P2.data, rtol=1e-12, atol=1e-13)
    g = np.random.default_rng(5).standard_normal(P1.shape)
    P1.backward(cr.Tensor(g))
    P2.backward(cr.Tensor(g))
    for a, b in zip(xs, ys):
        np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_fused_layer_second_derivatives(kind):
    """create_graph=True takes the differentiable path: exact second derivatives (gradgradcheck)."""
    xs = _layer_inputs(kind, T=2, N=2, F_=2, H=2, seed=1)
    assert gradgradcheck(_layer_fn(kind, True, np.array([[1, 1], [0, 1]], bool)), xs, atol=1e-6, rtol=1e-5)


def test_rnn_sigmoid_and_relu_layers_gradcheck():
    for nl in ("sigmoid", "relu"):
        xs = _layer_inputs("rnn", seed=2)
        assert gradcheck(_layer_fn("rnn", False, None, nl), xs, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_module_gradcheck_two_layers_bidirectional(kind):
    """Whole module (2 layers, bidirectional, lengths): gradients wrt input and h0 = finite differences."""
    m = CLASSES[kind](2, 2, num_layers=2, bidirectional=True, dtype=np.float64, generator=cr.Generator(0))
    rng = np.random.default_rng(3)
    x, h0 = _t(rng.standard_normal((3, 2, 2))), _t(rng.standard_normal((4, 2, 2)))
    lengths = [3, 2]

    def f(x_, h_):
        hx = (h_, h_ * 0.5) if kind == "LSTM" else h_
        o, s = m(x_, hx, lengths=lengths)
        hn = s[0] if kind == "LSTM" else s
        return cr.concatenate([o.reshape(-1), hn.reshape(-1)])

    assert gradcheck(f, [x, h0], atol=1e-7, rtol=1e-6)


# ------------------------------------------------------------------------------- variable length
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_packed_sequences_equal_torch(kind):
    """PackedSequence in (enforce_sorted=False, 2 layers, bidirectional): = PyTorch's packed run."""
    torch = torch_or_skip()
    m, tm = _pair(kind, 3, 4, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4, 3))
    lengths = [3, 5, 1, 4]
    X, TX = _t(x), torch.tensor(x, requires_grad=True)
    p = pack_padded_sequence(X, lengths, enforce_sorted=False)
    tp = torch.nn.utils.rnn.pack_padded_sequence(TX, torch.tensor(lengths), enforce_sorted=False)
    np.testing.assert_array_equal(p.batch_sizes, tp.batch_sizes.numpy())
    _close(p.data.data, tp.data)
    o, s = m(p)
    to, ts = tm(tp)
    assert isinstance(o, PackedSequence)
    _close(o.data.data, to.data)
    po, L = pad_packed_sequence(o)
    tpo, tL = torch.nn.utils.rnn.pad_packed_sequence(to)
    np.testing.assert_array_equal(L, tL.numpy())
    _close(po.data, tpo)
    h, th = (s[0], ts[0]) if kind == "LSTM" else (s, ts)
    _close(h.data, th)
    w = rng.standard_normal(po.shape)
    ((po * _t(w, False)).sum() + (h * h).sum()).backward()
    ((tpo * torch.tensor(w)).sum() + (th * th).sum()).backward()
    _close(X.grad.data, TX.grad)
    tparams = dict(tm.named_parameters())
    for name, prm in m.named_parameters():
        _close(prm.grad.data, tparams[name].grad)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_lengths_equal_separate_runs(kind):
    """lengths=: each sequence gives exactly what it gives alone, truncated; outputs past the end are 0."""
    m = CLASSES[kind](3, 4, bidirectional=True, dtype=np.float64, generator=cr.Generator(2))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 3, 3))
    lengths = np.array([6, 2, 4])
    o, s = m(_t(x, False), lengths=lengths)
    h = s[0] if kind == "LSTM" else s
    for n, L in enumerate(lengths):
        on, sn = m(_t(x[:L, n:n + 1], False))
        hn = sn[0] if kind == "LSTM" else sn
        np.testing.assert_allclose(o.data[:L, n], on.data[:, 0], rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(o.data[L:, n], 0)
        np.testing.assert_allclose(h.data[:, n], hn.data[:, 0], rtol=1e-12, atol=1e-14)
    o2, _ = m(_t(x, False), mask=lengths_to_mask(lengths, 6))
    np.testing.assert_array_equal(o.data, o2.data)


def test_pad_and_pack_sequence_helpers():
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((L, 2)) for L in (4, 2, 3)]
    ours = pad_sequence([_t(s, False) for s in seqs], batch_first=True, padding_value=-1.0)
    theirs = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=True, padding_value=-1.0)
    _close(ours.data, theirs)
    p = pack_sequence([_t(s, False) for s in seqs], enforce_sorted=False)
    tp = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    _close(p.data.data, tp.data)
    padded, L = pad_packed_sequence(p, batch_first=True, padding_value=7.0, total_length=5)
    tpadded, _ = torch.nn.utils.rnn.pad_packed_sequence(tp, batch_first=True, padding_value=7.0, total_length=5)
    _close(padded.data, tpadded)
    np.testing.assert_array_equal(L, [4, 2, 3])


# ------------------------------------------------------------------------------- spec checks
def _elman_params(rng, m, H, d):
    return dict(W_ih=rng.standard_normal((H, m)) * 0.5, W_hh=rng.standard_normal((H, H)) * 0.5,
                b_h=rng.standard_normal(H) * 0.1, W_ho=rng.standard_normal((d, H)) * 0.5,
                b_o=rng.standard_normal(d) * 0.1)


@pytest.mark.parametrize("hidden", ["tanh", "sigmoid"])
def test_bptt_oracle_equals_engine_and_fd(hidden):
    """spec: RNN-BPTT — autodiff = explicit BPTT equations (NumPy) = FD; T=5, N=3, m=4, H=6, d=3;
    Δ^o_t = (ŷ_t − Y_t)/T."""
    T, N, m, H, d = 5, 3, 4, 6, 3
    rng = np.random.default_rng(0)
    X = rng.standard_normal((T, N, m))
    Y = (rng.random((T, N, d)) < 0.5).astype(float)
    h0 = rng.standard_normal((N, H)) * 0.3
    P = _elman_params(rng, m, H, d)
    C_ref, G = elman_bptt(X, Y, h0, **P, hidden=hidden, output="sigmoid")

    rnn = RNN(m, H, nonlinearity=hidden, bias=True, dtype=np.float64)
    head = nn.Linear(H, d, dtype=np.float64)
    with cr.no_grad():
        rnn.weight_ih_l0.data[...] = P["W_ih"]
        rnn.weight_hh_l0.data[...] = P["W_hh"]
        rnn.bias_ih_l0.data[...] = P["b_h"]
        rnn.bias_hh_l0.data[...] = 0.0
        head.weight.data[...] = P["W_ho"]
        head.bias.data[...] = P["b_o"]
    Xt, H0 = _t(X), _t(h0[None])

    def cost(x_, h_):
        out, _ = rnn(x_, h_)
        zo = head(out)
        zo.retain_grad()
        # c = −(1/T) Σ_t Σ_i BCE, averaged over sequences = sum over (t, i) / (T N)
        c = nn.functional.binary_cross_entropy_with_logits(zo, _t(Y, False), reduction="sum") * (1.0 / (T * N))
        return c, zo

    C, zo = cost(Xt, H0)
    assert abs(float(C.data) - C_ref) < 1e-12
    C.backward()
    np.testing.assert_allclose(zo.grad.data * N, G["delta_o"], rtol=1e-10, atol=1e-14)   # Δ^o_t = (ŷ−Y)/T
    for got, key in ((rnn.weight_ih_l0, "W_ih"), (rnn.weight_hh_l0, "W_hh"), (rnn.bias_ih_l0, "b_h"),
                     (head.weight, "W_ho"), (head.bias, "b_o")):
        np.testing.assert_allclose(got.grad.data, G[key], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(Xt.grad.data, G["X"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(H0.grad.data[0], G["h0"], rtol=1e-10, atol=1e-13)
    # finite differences of the oracle's own cost (independent of the engine)
    num = np.zeros_like(P["W_hh"])
    for idx in np.ndindex(num.shape):
        for s in (1, -1):
            Q = {k: v.copy() for k, v in P.items()}
            Q["W_hh"][idx] += s * 1e-6
            num[idx] += s * elman_bptt(X, Y, h0, **Q, hidden=hidden)[0]
    np.testing.assert_allclose(G["W_hh"], num / 2e-6, rtol=1e-5, atol=1e-8)


def test_elman_equals_unrolled_linear_layers():
    """spec: RNN-ELMAN check (a) — nn.RNN = explicit loop over Linear layers (the unrolled net) to 1e-12."""
    rnn = RNN(3, 5, nonlinearity="sigmoid", dtype=np.float64, generator=cr.Generator(0))
    lin_x, lin_h = nn.Linear(3, 5, dtype=np.float64), nn.Linear(5, 5, dtype=np.float64)
    with cr.no_grad():
        lin_x.weight.data[...] = rnn.weight_ih_l0.data
        lin_x.bias.data[...] = rnn.bias_ih_l0.data
        lin_h.weight.data[...] = rnn.weight_hh_l0.data
        lin_h.bias.data[...] = rnn.bias_hh_l0.data
    x = _t(np.random.default_rng(0).standard_normal((7, 2, 3)), False)
    out, hn = rnn(x)
    h = cr.Tensor(np.zeros((2, 5)))
    for t in range(7):
        h = cr.sigmoid(lin_x(x[t]) + lin_h(h))
        np.testing.assert_allclose(out.data[t], h.data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hn.data[0], h.data, rtol=1e-12, atol=1e-14)


def test_vanishing_gradient_bound_rnn():
    """spec: RNN-BPTT demo — tanh RNN, W_hh = 0.5·I, zero input weights: ‖∂h_T/∂h_0‖ ≤ 0.5^T."""
    T, H = 12, 4
    rnn = RNN(2, H, bias=False, dtype=np.float64)
    with cr.no_grad():
        rnn.weight_ih_l0.data[...] = 0.0
        rnn.weight_hh_l0.data[...] = 0.5 * np.eye(H)
    x = _t(np.random.default_rng(0).standard_normal((T, 1, 2)), False)
    h0 = _t(np.random.default_rng(1).standard_normal((1, 1, H)))
    J = jacobian(lambda h: rnn(x, h)[1], h0).data.reshape(H, H)
    assert np.linalg.norm(J, 2) <= 0.5 ** T + 1e-15
    assert np.linalg.norm(J, 2) > 0.5 ** T * 0.1          # and it is that small, not zero


def test_lstm_fd_and_manual_loop_and_reference():
    """spec: RNN-LSTM — FD (T=4, N=2, m=3, H=5); = manual LSTMCell loop; = the spec's per-step backward."""
    T, N, m, H = 4, 2, 3, 5
    lstm = LSTM(m, H, dtype=np.float64, generator=cr.Generator(0))
    rng = np.random.default_rng(0)
    x, h0, c0 = rng.standard_normal((T, N, m)), rng.standard_normal((N, H)), rng.standard_normal((N, H))

    def f(x_, h_, c_):
        o, (hn, cn) = lstm(x_, (h_.reshape(1, N, H), c_.reshape(1, N, H)))
        return cr.concatenate([o.reshape(-1), cn.reshape(-1)])

    assert gradcheck(f, [_t(x), _t(h0), _t(c0)], atol=1e-7, rtol=1e-6)
    cell = LSTMCell(m, H, dtype=np.float64)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in lstm.state_dict().items()})
    h, c = _t(h0, False), _t(c0, False)
    o, _ = lstm(_t(x, False), (_t(h0[None], False), _t(c0[None], False)))
    for t in range(T):
        h, c = cell(_t(x[t], False), (h, c))
        np.testing.assert_allclose(o.data[t], h.data, rtol=1e-12, atol=1e-14)
    # the explicit per-step backward of the spec (reference_rnn) = the engine
    dH = rng.standard_normal((T, N, H))
    X, H0, C0 = _t(x), _t(h0[None]), _t(c0[None])
    out, (hn, cn) = lstm(X, (H0, C0))
    dcn = rng.standard_normal((N, H))
    ((out * _t(dH, False)).sum() + (cn[0] * _t(dcn, False)).sum()).backward()
    b = lstm.bias_ih_l0.data + lstm.bias_hh_l0.data
    ref = lstm_bptt(x, h0, c0, lstm.weight_ih_l0.data, lstm.weight_hh_l0.data, b, dH, dc_n=dcn)
    np.testing.assert_allclose(lstm.weight_ih_l0.grad.data, ref["W_ih"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(lstm.weight_hh_l0.grad.data, ref["W_hh"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(lstm.bias_hh_l0.grad.data, ref["b"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(X.grad.data, ref["X"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(H0.grad.data[0], ref["h0"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(C0.grad.data[0], ref["c0"], rtol=1e-10, atol=1e-13)


def test_lstm_constant_error_carousel():
    """spec: RNN-LSTM — all weights 0, b_f = +20, c_0 given: ∂c_T/∂c_0 ≥ 0.999 at T = 100."""
    T, H = 100, 3
    lstm = LSTM(2, H, dtype=np.float64)
    with cr.no_grad():
        for p in lstm.parameters():
            p.data[...] = 0.0
        lstm.bias_ih_l0.data[H:2 * H] = 20.0
    x = _t(np.random.default_rng(0).standard_normal((T, 1, 2)), False)
    c0 = _t(np.random.default_rng(1).standard_normal((1, 1, H)))
    h0 = _t(np.zeros((1, 1, H)), False)
    J = jacobian(lambda c: lstm(x, (h0, c))[1][1], c0).data.reshape(H, H)
    assert np.all(np.diag(J) >= 0.999)
    np.testing.assert_allclose(J - np.diag(np.diag(J)), 0, atol=1e-12)


def test_forget_bias_and_learned_h0():
    lstm = LSTM(2, 3, forget_bias=1.0, dtype=np.float64, generator=cr.Generator(0))
    ref = LSTM(2, 3, dtype=np.float64, generator=cr.Generator(0))
    np.testing.assert_allclose(lstm.bias_ih_l0.data[3:6] - ref.bias_ih_l0.data[3:6], 1.0)
    np.testing.assert_array_equal(lstm.bias_ih_l0.data[:3], ref.bias_ih_l0.data[:3])
    np.testing.assert_array_equal(lstm.bias_hh_l0.data, ref.bias_hh_l0.data)
    rnn = RNN(2, 3, learn_h0=True, dtype=np.float64)
    assert "h0" in dict(rnn.named_parameters())
    out, _ = rnn(_t(np.ones((4, 5, 2)), False))
    (out * out).sum().backward()
    assert rnn.h0.grad is not None and np.abs(rnn.h0.grad.data).sum() > 0
    lstm2 = LSTM(2, 3, learn_h0=True)
    assert {"h0", "c0"} <= set(dict(lstm2.named_parameters()))


def test_dropout_between_layers_train_vs_eval():
    m = GRU(3, 8, num_layers=2, dropout=0.5, dtype=np.float64)
    x = _t(np.random.default_rng(0).standard_normal((4, 2, 3)), False)
    a, _ = m(x)
    b, _ = m(x)
    assert not np.allclose(a.data, b.data)
    m.eval()
    c, _ = m(x)
    d, _ = m(x)
    np.testing.assert_array_equal(c.data, d.data)


def test_float32_default_dtype():
    m = LSTM(3, 4, batch_first=True)
    o, (h, c) = m(cr.Tensor(np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)))
    assert o.dtype == np.float32 and o.shape == (2, 5, 4) and h.shape == (1, 2, 4)
    o.sum().backward()
    assert m.weight_hh_l0.grad.dtype == np.float32


# ------------------------------------------------------------------------------- errors
def test_clear_errors_for_bad_sequence_inputs():
    m = LSTM(3, 4)
    with pytest.raises(ValueError, match=r"input_size = 3"):
        m(cr.Tensor(np.zeros((5, 2, 4), np.float32)))
    with pytest.raises(ValueError, match=r"\(T, N, F\)"):
        m(cr.Tensor(np.zeros((5, 2, 3, 1), np.float32)))
    with pytest.raises(ValueError, match=r"\(1, 2, 4\)"):
        m(cr.Tensor(np.zeros((5, 2, 3), np.float32)), (cr.Tensor(np.zeros((1, 3, 4), np.float32)),
                                                         cr.Tensor(np.zeros((1, 2, 4), np.float32))))
    with pytest.raises(TypeError, match="tuple"):
        m(cr.Tensor(np.zeros((5, 2, 3), np.float32)), cr.Tensor(np.zeros((1, 2, 4), np.float32)))
    with pytest.raises(TypeError, match="dtype"):
        m(cr.Tensor(np.zeros((5, 2, 3), np.float64)))
    with pytest.raises(ValueError, match="exceeds"):
        m(cr.Tensor(np.zeros((5, 2, 3), np.float32)), lengths=[6, 2])
    with pytest.raises(ValueError, match="one entry per sequence"):
        m(cr.Tensor(np.zeros((5, 2, 3), np.float32)), lengths=[5, 2, 1])
    with pytest.raises(ValueError, match="mask"):
        m(cr.Tensor(np.zeros((5, 2, 3), np.float32)), mask=np.ones((5, 3), bool))
    with pytest.raises(ValueError, match="not sorted"):
        pack_padded_sequence(cr.Tensor(np.zeros((5, 2, 3))), [2, 5])
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(3, 4, nonlinearity="softsign")
    with pytest.raises(ValueError, match="positive integer"):
        GRU(3, 0)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        GRUCell(3, 4)(cr.Tensor(np.zeros((2, 5), np.float32)))


@pytest.mark.slow
def test_w5_benchmark_workload_starts_identical_to_torch():
    """benchmarks/workloads/w5_lstm.py: same weights and batches in both libraries — the first three
    training losses (float32, Adam updates in between) agree."""
    torch_or_skip()
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "workloads" / "w5_lstm.py"
    spec = importlib.util.spec_from_file_location("w5_lstm_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    c, nc = mod.make("chainrule", 0)
    t, nt = mod.make("torch", 0)
    assert nc == nt == 32
    lc = [float(np.asarray(c().data)) for _ in range(3)]
    lt = [float(t().item()) for _ in range(3)]
    np.testing.assert_allclose(lc, lt, rtol=1e-4)


def test_workspace_reuse_is_safe():
    """The fused ops reuse their large work arrays: interleaved graphs stay correct, buffers come back
    after backward / under no_grad, and clear_workspace releases them."""
    R.clear_workspace()
    xs = _layer_inputs("lstm", T=6, N=3, F_=2, H=4, seed=3)
    f = _layer_fn("lstm", False, None)
    ref = f(*xs)
    g = np.random.default_rng(0).standard_normal(ref.shape)
    ref.backward(cr.Tensor(g))
    want = [a.grad.data.copy() for a in xs]
    for a in xs:
        a.grad = None
    P1 = f(*xs)                                  # two live graphs sharing the pool
    with cr.no_grad():
        f(*[cr.Tensor(a.data * 0.5) for a in xs])    # no graph: buffers go straight back ...
    P2 = f(*xs)                                  # ... and are reused here
    P2.backward(cr.Tensor(g))
    P1.backward(cr.Tensor(g))
    for a, w in zip(xs, want):
        np.testing.assert_allclose(a.grad.data, 2 * w, rtol=1e-13)
    assert R._WS.bytes > 0
    R.clear_workspace()
    assert R._WS.bytes == 0 and not R._WS.free
