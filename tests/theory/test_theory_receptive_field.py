"""Receptive-field arithmetic vs a gradient-based measurement.  spec: RF-RECEPTIVE-FIELD"""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, ops
from chainrule.theory import measure_receptive_field, receptive_field, receptive_field_info


class OnesConv1d(nn.Module):
    """A 1-D convolution built from chainrule ops (pad + strided slices), all weights 1/scale."""

    def __init__(self, k, s=1, d=1, p=0, scale=1.0):
        super().__init__()
        self.kernel_size, self.stride, self.dilation, self.padding, self.scale = k, s, d, p, scale

    def forward(self, x):
        k, s, d, p = self.kernel_size, self.stride, self.dilation, self.padding
        xp = ops.pad(x, ((0, 0), (0, 0), (p, p)))
        L = xp.shape[2]
        n_out = (L - d * (k - 1) - 1) // s + 1
        out = None
        for j in range(k):
            tap = xp[:, :, j * d: j * d + s * (n_out - 1) + 1: s]
            out = tap if out is None else out + tap
        return out * (1.0 / self.scale)


def _avgpool1d(k):
    m = OnesConv1d(k, s=k, scale=k)
    return m


def test_formula_known_values():
    # spec: RF-RECEPTIVE-FIELD: kernel-3 stack r = 2l + 1; conv5–pool2–conv5–pool2: 5, 6, 14, 16, jump 4
    assert receptive_field([(3, 1)] * 5) == [(2 * l + 1, 1) for l in range(1, 6)]
    assert receptive_field([(5, 1), (2, 2), (5, 1), (2, 2)]) == [(5, 1), (6, 2), (14, 2), (16, 4)]
    assert receptive_field([(3, 1, 2), (3, 1, 4)]) == [(5, 1), (13, 1)]  # dilated: span d(K − 1) + 1
    assert receptive_field([{"kernel_size": (3, 5), "stride": (1, 2)}, {"kernel_size": 3}]) == [
        ((3, 5), (1, 2)), ((5, 9), (1, 2))]
    # the notes' receptive field figure: layer 1: 3, layer 2: 5
    assert [r for r, _ in receptive_field([(3, 1), (3, 1)])] == [3, 5]
    info = receptive_field_info([(3, 1, 1, 1), (2, 2), (3, 1, 1, 0)])
    assert [i["r"] for i in info] == [(3,), (4,), (8,)] and info[-1]["jump"] == (2,)
    with pytest.raises(ValueError, match=">= 1"):
        receptive_field([(0, 1)])
    with pytest.raises(TypeError, match="cannot read layer"):
        receptive_field([3])


@pytest.mark.parametrize("stack", [
    [(3, 1, 1, 0)] * 3,
    [(5, 1, 1, 0), "pool2", (5, 1, 1, 0), "pool2"],
    [(3, 2, 1, 1), (3, 1, 2, 0), (2, 1, 3, 0)],
    [(4, 3, 1, 2), "pool3", (3, 1, 1, 1)],
])
def test_measured_support_width_equals_r_1d(stack):
    # spec: RF-RECEPTIVE-FIELD: weights 1, biases 0, identity activations, average pooling:
    # the support of ∂(central output)/∂x has width exactly r
    layers, geo = [], []
    for item in stack:
        if item == "pool2" or item == "pool3":
            k = int(item[-1])
            layers.append(_avgpool1d(k))
            geo.append((k, k))
        else:
            k, s, d, p = item
            layers.append(OnesConv1d(k, s, d, p))
            geo.append((k, s, d, p))
    model = nn.Sequential(*layers)
    r, _ = receptive_field(geo)[-1]
    (width,), grad = measure_receptive_field(model, (1, 1, 120))
    assert width == r
    # the module geometry is read directly as well
    assert receptive_field(model)[-1][0] == r
    # the measured field is where receptive_field_info says: centre of unit u at start + u·jump
    info = receptive_field_info(geo)[-1]
    y = model(cr.Tensor(np.zeros((1, 1, 120))))
    u = y.shape[2] // 2
    nz = np.flatnonzero(grad > 0)
    assert (nz[0] + nz[-1]) / 2 == pytest.approx(info["start"][0] + u * info["jump"][0])


def test_torch_cross_check_2d():
    torch = pytest.importorskip("torch")
    layers = [torch.nn.Conv2d(1, 1, 5, bias=False), torch.nn.AvgPool2d(2), torch.nn.Conv2d(1, 1, 3, dilation=2,
                                                                                             bias=False),
              torch.nn.AvgPool2d(2)]
    net = torch.nn.Sequential(*layers).double()
    for m in net:
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.ones_(m.weight)
    x = torch.rand(1, 1, 48, 48, dtype=torch.float64, requires_grad=True)
    y = net(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    g = x.grad[0, 0].abs().numpy()
    rows, cols = np.flatnonzero(g.sum(1) > 0), np.flatnonzero(g.sum(0) > 0)
    r = receptive_field([(5, 1), (2, 2), (3, 1, 2), (2, 2)])[-1][0]
    assert rows[-1] - rows[0] + 1 == r == cols[-1] - cols[0] + 1 == 16


def test_chainrule_conv2d_stack():
    # spec: RF-RECEPTIVE-FIELD on the library's Conv2d/AvgPool2d (the TF-CNN geometry: 16 px)
    if not (hasattr(nn, "Conv2d") and hasattr(nn, "AvgPool2d")):
        pytest.skip("chainrule.nn.Conv2d/AvgPool2d not available yet")
    model = nn.Sequential(nn.Conv2d(1, 2, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(2, 1, 5, padding=2),
                          nn.AvgPool2d(2)).to(np.float64)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.data[...] = 1.0
            m.bias.data[...] = 0.0
    assert receptive_field(model) == [(5, 1), (6, 2), (14, 2), (16, 4)]
    widths, _ = measure_receptive_field(model, (1, 1, 40, 40))
    assert widths == (16, 16)
    # max pooling routes the gradient to one input per window: the measured support can be smaller
    mp = nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2)).to(np.float64)
    (h, w), _ = measure_receptive_field(mp, (1, 1, 20, 20))
    assert h <= receptive_field(mp)[-1][0] and w <= receptive_field(mp)[-1][0]
