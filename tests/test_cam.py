"""Class activation maps (spec: CAM-GAP) and class maps by fully convolutional evaluation (spec: CAM-CLASS-MAP)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from helpers import torch_or_skip

import chainrule as cr
from chainrule import nn
from chainrule.cam import (
    GAPCNN,
    FullyConvolutional,
    class_activation_map,
    class_map,
    class_map_boxes,
    to_fully_convolutional,
    upsample_bilinear,
)
from chainrule.models import TFCNN, LeNet5


def _gap64(seed=0, **kw):
    return GAPCNN(dtype=np.float64, generator=cr.Generator(seed), **kw)


# ------------------------------------------------------------------------------------------- CAM-GAP
def test_cam_mean_plus_bias_equals_logit_for_every_class():
    # spec: CAM-GAP — mean_{x,y} M_c + b_c = s_c to 1e-10
    m = _gap64(channels=(4, 6, 8), pools=(2, 1, 2))
    x = np.random.default_rng(0).standard_normal((3, 1, 20, 16))
    s = m(cr.Tensor(x)).data
    for c in range(10):
        cam = class_activation_map(m, x, c, upsample=False)
        assert cam.shape == (3, 5, 4)  # total stride 4
        np.testing.assert_allclose(cam.mean(axis=(1, 2)) + m.fc.bias.data[c], s[:, c], rtol=0, atol=1e-10)
    # default class = the predicted one; logits from the same pass
    cam, logits = class_activation_map(m, x, return_logits=True, upsample=False)
    np.testing.assert_allclose(logits, s, atol=1e-12)
    pred = s.argmax(1)
    each = [class_activation_map(m, x[i], pred[i], upsample=False) for i in range(3)]
    np.testing.assert_allclose(cam, np.stack(each))
    # one image (C, H, W) or (H, W) gives (H, W), upsampled to the input size
    assert class_activation_map(m, x[0], 3).shape == (20, 16)
    assert class_activation_map(m, x[0, 0], 3).shape == (20, 16)


def test_cam_localises_the_evidence():
    # spec: CAM-GAP — a 1×1 "detector" conv: class 0 = bright pixels, class 1 = dark; the class-0 map peaks on the blob
    m = GAPCNN(channels=(1,), pools=(1,), num_classes=2, kernel_size=1, dtype=np.float64)
    m.features.conv1.weight.data[...] = 1.0
    m.features.conv1.bias.data[...] = 0.0
    m.fc.weight.data[...] = [[1.0], [-1.0]]
    img = np.zeros((12, 12))
    img[7:9, 2:4] = 5.0
    cam = class_activation_map(m, img, 0)
    assert np.unravel_index(cam.argmax(), cam.shape) in {(7, 2), (7, 3), (8, 2), (8, 3)}
    assert cam[0, 11] == 0
    cam1 = class_activation_map(m, img, 1)
    np.testing.assert_allclose(cam1, -cam)


def test_upsample_bilinear_equals_torch_interpolate():
    # spec: CAM-GAP — bilinear upsampling as F.interpolate(align_corners=False)
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    for (h, w), size in [((4, 4), (16, 16)), ((3, 5), (7, 11)), ((7, 7), (56, 56)), ((6, 8), (3, 5)), ((1, 1), (4, 4))]:
        a = rng.standard_normal((2, 3, h, w))
        ref = torch.nn.functional.interpolate(torch.from_numpy(a), size=size, mode="bilinear", align_corners=False)
        np.testing.assert_allclose(upsample_bilinear(a, size), ref.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="size must be positive"):
        upsample_bilinear(np.zeros((2, 2)), (0, 3))


def test_gapcnn_shapes_gradcheck_and_torch():
    # spec: CAM-GAP — the GAP network: forward/backward equal PyTorch (float64), gradcheck
    torch = torch_or_skip()
    m = _gap64(channels=(3, 4), pools=(2, 1), num_classes=5)
    assert m.stride == 2 and m(cr.Tensor(np.zeros((2, 1, 9, 13)))).shape == (2, 5)
    t = torch.nn
    tm = t.Sequential(t.Conv2d(1, 3, 3, padding="same"), t.ReLU(), t.MaxPool2d(2), t.Conv2d(3, 4, 3, padding="same"),
                      t.ReLU(), t.AdaptiveAvgPool2d(1), t.Flatten(), t.Linear(4, 5)).double()
    src = [m.features.conv1, m.features.conv2, m.fc]
    with torch.no_grad():
        for d, s in zip([tm[0], tm[3], tm[7]], src):
            d.weight.copy_(torch.from_numpy(s.weight.data))
            d.bias.copy_(torch.from_numpy(s.bias.data))
    x = np.random.default_rng(2).standard_normal((2, 1, 8, 10))
    xc, xt = cr.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = m(xc), tm(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    go = np.random.default_rng(3).standard_normal(y.shape)
    y.backward(cr.Tensor(go))
    yt.backward(torch.from_numpy(go))
    np.testing.assert_allclose(xc.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for s, d in zip(src, [tm[0], tm[3], tm[7]]):
        np.testing.assert_allclose(s.weight.grad.data, d.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert cr.gradcheck(lambda a: m(a), [cr.Tensor(np.random.default_rng(4).standard_normal((1, 1, 6, 6)),
                                                   requires_grad=True)])
    bn = GAPCNN(batch_norm=True)
    assert "bn1" in bn.features._modules and bn.features.conv1.bias is None


def test_gapcnn_and_cam_errors():
    with pytest.raises(ValueError, match="same non-zero length"):
        GAPCNN(channels=(4, 8), pools=(2,))
    with pytest.raises(ValueError, match="odd"):
        GAPCNN(kernel_size=4)
    m = _gap64()
    with pytest.raises(ValueError, match=r"class_idx must be in \[0, 10\)"):
        class_activation_map(m, np.zeros((8, 8)), 10)
    with pytest.raises(ValueError, match="needs a conv feature extractor"):
        class_activation_map(nn.Sequential(nn.Conv2d(1, 2, 3)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="global average pooling"):  # TFCNN: features → Flatten, not GAP
        class_activation_map(TFCNN(channels=(2, 3), hidden=4), np.zeros((28, 28)), 0, fc=nn.Linear(5, 10))


# -------------------------------------------------------------------------------------- CAM-CLASS-MAP
def _check_cells(model, fcn_or_model, img, hw, S, atol=1e-10):
    cmap = class_map(fcn_or_model, img, hw)
    H, W = hw
    hu, wv = (img.shape[-2] - H) // S + 1, (img.shape[-1] - W) // S + 1
    assert cmap.shape[-2:] == (hu, wv)
    model.eval()
    with cr.no_grad():
        for u in range(hu):
            for v in range(wv):
                ref = model(cr.Tensor(img[None, :, u * S:u * S + H, v * S:v * S + W])).data[0]
                np.testing.assert_allclose(cmap[:, u, v], ref, rtol=0, atol=atol)
    return cmap


def test_class_map_equals_crop_logits_lenet5():
    # spec: CAM-CLASS-MAP — valid convs: class_map[:, :, u, v] = logits on the crop at (uS, vS), all cells, 1e-10
    m = LeNet5(dtype=np.float64, generator=cr.Generator(3))
    fcn = to_fully_convolutional(m, (32, 32))
    assert isinstance(fcn, FullyConvolutional) and fcn.stride == (4, 4) and fcn.feature_shape == (120, 1, 1)
    img = np.random.default_rng(0).standard_normal((1, 44, 40))
    cmap = _check_cells(m, fcn, img, (32, 32), 4)
    assert cmap.shape == (10, 4, 3)
    assert fcn.cell_box(2, 1) == (8, 4, 40, 36)
    # without the conversion step, and batched
    batch = np.random.default_rng(1).standard_normal((2, 1, 36, 36))
    np.testing.assert_allclose(class_map(m, batch, (32, 32))[1], class_map(fcn, batch[1]), atol=1e-12)
    # the parameters are shared up to the flatten: training the model changes the fcn
    m.features.c1.weight.data[...] += 0.1
    assert not np.allclose(class_map(fcn, img), cmap)


def test_class_map_flatten_head_and_gap_head():
    # spec: CAM-CLASS-MAP — Flatten → Linear(C'hw, M) → Conv2d(C', M, (h, w)); Linear → 1×1 conv; GAP → h×w avg pool
    g = cr.Generator(5)
    seq = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(2, 4, 3, dtype=np.float64, generator=g)), ("act1", nn.Tanh()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(4, 5, 3, dtype=np.float64, generator=g)), ("act2", nn.ReLU()), ("flat", nn.Flatten()),
        ("fc1", nn.Linear(5 * 3 * 2, 7, dtype=np.float64, generator=g)), ("act3", nn.ReLU()),
        ("drop", nn.Dropout(0.5)), ("fc2", nn.Linear(7, 3, dtype=np.float64, generator=g))]))
    img = np.random.default_rng(2).standard_normal((2, 17, 15))
    fcn = to_fully_convolutional(seq, (12, 10))
    assert fcn.feature_shape == (5, 3, 2) and fcn.stride == (2, 2)
    conv = fcn.body[5]
    np.testing.assert_array_equal(conv.weight.data, seq.fc1.weight.data.reshape(7, 5, 3, 2))  # flatten order C, H, W
    _check_cells(seq, fcn, img, (12, 10), 2)
    gap = nn.Sequential(nn.Conv2d(1, 3, 3, dtype=np.float64, generator=g), nn.ReLU(), nn.AvgPool2d(2),
                        nn.Conv2d(3, 4, 3, dtype=np.float64, generator=g), nn.GlobalAvgPool2d(),
                        nn.Linear(4, 2, dtype=np.float64, generator=g))
    _check_cells(gap, to_fully_convolutional(gap, (12, 12)), np.random.default_rng(3).standard_normal((1, 20, 18)),
                 (12, 12), 2)
    # 'same' padding: interior cells differ from the crops (padding effects) — the erratum of CAM-CLASS-MAP
    tf = TFCNN(channels=(2, 3), hidden=6, dtype=np.float64, generator=g)
    big = np.random.default_rng(4).standard_normal((1, 36, 36))
    cm = class_map(tf, big, (28, 28))
    tf.eval()
    ref = tf(cr.Tensor(big[None, :, 4:32, 4:32])).data[0]
    assert cm.shape == (10, 3, 3) and not np.allclose(cm[:, 1, 1], ref, atol=1e-6)


def test_class_map_softmax_and_errors():
    m = LeNet5(dtype=np.float64)
    p = class_map(m, np.zeros((1, 40, 40)), (32, 32), softmax=True)
    np.testing.assert_allclose(p.sum(0), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="pass input_hw"):
        class_map(m, np.zeros((1, 40, 40)))
    with pytest.raises(ValueError, match="C·h·w"):
        to_fully_convolutional(TFCNN(channels=(2, 3), hidden=4), (32, 32))
    with pytest.raises(ValueError, match="at least the crop size"):
        to_fully_convolutional(m, (32, 32))(cr.Tensor(np.zeros((1, 1, 20, 40))))
    with pytest.raises(ValueError, match="no Flatten"):
        to_fully_convolutional(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), (8, 8))
    with pytest.raises(ValueError, match="cannot convert BatchNorm1d"):
        to_fully_convolutional(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.BatchNorm1d(72), nn.Linear(72, 2)),
                               (8, 8))


def test_class_map_boxes_merge_cells():
    # spec: CAM-CLASS-MAP step 4 — threshold, merge adjacent cells, boxes [uS, uS+H) × [vS, vS+W)
    p = np.zeros((3, 5, 6))
    p[1, 1:3, 2] = [0.9, 0.7]
    p[2, 4, 5] = 0.8
    p[2, 0, 0] = 0.6
    boxes = class_map_boxes(p, 4, (32, 32), threshold=0.5)
    assert boxes == [(1, 0.9, (4, 8, 40, 40)), (2, 0.8, (16, 20, 48, 52)), (2, 0.6, (0, 0, 32, 32))]
    assert class_map_boxes(p, (4, 4), (32, 32), threshold=0.85) == [(1, 0.9, (4, 8, 36, 40))]
    with pytest.raises(ValueError, match=r"\(d, h', w'\)"):
        class_map_boxes(p[None], 4, (32, 32))
