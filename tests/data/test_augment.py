"""Image augmentation transforms.  spec: AUG-IMAGE, AUG-INVARIANCE"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, stats

import chainrule as cr
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.augment import (
    AddGaussianNoise,
    AugmentedDataset,
    ChannelBrightness,
    ColorJitter,
    Compose,
    ElasticDeformation,
    RandomAffine,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomShear,
    RandomShift,
    RandomTranslate,
    RandomVerticalFlip,
    _hsv_to_rgb,
    _rgb_to_hsv,
)


def _imgs(n=4, c=2, h=7, w=7, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w))


def test_double_flip_is_identity_and_flip_probability():
    # spec: AUG-IMAGE  double flip = identity
    x = _imgs()
    for F in (RandomHorizontalFlip, RandomVerticalFlip):
        f = F(p=1.0)
        once = f(x)
        assert not np.allclose(once, x)
        np.testing.assert_array_equal(f(once), x)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(RandomVerticalFlip(p=1.0)(x), x[:, :, ::-1])
    y = RandomHorizontalFlip(0.5, generator=cr.Generator(0))(_imgs(2000, 1, 3, 3))
    flipped = np.mean([not np.array_equal(a, b) for a, b in zip(y, _imgs(2000, 1, 3, 3))])
    assert abs(flipped - 0.5) < 0.04
    with pytest.raises(ValueError):
        RandomHorizontalFlip(1.5)


def test_rotation_90_nearest_equals_rot90_and_matches_scipy():
    # spec: AUG-IMAGE  90° nearest rotation = np.rot90(x, 1, axes=(2, 3)); positive = counter-clockwise
    x = _imgs(3, 2, 6, 6)
    np.testing.assert_array_equal(RandomRotation((90, 90), interpolation="nearest")(x), np.rot90(x, 1, axes=(2, 3)))
    np.testing.assert_array_equal(RandomRotation((-90, -90), interpolation="nearest")(x), np.rot90(x, -1, axes=(2, 3)))
    np.testing.assert_array_equal(RandomRotation((180, 180), interpolation="nearest")(x), x[:, :, ::-1, ::-1])
    np.testing.assert_array_equal(RandomRotation((0, 0))(x), x)
    # bilinear at 30° = scipy.ndimage.rotate (same centre, same direction, zero fill)
    z = _imgs(1, 1, 11, 11)
    ref = ndimage.rotate(z[0, 0], 30, reshape=False, order=1, mode="grid-constant", cval=0)
    np.testing.assert_allclose(RandomRotation((30, 30))(z)[0, 0], ref, atol=1e-12)
    # random angles: each sample its own, within the range
    r = RandomRotation(15, generator=cr.Generator(0))
    y = r(np.repeat(z, 5, 0))
    assert len({round(float(np.abs(a - z[0]).sum()), 9) for a in y}) == 5


def test_translate_one_row_and_shift_invariants():
    # spec: AUG-IMAGE  a one-row translate moves (i, j) to (i + 1, j) and zero-fills row 0
    x = _imgs(1, 1, 5, 5)
    y = RandomTranslate().shift(x, np.array([1]), np.array([0]))
    np.testing.assert_array_equal(y[0, 0, 1:], x[0, 0, :-1])
    np.testing.assert_array_equal(y[0, 0, 0], 0)
    y = RandomTranslate().shift(x, np.array([-2]), np.array([1]))
    np.testing.assert_array_equal(y[0, 0, :3, 1:], x[0, 0, 2:, :-1])
    # spec: AUG-INVARIANCE  shape/label kept; max_shift = 0 is identity; a 2-px shift keeps the pixel sum of
    # a digit >= 2 px from the border
    np.testing.assert_array_equal(RandomShift(0)(x), x)
    digit = np.zeros((50, 1, 28, 28))
    digit[:, :, 2:26, 2:26] = np.random.default_rng(0).random((50, 1, 24, 24))
    s = RandomShift(2, generator=cr.Generator(1))(digit)
    assert s.shape == digit.shape
    np.testing.assert_allclose(s.sum(axis=(1, 2, 3)), digit.sum(axis=(1, 2, 3)), rtol=1e-12)
    assert np.mean([np.array_equal(a, b) for a, b in zip(s, digit)]) < 0.2


def test_random_crop_offsets_uniform_chi2():
    # spec: AUG-IMAGE  RandomCrop(H, padding=p) hits all (2p + 1)² offsets uniformly (χ²)
    H, p, n = 9, 2, 5000
    x = np.zeros((n, 1, H, H))
    x[:, :, 4, 4] = 1.0  # a marker at the centre
    y = RandomCrop(H, padding=p, generator=cr.Generator(0))(x)
    pos = np.argwhere(y[:, 0] == 1.0)
    assert pos.shape == (n, 3)
    off = (pos[:, 1] - 4 + p) * (2 * p + 1) + (pos[:, 2] - 4 + p)
    counts = np.bincount(off, minlength=(2 * p + 1) ** 2)
    assert counts.size == 25 and counts.min() > 0
    chi2 = ((counts - n / 25) ** 2 / (n / 25)).sum()
    assert stats.chi2.sf(chi2, 24) > 0.001
    assert RandomCrop((5, 3))(x[:3]).shape == (3, 1, 5, 3)


def test_channel_brightness_moves_means_exactly():
    # spec: AUG-IMAGE  ChannelBrightness moves channel means by exactly δ_c
    x = _imgs(6, 3, 5, 5)
    y = ChannelBrightness(0.2, generator=cr.Generator(0))(x)
    d = y - x
    delta = d[:, :, 0, 0]
    np.testing.assert_allclose(d, delta[:, :, None, None] * np.ones((1, 1, 5, 5)), atol=1e-15)
    np.testing.assert_allclose(y.mean(axis=(2, 3)) - x.mean(axis=(2, 3)), delta, atol=1e-15)
    assert np.all(np.abs(delta) <= 0.2) and np.unique(np.round(delta, 12)).size == 18


def test_shear_and_affine():
    # spec: AUG-IMAGE  RandomShear: row i moves by tan(φ)(i − cᵢ) columns
    x = _imgs(1, 1, 5, 5)
    y = RandomShear((45, 45), interpolation="nearest")(x)
    for i in range(5):
        s = i - 2
        for j in range(5):
            src = j - s
            assert y[0, 0, i, j] == (x[0, 0, i, src] if 0 <= src < 5 else 0)
    np.testing.assert_allclose(RandomAffine()(x), x, atol=1e-15)
    # scale 2 about the centre: the centre pixel stays, a pixel at offset 1 comes from offset 0.5
    z = _imgs(1, 1, 9, 9)
    big = RandomAffine(scale=(2, 2))(z)
    assert big[0, 0, 4, 4] == pytest.approx(z[0, 0, 4, 4])
    assert big[0, 0, 5, 4] == pytest.approx(0.5 * (z[0, 0, 4, 4] + z[0, 0, 5, 4]))
    # translation by a fraction of the size: (translate 0.25 of 8 = up to 2 px)
    t = RandomAffine(translate=(0.25, 0.25), interpolation="nearest", generator=cr.Generator(0))
    assert t(_imgs(3, 1, 8, 8)).shape == (3, 1, 8, 8)


def test_elastic_noise_colour():
    x = _imgs(3, 1, 28, 28)
    np.testing.assert_allclose(ElasticDeformation(alpha=0.0)(x), x, atol=1e-15)
    e = ElasticDeformation(generator=cr.Generator(0))(x)
    assert e.shape == x.shape and not np.allclose(e, x)
    np.testing.assert_array_equal(ElasticDeformation(generator=cr.Generator(0))(x), e)  # seeded
    z = np.zeros((200, 1, 10, 10))
    noisy = AddGaussianNoise(0.3, generator=cr.Generator(1))(z)
    assert abs(noisy.std() - 0.3) < 0.01
    assert AddGaussianNoise(2.0, clip=(0, 1))(z).max() <= 1
    rgb = np.random.default_rng(2).random((4, 3, 5, 5))
    h, s, v = _rgb_to_hsv(rgb)
    np.testing.assert_allclose(_hsv_to_rgb(h, s, v), rgb, atol=1e-12)
    np.testing.assert_allclose(ColorJitter()(rgb), rgb)
    b = ColorJitter(brightness=0.5, generator=cr.Generator(3))(rgb)
    ratio = np.where(b < 1, b / rgb, np.nan)  # one factor per image (where not clamped at 1)
    assert np.nanmax(np.abs(ratio - np.nanmean(ratio, axis=(1, 2, 3), keepdims=True))) < 1e-9
    gray = np.repeat(np.random.default_rng(4).random((2, 1, 4, 4)), 3, axis=1)
    np.testing.assert_allclose(ColorJitter(saturation=0.9, hue=0.3)(gray), gray, atol=1e-12)  # no colour: unchanged
    c = ColorJitter(contrast=0.5, generator=cr.Generator(5))(rgb)
    assert not np.allclose(c, rgb)
    with pytest.raises(ValueError):
        ColorJitter(hue=0.7)


def test_shapes_tensors_flat_rows_seeding_and_errors():
    x = _imgs(5, 1, 6, 6).astype(np.float32)
    t = Compose([RandomShift(1), RandomRotation(10), AddGaussianNoise(0.01)])
    assert t(x).shape == x.shape and t(x).dtype == np.float32
    assert t(x[0]).shape == (1, 6, 6)
    out = t(cr.Tensor(x))
    assert isinstance(out, cr.Tensor) and out.shape == x.shape
    flat = x.reshape(5, 36)
    r = RandomRotation((90, 90), interpolation="nearest", image_shape=(1, 6, 6))
    np.testing.assert_array_equal(r(flat), np.rot90(x, 1, axes=(2, 3)).reshape(5, 36))
    a = RandomRotation(20, generator=cr.Generator(7))(x)
    b = RandomRotation(20, generator=cr.Generator(7))(x)
    np.testing.assert_array_equal(a, b)
    g = cr.Generator(7)
    rr = RandomRotation(20, generator=g)
    assert not np.array_equal(rr(x), rr(x))  # fresh parameters at every call
    with pytest.raises(ValueError, match="image_shape"):
        RandomShift(1)(flat)
    with pytest.raises(TypeError, match="floating"):
        RandomShift(1)(np.zeros((2, 1, 4, 4), np.uint8))


def test_dataloader_transform_and_augmented_dataset():
    # spec: AUG-IMAGE  on the fly, per sample, labels unchanged; AugmentedDataset replace / concat
    X = _imgs(10, 1, 8, 8).astype(np.float32)
    y = np.arange(10)
    ds = TensorDataset(X, y)
    loader = DataLoader(ds, batch_size=4, transform=RandomShift(2, generator=cr.Generator(0)))
    xs, ys = zip(*[(xb.data, yb.data) for xb, yb in loader])
    np.testing.assert_array_equal(np.concatenate(ys), y)
    assert np.concatenate(xs).shape == X.shape and not np.allclose(np.concatenate(xs), X)

    flip = RandomHorizontalFlip(p=1.0)
    rep = AugmentedDataset(ds, flip)
    assert len(rep) == 10
    np.testing.assert_array_equal(rep[3][0].data, X[3][..., ::-1])
    cat = AugmentedDataset(ds, flip, mode="concat", return_weights=True)
    assert len(cat) == 20
    np.testing.assert_array_equal(cat[3][0].data, X[3])
    np.testing.assert_array_equal(cat[13][0].data, X[3][..., ::-1])
    assert int(cat[13][1].data) == 3 and cat[13][2] == pytest.approx(0.1)
    get = cat.batch_getter()
    xb, yb, wb = get(np.array([1, 11, 19]))
    np.testing.assert_array_equal(xb[0], X[1])
    np.testing.assert_array_equal(xb[1], X[1][..., ::-1])
    np.testing.assert_array_equal(yb, [1, 1, 9])
    np.testing.assert_allclose(wb, 0.1)
    batches = list(DataLoader(cat, batch_size=7, shuffle=True, generator=cr.Generator(1)))
    assert sum(b[0].shape[0] for b in batches) == 20
    with pytest.raises(ValueError):
        AugmentedDataset(ds, flip, mode="both")
