"""Standard image data sets: MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100 (spec: DATA-MNIST, DATA-CIFAR10,
DATA-CIFAR100).

Files are looked for in ``root``; without ``root``, in the directory named by an environment variable
(``CHAINRULE_MNIST_DIR``, ``CHAINRULE_FASHION_MNIST_DIR``, ``CHAINRULE_CIFAR10_DIR``,
``CHAINRULE_CIFAR100_DIR``), then ``../shared/data/<name>`` next to a source checkout, then
``~/.chainrule/data/<name>``. Gzipped IDX files are md5-checked against the published checksums;
``download=True`` fetches missing files from the standard mirrors with the same check.
"""

from __future__ import annotations

import os
import pickle
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import BatchGetter, Dataset
from .download import DownloadError, download, md5sum
from .idx import MAGIC_IMAGES, MAGIC_LABELS, IDXError, read_idx

__all__ = [
    "MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "load_mnist", "load_fashion_mnist",
    "CIFAR10_CLASSES", "CIFAR100_FINE_NAMES", "CIFAR100_COARSE_NAMES", "CIFAR100_FINE_TO_COARSE",
    "MNIST_CLASS_COUNTS",
]

_REPO_ROOT = Path(__file__).resolve().parents[2]
_U8_SCALE = np.float32(255.0)

# spec: DATA-MNIST -- published class counts (MNIST is not balanced, erratum N26)
MNIST_CLASS_COUNTS = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}


def _candidate_dirs(root: str | os.PathLike | None, env_var: str, name: str) -> list[Path]:
    if root is not None:
        return [Path(root).expanduser()]
    out = []
    env = os.environ.get(env_var)
    if env:
        out.append(Path(env).expanduser())
    out.append(_REPO_ROOT.parent / "shared" / "data" / name)
    out.append(Path.home() / ".chainrule" / "data" / name)
    return out


# ----------------------------------------------------------------------------- IDX (MNIST-format) sets
_idx_cache: dict[tuple, np.ndarray] = {}


def _find_file(directory: Path, gz_name: str) -> Path | None:
    for p in (directory / gz_name, directory / gz_name[:-3]):
        if p.is_file():
            return p
    return None


