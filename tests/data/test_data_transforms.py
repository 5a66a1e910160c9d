"""Transforms. spec: DATA-ONEHOT, DATA-STANDARDIZE"""

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import Compose, Flatten, Normalize, OneHot, StandardScaler, ToFloat, one_hot


def test_one_hot_round_trip_and_errors():
    # spec: DATA-ONEHOT -- k -> e_k, inverse argmax, clear errors for negative, >= K, non-integer labels
    y = np.array([0, 2, 1, 2])
    Y = one_hot(y, 3)
    np.testing.assert_array_equal(Y, np.eye(3, dtype=np.float32)[y])
    assert Y.dtype == np.float32
    np.testing.assert_array_equal(Y.argmax(-1), y)
    assert one_hot(np.array([[1], [0]]), 2).shape == (2, 1, 2)
    assert one_hot(np.array([1.0, 0.0]), 2).tolist() == [[0, 1], [1, 0]]  # integral floats accepted
    assert isinstance(one_hot(cr.Tensor(np.array([1, 0])), 2), cr.Tensor)
    with pytest.raises(ValueError, match=">= 0.*-1"):
        one_hot(np.array([0, -1]), 3)
    with pytest.raises(ValueError, match="< num_classes=3.*3"):
        one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="non-integer.*0.5"):
        one_hot(np.array([0.5, 1.0]), 3)
    with pytest.raises(TypeError, match="dtype"):
        one_hot(np.array(["a", "b"]), 2)


def test_onehot_encoder_arbitrary_labels():
    enc = OneHot().fit(np.array(["cat", "ant", "dog", "cat"]))
    assert enc.classes_.tolist() == ["ant", "cat", "dog"]  # classes_ = sorted unique
    Y = enc.transform(np.array(["dog", "ant"]))
    np.testing.assert_array_equal(Y, [[0, 0, 1], [1, 0, 0]])
    assert enc.inverse_transform(Y).tolist() == ["dog", "ant"]
    with pytest.raises(ValueError, match="not seen"):
        enc.transform(np.array(["eel"]))
    enc10 = OneHot(10)
    assert enc10(np.array([9])).shape == (1, 10)
    with pytest.raises(ValueError):
        enc10(np.array([10]))


def test_standard_scaler_fit_on_train_only():
    # spec: DATA-STANDARDIZE -- mean 0 / var 1 on train, sigma = 0 -> 1, test uses train statistics
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, size=(500, 4))
    train[:, 2] = 7.0  # constant feature
    test = rng.normal(3.0, 2.0, size=(50, 4))
    sc = StandardScaler().fit(train)
    z = sc.transform(train)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z.var(0), [1, 1, 0, 1], atol=1e-12)
    assert sc.scale_[2] == 1.0
    zt = sc.transform(test)
    np.testing.assert_allclose(zt, (test - train.mean(0)) / np.where(train.std(0) == 0, 1, train.std(0)))
    np.testing.assert_allclose(sc.inverse_transform(zt), test)
    t32 = sc.transform(cr.Tensor(test.astype(np.float32)))
    assert isinstance(t32, cr.Tensor) and t32.dtype == np.float32
    with pytest.raises(ValueError, match="shape"):
        sc.transform(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="fit"):
        StandardScaler().transform(test)


@pytest.mark.parametrize("kind", ["pca", "zca"])
def test_whitening(kind):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 3))
    x = rng.normal(size=(2000, 3)) @ a + 5.0
    sc = StandardScaler(whiten=kind).fit(x)
    z = sc.transform(x)
    assert sc.eps == 1e-5
    cz = np.cov(z.reshape(len(z), -1).T, bias=True)
    np.testing.assert_allclose(cz, np.eye(3), atol=2e-3)  # whitened covariance ~ I
    lam = np.linalg.eigvalsh(np.cov(x.T, bias=True))
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(cz)), np.sort(lam / (lam + 1e-5)), atol=1e-9)
    np.testing.assert_allclose(sc.inverse_transform(z), x, atol=1e-9)
    if kind == "zca":  # ZCA stays closest to the input (symmetric transform)
        cov = np.cov(x.T, bias=True)
        lam, u = np.linalg.eigh(cov)
        w = u @ np.diag((lam + 1e-5) ** -0.5) @ u.T
        np.testing.assert_allclose(z, (x - x.mean(0)) @ w, atol=1e-9)


def test_image_transforms():
    img = np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2)
    f = ToFloat()(img)
    assert f.dtype == np.float32 and f.max() == pytest.approx(23 / 255)
    norm = Normalize([0.1, 0.2, 0.3], [1.0, 2.0, 4.0])
    out = norm(f)
    np.testing.assert_allclose(out[:, 1], (f[:, 1] - 0.2) / 2.0, rtol=1e-6)
    np.testing.assert_allclose(norm(f[0]), out[0])  # (C, H, W) sample works the same
    assert Flatten()(f).shape == (2, 12) and Flatten(0)(f[0]).shape == (12,)
    pipe = Compose([ToFloat(), Normalize(0.5, 0.25), Flatten()])
    np.testing.assert_allclose(pipe(img), ((img / 255 - 0.5) / 0.25).reshape(2, -1), rtol=1e-5)
    with pytest.raises(ValueError, match="channel"):
        Normalize([0, 0], [1, 1])(f)
    with pytest.raises(ValueError, match="non-zero"):
        Normalize(0, 0)
    assert isinstance(Flatten()(cr.Tensor(f)), cr.Tensor)
