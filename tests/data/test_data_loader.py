"""Datasets and DataLoader. spec: TRAIN-EPOCHS, SGD-MINIBATCH, TRAIN-SGD-MODES"""

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    Subset,
    TensorDataset,
    random_split,
)


def _ds(n=23):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(x, y)


class ListDataset(Dataset):
    """A dataset without a vectorised batch getter (exercises the generic path)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2,), i, dtype=np.float32), int(i)


def test_tensordataset_basics():
    ds = _ds(5)
    assert len(ds) == 5
    x, y = ds[2]
    assert isinstance(x, cr.Tensor) and x.shape == (3,) and int(y.item()) == 2
    assert ds.tensors[0].data is ds.arrays[0]
    ds2 = TensorDataset(cr.Tensor(np.zeros((4, 2))), [1, 2, 3, 4])
    assert ds2.arrays[1].dtype.kind == "i"


def test_tensordataset_length_mismatch_names_lengths():
    with pytest.raises(ValueError, match=r"\[5, 4\]"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError):
        TensorDataset()


@pytest.mark.parametrize("n,b,drop_last", [(23, 5, False), (23, 5, True), (20, 5, False), (3, 10, False)])
def test_epoch_is_permutation_cut_into_batches(n, b, drop_last):
    # spec: TRAIN-EPOCHS -- ceil(N/B) disjoint batches, last smaller unless drop_last
    loader = DataLoader(_ds(n), batch_size=b, shuffle=True, drop_last=drop_last,
                        generator=cr.Generator(1))
    expected_batches = n // b if drop_last else -(-n // b)
    assert len(loader) == expected_batches
    for _epoch in range(3):
        batches = list(loader)
        assert len(batches) == expected_batches
        ys = np.concatenate([yb.data for _, yb in batches]) if batches else np.zeros(0)
        sizes = [len(yb.data) for _, yb in batches]
        assert all(s == b for s in sizes[:-1])
        if drop_last:
            assert all(s == b for s in sizes)
            assert len(set(ys.tolist())) == len(ys) == (n // b) * b
        else:
            assert sorted(ys.tolist()) == list(range(n))  # each epoch's indices form a permutation
        for xb, yb in batches:  # rows stay aligned
            np.testing.assert_array_equal(xb.data[:, 0], yb.data * 3)


def test_same_seed_same_order_and_epochs_differ():
    def orders(seed):
        loader = DataLoader(_ds(50), batch_size=7, shuffle=True, generator=cr.Generator(seed))
        return [np.concatenate([yb.data for _, yb in loader]) for _ in range(2)]

    a, b, c = orders(3), orders(3), orders(4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0], c[0])


def test_global_seed_controls_default_generator():
    def order():
        cr.manual_seed(11)
        return np.concatenate([yb.data for _, yb in DataLoader(_ds(30), batch_size=4, shuffle=True)])

    np.testing.assert_array_equal(order(), order())


def test_no_shuffle_is_sequential_and_full_batch():
    # spec: TRAIN-SGD-MODES -- B = N without shuffle is one full batch in order
    loader = DataLoader(_ds(9), batch_size=9)
    (xb, yb), = list(loader)
    np.testing.assert_array_equal(yb.data, np.arange(9))
    assert xb.dtype == np.float32 and yb.dtype == np.int64


def test_with_replacement_sampling():
    # spec: SGD-MINIBATCH -- sampling="with_replacement": K uniform draws per step
    loader = DataLoader(_ds(10), batch_size=4, sampling="with_replacement", generator=cr.Generator(0))
    assert len(loader) == 3
    batches = [yb.data for _, yb in loader]
    assert [len(b) for b in batches] == [4, 4, 4]
    draws = np.concatenate([np.concatenate([yb.data for _, yb in loader]) for _ in range(200)])
    counts = np.bincount(draws, minlength=10)
    assert counts.min() > 0.7 * counts.mean()  # roughly uniform
    assert any(len(set(b.tolist())) < len(b) for b in np.split(draws, len(draws) // 4))  # repeats occur
    with pytest.raises(ValueError, match="sampling"):
        DataLoader(_ds(10), sampling="bootstrap")


def test_generic_path_matches_fast_path():
    ds = ListDataset(11)
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=cr.Generator(5))
    fast = DataLoader(TensorDataset(np.repeat(np.arange(11, dtype=np.float32)[:, None], 2, 1),
                                    np.arange(11)), batch_size=4, shuffle=True, generator=cr.Generator(5))
    for (xa, ya), (xb, yb) in zip(loader, fast):
        np.testing.assert_array_equal(xa.data, xb.data)
        np.testing.assert_array_equal(ya.data, yb.data)
        assert ya.dtype == np.int64


def test_transform_and_collate_fn():
    loader = DataLoader(_ds(6), batch_size=4, transform=lambda x: x * 2)
    xb, yb = next(iter(loader))
    np.testing.assert_array_equal(xb.data[:, 0], yb.data * 6)
    calls = []

    def collate(samples):
        calls.append(len(samples))
        return np.stack([s[0].data for s in samples]), np.array([int(s[1].item()) for s in samples])

    out = list(DataLoader(_ds(6), batch_size=4, collate_fn=collate))
    assert calls == [4, 2] and isinstance(out[0][0], cr.Tensor)


class RecordingSampler:
    def __init__(self, n):
        self.n, self.epochs = n, []
        self.epoch = 0

    def set_epoch(self, e):
        self.epoch = e
        self.epochs.append(e)

    def __iter__(self):
        return iter(range(self.n - 1, -1, -1))  # reverse order

    def __len__(self):
        return self.n


def test_sampler_protocol_and_set_epoch():
    s = RecordingSampler(7)
    loader = DataLoader(_ds(7), batch_size=3, sampler=s)
    assert len(loader) == 3
    ys = np.concatenate([yb.data for _, yb in loader])
    np.testing.assert_array_equal(ys, np.arange(6, -1, -1))
    list(loader)
    assert s.epochs == [0, 1]
    loader.set_epoch(10)
    list(loader)
    s.set_epoch(42)  # set directly on the sampler: respected
    list(loader)
    assert s.epochs[-3:] == [10, 42, 42]
    with pytest.raises(ValueError):
        DataLoader(_ds(7), sampler=s, shuffle=True)


def test_random_sampler_seeded_by_epoch():
    s = RandomSampler(20, seed=3)
    loader = DataLoader(_ds(20), batch_size=6, sampler=s)
    e0 = np.concatenate([yb.data for _, yb in loader])
    e1 = np.concatenate([yb.data for _, yb in loader])
    assert sorted(e0.tolist()) == list(range(20)) and not np.array_equal(e0, e1)
    loader.set_epoch(0)
    np.testing.assert_array_equal(np.concatenate([yb.data for _, yb in loader]), e0)


def test_subset_concat_random_split():
    ds = _ds(10)
    sub = Subset(ds, [9, 0, 4])
    assert len(sub) == 3 and int(sub[0][1].item()) == 9
    (xb, yb), = list(DataLoader(sub, batch_size=3))
    np.testing.assert_array_equal(yb.data, [9, 0, 4])
    cat = ConcatDataset([sub, _ds(2)])
    assert len(cat) == 5 and int(cat[3][1].item()) == 0 and int(cat[-1][1].item()) == 1
    ys = np.concatenate([yb.data for _, yb in DataLoader(cat, batch_size=2)])
    np.testing.assert_array_equal(ys, [9, 0, 4, 0, 1])
    a, b = random_split(ds, [7, 3], generator=cr.Generator(0))
    assert sorted(np.concatenate([a.indices, b.indices]).tolist()) == list(range(10))
    a2, _ = random_split(ds, [7, 3], generator=cr.Generator(0))
    np.testing.assert_array_equal(a.indices, a2.indices)
    f1, f2 = random_split(ds, [0.75, 0.25], generator=cr.Generator(0))
    assert len(f1) + len(f2) == 10
    with pytest.raises(ValueError, match="sum to 9"):
        random_split(ds, [5, 4])
    with pytest.raises(IndexError):
        Subset(ds, [10])


def test_fast_path_overhead_is_small():
    # the training benchmark runs 6,000 batches of 10 per epoch: a batch must cost microseconds
    import time

    x = np.random.default_rng(0).random((6000, 784), dtype=np.float32)
    loader = DataLoader(TensorDataset(x, np.zeros(6000, np.int64)), batch_size=10, shuffle=True)
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        for _batch in loader:
            pass
        best = min(best, (time.perf_counter() - t) / len(loader))
    assert best < 100e-6, f"{best * 1e6:.1f} us per batch"


def test_with_replacement_batch_mean_std_falls_as_sqrt_k():
    # spec: SGD-MINIBATCH check (b): per-example linear-regression gradients, 5000 with-replacement draws,
    # std(K=1) / std(K=100) in [9, 11]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 1))
    y = 2.0 * x[:, 0] + rng.normal(size=1000)
    w = 0.5
    per_example_grad = (2 * (w * x[:, 0] - y) * x[:, 0])[:, None]  # d/dw (w x - y)^2
    ds = TensorDataset(per_example_grad)

    def batch_means(k):
        loader = DataLoader(ds, batch_size=k, sampling="with_replacement", generator=cr.Generator(1))
        means = []
        while len(means) < 5000:
            means.extend(b.data.mean() for (b,) in loader)
        return np.asarray(means[:5000])

    ratio = batch_means(1).std() / batch_means(100).std()
    assert 9 <= ratio <= 11