def _read_checked(path: Path, md5: str | None, magic: int, shape: tuple, fix: str) -> np.ndarray:
    """Read one IDX file, md5-checking gzipped files; cached per (path, mtime, size) within a process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, md5)
    arr = _idx_cache.get(key)
    if arr is None:
        if md5 is not None and path.name.endswith(".gz"):
            got = md5sum(path)
            if got != md5:
                raise ValueError(
                    f"{path}: md5 mismatch: expected {md5} (published checksum), got {got}; the file is "
                    f"corrupt, truncated or a different version. {fix}"
                )
        try:
            arr = read_idx(path, expected_magic=magic, expected_shape=shape)
        except IDXError as e:
            raise IDXError(f"{e}. {fix}") from None
        arr.flags.writeable = False
        _idx_cache[key] = arr
    return arr


class _IDXImageDataset(Dataset):
    """Common code of MNIST-format data sets (four IDX files: train/t10k images/labels)."""

    resources: dict[str, str] = {}
    mirrors: Sequence[str] = ()
    env_var = ""
    name = ""
    classes: Sequence[str] = ()

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, download: bool = False,
                 transform: Callable | None = None, target_transform: Callable | None = None):
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        self.root = self._locate(root, download)
        images, labels = self._load(self.root, self.train)
        self.data: np.ndarray = images.copy()
        self.targets: np.ndarray = labels.astype(np.int64)

    # -- files
    @classmethod
    def _files(cls, train: bool) -> tuple[str, str]:
        prefix = "train" if train else "t10k"
        return f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"

    @classmethod
    def _locate(cls, root: str | os.PathLike | None, want_download: bool) -> Path:
        names = list(cls.resources)
        cands = _candidate_dirs(root, cls.env_var, cls.name)
        for d in cands:
            if all(_find_file(d, n) is not None for n in names):
                return d
        if want_download:
            return cls.download(cands[0] if root is not None or os.environ.get(cls.env_var) else cands[-1])
        looked = ", ".join(str(d) for d in cands)
        raise FileNotFoundError(
            f"{cls.__name__}: files {names} not found (looked in: {looked}). Pass root= the directory "
            f"holding them, set {cls.env_var}, or use download=True to fetch them."
        )

    @classmethod
    def download(cls, root: str | os.PathLike) -> Path:
        """Fetch the missing files of this data set into ``root`` (md5-checked); returns ``root``."""
        root = Path(root).expanduser()
        for fname, md5 in cls.resources.items():
            errors = []
            for mirror in cls.mirrors:
                try:
                    download(mirror.rstrip("/") + "/" + fname, root, md5=md5)
                    break
                except DownloadError as e:
                    errors.append(str(e))
            else:
                raise DownloadError(
                    f"{cls.__name__}: could not download {fname} from any mirror:\n  " + "\n  ".join(errors)
                )
        return root

    @classmethod
    def _load(cls, root: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
        img_name, lab_name = cls._files(train)
        fix = (f"Delete it and download it again ({cls.__name__}(download=True) or the official "
               f"site), then check it against the published MD5SUMS.")
        img_path, lab_path = _find_file(root, img_name), _find_file(root, lab_name)
        if img_path is None or lab_path is None:
            raise FileNotFoundError(
                f"{cls.__name__}: {img_name} / {lab_name} not found in {root}; pass the directory that holds "
                f"them or download=True"
            )
        images = _read_checked(img_path, cls.resources.get(img_name), MAGIC_IMAGES, (None, 28, 28), fix)
        labels = _read_checked(lab_path, cls.resources.get(lab_name), MAGIC_LABELS, (None,), fix)
        if images.shape[0] != labels.shape[0]:
            raise IDXError(
                f"{cls.__name__}: {img_path} has {images.shape[0]} images but {lab_path} has "
                f"{labels.shape[0]} labels; expected the same count. {fix}"
            )
        if labels.size and labels.max() >= len(cls.classes):
            raise IDXError(
                f"{lab_path}: labels must lie in 0..{len(cls.classes) - 1}, found {int(labels.max())}. {fix}"
            )
        return images, labels

    # -- dataset protocol
    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img = self.data[index][None].astype(np.float32) / _U8_SCALE
        label: Any = int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return img, label

    def batch_getter(self) -> BatchGetter | None:
        if self.transform is not None or self.target_transform is not None:
            return None
        data, targets = self.data, self.targets
        return lambda idx: (data[idx][:, None].astype(np.float32) / _U8_SCALE, targets[idx])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, train={self.train}, n={len(self)})"


class MNIST(_IDXImageDataset):
    """MNIST handwritten digits: 60,000 train / 10,000 test 28x28 grey images (spec: DATA-MNIST).

    ``.data`` (N, 28, 28) uint8, ``.targets`` (N,) int64; ``ds[i]`` = (float32 image (1, 28, 28) in
    [0, 1], int label). Files: the four IDX .gz (or uncompressed) files, md5-checked.
    """

    resources = {  # published checksums (MD5SUMS)
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    mirrors = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
    env_var = "CHAINRULE_MNIST_DIR"
    name = "mnist"
    classes = tuple(str(i) for i in range(10))


class FashionMNIST(_IDXImageDataset):
    """Fashion-MNIST (Zalando): same format and sizes as MNIST, 10 clothing classes."""

    resources = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    env_var = "CHAINRULE_FASHION_MNIST_DIR"
    name = "fashion-mnist"
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")


def _load_arrays(cls: type[_IDXImageDataset], root: str | os.PathLike | None, split: str, flatten: bool,
                 normalize: bool, dtype: Any, download: bool) -> tuple[np.ndarray, np.ndarray]:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = cls._locate(root, download)
    images, labels = cls._load(directory, split == "train")
    x = images.astype(dtype)
    if normalize:
        x /= np.asarray(255.0, dtype=dtype)
    x = x.reshape(x.shape[0], -1) if flatten else x[:, None]
    return x, labels.astype(np.int64)


def load_mnist(root: str | os.PathLike | None = None, split: str = "train", flatten: bool = False,
               normalize: bool = True, dtype: Any = np.float32,
               download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """MNIST as arrays: X (N, 1, 28, 28) (or (N, 784) with ``flatten``), y (N,) int64 (spec: DATA-MNIST).

    ``normalize`` scales pixels to [0, 1] (else 0..255 in ``dtype``). Files are read and md5-checked once
    per process and cached, so repeated calls are fast.
    """
    return _load_arrays(MNIST, root, split, flatten, normalize, dtype, download)


def load_fashion_mnist(root: str | os.PathLike | None = None, split: str = "train", flatten: bool = False,
                       normalize: bool = True, dtype: Any = np.float32,
                       download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST as arrays, like :func:`load_mnist`."""
    return _load_arrays(FashionMNIST, root, split, flatten, normalize, dtype, download)


