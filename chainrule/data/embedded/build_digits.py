"""Rebuild digits.npz from scikit-learn's digits.csv.gz (run once; kept for provenance).

    python chainrule/data/embedded/build_digits.py path/to/sklearn/datasets/data/digits.csv.gz

Stores images (1797, 8, 8) uint8 in 0..16, labels (1797,) uint8, and the default stratified test split
(test_size=0.2, random_state=0) as ``test_index`` so that split never depends on the NumPy version.
"""

import gzip
import sys
from pathlib import Path

import numpy as np

src = Path(sys.argv[1])
with gzip.open(src, "rt") as f:
    table = np.loadtxt(f, delimiter=",", dtype=np.int64)
images = table[:, :64].reshape(-1, 8, 8).astype(np.uint8)
labels = table[:, 64].astype(np.uint8)
assert images.shape == (1797, 8, 8) and images.max() == 16 and set(labels.tolist()) == set(range(10))

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from chainrule.data.digits import _stratified_test_index  # noqa: E402

test_index = _stratified_test_index(labels, 0.2, 0).astype(np.int16)
out = Path(__file__).with_name("digits.npz")
np.savez_compressed(out, images=images, labels=labels, test_index=test_index)
print(out, out.stat().st_size, "bytes")