# ----------------------------------------------------------------------------- CIFAR
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# spec: DATA-CIFAR100 -- the 20 superclasses in coarse-label order with their 5 fine classes each
_CIFAR100_GROUPS = (
    ("aquatic_mammals", ("beaver", "dolphin", "otter", "seal", "whale")),
    ("fish", ("aquarium_fish", "flatfish", "ray", "shark", "trout")),
    ("flowers", ("orchid", "poppy", "rose", "sunflower", "tulip")),
    ("food_containers", ("bottle", "bowl", "can", "cup", "plate")),
    ("fruit_and_vegetables", ("apple", "mushroom", "orange", "pear", "sweet_pepper")),
    ("household_electrical_devices", ("clock", "keyboard", "lamp", "telephone", "television")),
    ("household_furniture", ("bed", "chair", "couch", "table", "wardrobe")),
    ("insects", ("bee", "beetle", "butterfly", "caterpillar", "cockroach")),
    ("large_carnivores", ("bear", "leopard", "lion", "tiger", "wolf")),
    ("large_man-made_outdoor_things", ("bridge", "castle", "house", "road", "skyscraper")),
    ("large_natural_outdoor_scenes", ("cloud", "forest", "mountain", "plain", "sea")),
    ("large_omnivores_and_herbivores", ("camel", "cattle", "chimpanzee", "elephant", "kangaroo")),
    ("medium_mammals", ("fox", "porcupine", "possum", "raccoon", "skunk")),
    ("non-insect_invertebrates", ("crab", "lobster", "snail", "spider", "worm")),
    ("people", ("baby", "boy", "girl", "man", "woman")),
    ("reptiles", ("crocodile", "dinosaur", "lizard", "snake", "turtle")),
    ("small_mammals", ("hamster", "mouse", "rabbit", "shrew", "squirrel")),
    ("trees", ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree")),
    ("vehicles_1", ("bicycle", "bus", "motorcycle", "pickup_truck", "train")),
    ("vehicles_2", ("lawn_mower", "rocket", "streetcar", "tank", "tractor")),
)
CIFAR100_COARSE_NAMES = tuple(g for g, _ in _CIFAR100_GROUPS)
CIFAR100_FINE_NAMES = tuple(sorted(f for _, fs in _CIFAR100_GROUPS for f in fs))  # apple = 0 ... worm = 99
_coarse_of = {f: c for c, (_, fs) in enumerate(_CIFAR100_GROUPS) for f in fs}
CIFAR100_FINE_TO_COARSE = np.array([_coarse_of[f] for f in CIFAR100_FINE_NAMES], dtype=np.int64)
CIFAR100_FINE_TO_COARSE.flags.writeable = False


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only plain containers and NumPy arrays: the CIFAR python batches hold nothing else.

    The CIFAR "python version" files are pickled dicts -- that is the *published data format*, so reading
    them needs pickle. Arbitrary classes are refused so a tampered file cannot run code. (pickle is used
    nowhere else in chainrule.)
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"), ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"), ("_codecs", "encode"), ("builtins", "bytearray"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            if module.startswith("numpy.core.") and hasattr(np, "_core"):
                module = "numpy._core." + module[len("numpy.core."):]  # NumPy 2 moved numpy.core
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of the CIFAR batch format")


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            obj = _RestrictedUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise
    except Exception as e:  # corrupt, truncated or foreign file
        raise ValueError(
            f"{path}: not a readable CIFAR python batch ({type(e).__name__}: {e}); delete the folder and "
            f"download/extract the archive again"
        ) from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a pickled dict (CIFAR python batch), found {type(obj).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _extract_tar(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        try:
            tar.extractall(dest, filter="data")
        except TypeError:  # Python without extraction filters: check members by hand
            base = dest.resolve()
            for m in tar.getmembers():
                target = (dest / m.name).resolve()
                if not (m.isfile() or m.isdir()) or not str(target).startswith(str(base)):
                    raise ValueError(f"{archive}: refusing unsafe archive member {m.name!r}") from None
            tar.extractall(dest)


class _CIFARBase(Dataset):
    base_folder = ""
    train_list: Sequence[str] = ()
    test_list: Sequence[str] = ()
    url = ""
    filename = ""
    tgz_md5 = ""
    env_var = ""
    name = ""

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, download: bool = False,
                 transform: Callable | None = None, target_transform: Callable | None = None):
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        self.folder = self._locate(root, download)
        self.root = self.folder
        datas, self._labels = [], {}
        for fname in (self.train_list if self.train else self.test_list):
            path = self.folder / fname
            d = _unpickle(path)
            datas.append(self._check_data(path, d))
            for key in self._label_keys():
                if key not in d:
                    raise ValueError(f"{path}: missing key {key!r} (found {sorted(map(str, d))})")
                lab = np.asarray(d[key], dtype=np.int64)
                if lab.shape != (datas[-1].shape[0],):
                    raise ValueError(
                        f"{path}: {key!r} has shape {lab.shape}, expected ({datas[-1].shape[0]},) to match "
                        f"the images"
                    )
                self._labels.setdefault(key, []).append(lab)
        self.data: np.ndarray = np.concatenate(datas) if datas else np.zeros((0, 3, 32, 32), np.uint8)
        self._labels = {k: np.concatenate(v) for k, v in self._labels.items()}

    def _label_keys(self) -> tuple[str, ...]:
        raise NotImplementedError

    @staticmethod
    def _check_data(path: Path, d: dict) -> np.ndarray:
        if "data" not in d:
            raise ValueError(f"{path}: missing key 'data' (found {sorted(map(str, d))})")
        data = np.asarray(d["data"])
        if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
            raise ValueError(
                f"{path}: 'data' must be uint8 of shape (N, 3072) (R, G, B planes of 32x32), found "
                f"{data.dtype} {data.shape}; the file is corrupt or of another format"
            )
        # spec: DATA-CIFAR10 -- each row is the R plane, then G, then B (1,024 row-major pixels each)
        return data.reshape(-1, 3, 32, 32)

    @classmethod
    def _locate(cls, root: str | os.PathLike | None, want_download: bool) -> Path:
        names = list(cls.train_list) + list(cls.test_list)
        cands = _candidate_dirs(root, cls.env_var, cls.name)
        for d in cands:
            for folder in (d / cls.base_folder, d):
                if all((folder / n).is_file() for n in names):
                    return folder
        if want_download:
            dest = cands[0] if root is not None or os.environ.get(cls.env_var) else cands[-1]
            archive = download(cls.url, dest, md5=cls.tgz_md5, filename=cls.filename)
            _extract_tar(archive, dest)
            return dest / cls.base_folder
        looked = ", ".join(str(d) for d in cands)
        raise FileNotFoundError(
            f"{cls.__name__}: python batch files {names} not found (looked in {looked}, and in their "
            f"{cls.base_folder}/ subfolder). Pass root=, set {cls.env_var}, or use download=True."
        )

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img = self.data[index].astype(np.float32) / _U8_SCALE
        label: Any = int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return img, label

    def batch_getter(self) -> BatchGetter | None:
        if self.transform is not None or self.target_transform is not None:
            return None
        data, targets = self.data, self.targets
        return lambda idx: (data[idx].astype(np.float32) / _U8_SCALE, targets[idx])


class CIFAR10(_CIFARBase):
    """CIFAR-10: 50,000 train / 10,000 test 32x32 colour images, 10 classes (spec: DATA-CIFAR10).

    Reads the python batches (``data_batch_1..5``, ``test_batch``) from ``root`` or
    ``root/cifar-10-batches-py``. ``.data`` (N, 3, 32, 32) uint8, ``.targets`` (N,) int64; ``ds[i]`` =
    (float32 image (3, 32, 32) in [0, 1], int label).
    """

    base_folder = "cifar-10-batches-py"
    train_list = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")
    test_list = ("test_batch",)
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    env_var = "CHAINRULE_CIFAR10_DIR"
    name = "cifar10"
    classes = CIFAR10_CLASSES

    def _label_keys(self) -> tuple[str, ...]:
        return ("labels",)

    @property
    def targets(self) -> np.ndarray:
        return self._labels["labels"]


class CIFAR100(_CIFARBase):
    """CIFAR-100: 100 fine classes in 20 superclasses (spec: DATA-CIFAR100).

    Reads ``train`` / ``test`` from ``root`` or ``root/cifar-100-python``. ``label='fine'`` (default) or
    ``'coarse'`` chooses ``.targets``; both are kept as ``.fine_targets`` / ``.coarse_targets``.
    ``fine_to_coarse[k]`` is the superclass of fine class k; names are ``classes`` (fine, alphabetical:
    apple = 0 ... worm = 99) and ``coarse_classes``.
    """

    base_folder = "cifar-100-python"
    train_list = ("train",)
    test_list = ("test",)
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    env_var = "CHAINRULE_CIFAR100_DIR"
    name = "cifar100"
    fine_classes = CIFAR100_FINE_NAMES
    coarse_classes = CIFAR100_COARSE_NAMES
    fine_to_coarse = CIFAR100_FINE_TO_COARSE

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, label: str = "fine",
                 download: bool = False, transform: Callable | None = None,
                 target_transform: Callable | None = None):
        if label not in ("fine", "coarse"):
            raise ValueError(f"CIFAR100: label must be 'fine' or 'coarse', got {label!r}")
        self.label = label
        super().__init__(root, train, download, transform, target_transform)

    def _label_keys(self) -> tuple[str, ...]:
        return ("fine_labels", "coarse_labels")

    @property
    def classes(self) -> tuple[str, ...]:
        return self.fine_classes if self.label == "fine" else self.coarse_classes

    @property
    def fine_targets(self) -> np.ndarray:
        return self._labels["fine_labels"]

    @property
    def coarse_targets(self) -> np.ndarray:
        return self._labels["coarse_labels"]

    @property
    def targets(self) -> np.ndarray:
        return self.fine_targets if self.label == "fine" else self.coarse_targets
