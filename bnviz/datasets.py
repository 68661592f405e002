"""Datasets: built-in toy problems, the classic image sets and your own npz/csv files.

`load_dataset(cfg)` is the one entry point. Everything it returns is float32 features and
int64 class indices, already split and preprocessed, so the model code never has to care
where the data came from. Every problem with the data surfaces as a `DatasetError` whose
message a user can act on; numpy/pandas tracebacks never escape.

Slow imports (scikit-learn, pandas, and above all Keras) happen only in the code paths
that need them: the dashboard imports this module on start-up.
"""

from __future__ import annotations

import functools
import gzip
import os
import pickle
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np

from bnviz.config import DatasetConfig
from bnviz.errors import UserError

__all__ = [
    "DATASET_INFO",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "clear_cache",
    "data_dir",
    "load_dataset",
    "read_idx_gz",
    "write_idx_gz",
]

ENV_DATA_DIR = "BNVIZ_DATA_DIR"
ENV_OFFLINE = "BNVIZ_OFFLINE"


class DatasetError(UserError):
    """A dataset could not be loaded; the one-line message says what is wrong and what to do."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A split, preprocessed classification dataset (arrays are the caller's own copies)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    class_names: tuple[str, ...]
    kind: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.kind == "image"


@dataclass(frozen=True)
class DatasetInfo:
    """What the UI shows about a dataset before loading it. kind "any": decided by the file."""

    title: str
    description: str
    kind: str
    n_train: int | None
    n_test: int | None
    downloadable: bool


DATASET_INFO: dict[str, DatasetInfo] = {
    "circles": DatasetInfo(
        "Circles", "Two concentric noisy rings of 2-D points (scikit-learn make_circles).",
        "tabular", 500, 500, False),
    "moons": DatasetInfo(
        "Moons", "Two interleaving half-moons of 2-D points (scikit-learn make_moons).",
        "tabular", 500, 500, False),
    "spirals": DatasetInfo(
        "Spirals", "Two interleaved 2-D spirals; noise sets how much the points scatter.",
        "tabular", 500, 500, False),
    "blobs": DatasetInfo(
        "Blobs", "One Gaussian cluster of 2-D points per class (scikit-learn make_blobs).",
        "tabular", 500, 500, False),
    "digits": DatasetInfo(
        "Digits 8x8", "1,797 small 8x8 handwritten digits bundled with scikit-learn.",
        "image", 1437, 360, False),
    "mnist": DatasetInfo(
        "MNIST", "70,000 28x28 grey-scale handwritten digits, 10 classes.",
        "image", 60000, 10000, True),
    "fashion_mnist": DatasetInfo(
        "Fashion-MNIST", "70,000 28x28 grey-scale photos of clothing, 10 classes.",
        "image", 60000, 10000, True),
    "cifar10": DatasetInfo(
        "CIFAR-10", "60,000 32x32 colour photos (planes, cars, animals...), 10 classes.",
        "image", 50000, 10000, True),
    "npz": DatasetInfo(
        "Your .npz", "Your own arrays: an .npz file with x_train, y_train, x_test and y_test.",
        "any", None, None, False),
    "csv": DatasetInfo(
        "Your .csv", "Your own table: numeric feature columns plus a label column; 20% held out.",
        "tabular", None, None, False),
}

_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "circles": ("outer", "inner"),
    "moons": ("upper", "lower"),
    "spirals": ("spiral A", "spiral B"),
    "mnist": tuple(str(i) for i in range(10)),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer",
                "dog", "frog", "horse", "ship", "truck"),
}

_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_TAR = "cifar-10-python.tar.gz"
_IMAGE_SHAPE = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
Selection = tuple[Any, Any]  # rows of (train, test) a config uses: slices or index arrays
_READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, zipfile.BadZipFile,
                pickle.UnpicklingError, tarfile.TarError, KeyError, TypeError, AttributeError)


@dataclass(frozen=True, eq=False)
class _Raw:
    """Arrays as stored in the source, before selection and preprocessing (read-only, cached)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    kind: str
    pixel_max: float | None = None  # images: largest possible value, the divisor of "auto"


# --- public helpers --------------------------------------------------------


def data_dir() -> Path | None:
    """The local data folder from BNVIZ_DATA_DIR, or None when it is not set."""
    value = os.environ.get(ENV_DATA_DIR, "").strip()
    return Path(value).expanduser() if value else None


def clear_cache() -> None:
    """Forget every array read so far (files are re-read on the next load)."""
    for fn in (_generate, _digits, _read_idx_files, _read_cifar_dir, _read_cifar_tar,
               _read_keras_mnist, _read_npz, _read_csv):
        fn.cache_clear()


def write_idx_gz(path: str | Path, array: np.ndarray, compresslevel: int = 6) -> None:
    """Write uint8 images or labels as a gzip IDX file, the format MNIST is distributed in."""
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        if arr.dtype.kind not in "biu" or (arr.size and (arr.min() < 0 or arr.max() > 255)):
            raise ValueError(f"IDX files here hold bytes 0..255; got {arr.dtype} values outside that")
        arr = arr.astype(np.uint8)
    if not 1 <= arr.ndim <= 255:
        raise ValueError(f"IDX arrays need 1 to 255 dimensions, got {arr.ndim}")
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=compresslevel,
                                                mtime=0) as out:
        out.write(header)
        out.write(np.ascontiguousarray(arr).tobytes())


def read_idx_gz(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or not) as a read-only uint8 array; DatasetError if damaged."""
    return _read_idx(Path(path))


# --- entry point -----------------------------------------------------------


def load_dataset(
    cfg: DatasetConfig, *, data_dir: str | Path | None = None, allow_download: bool | None = None
) -> Dataset:
    """Load, split and preprocess the dataset `cfg` describes."""
    raw, (tr, te) = _load_raw(cfg, data_dir, allow_download)
    x_train, y_train = raw.x_train[tr], raw.y_train[tr]
    x_test, y_test = raw.x_test[te], raw.y_test[te]
    x_train, x_test = _preprocess(x_train, x_test, cfg.preprocessing, raw.kind, raw.pixel_max)
    return Dataset(
        name=cfg.name,
        x_train=x_train,
        y_train=y_train.astype(np.int64),
        x_test=x_test,
        y_test=y_test.astype(np.int64),
        n_classes=len(raw.class_names),
        class_names=raw.class_names,
        kind=raw.kind,
    )


def _load_raw(cfg: DatasetConfig, directory: str | Path | None,
              allow_download: bool | None) -> tuple[_Raw, Selection]:
    """The cached source arrays plus which rows of them this config uses."""
    name = cfg.name
    if name in ("circles", "moons", "spirals", "blobs"):
        n_train, n_test = cfg.n_train or 500, cfg.n_test or 500
        n_classes = cfg.n_classes if name == "blobs" else 2
        raw = _generate(name, n_train, n_test, cfg.noise, cfg.seed, n_classes)
        return raw, (slice(None), slice(None))
    if name == "digits":
        return _digits_split(cfg)
    if name == "npz":
        raw = _read_npz(*_file_key(cfg.path, "npz"))
        return raw, _first_n(name, raw, cfg.n_train, cfg.n_test)
    if name == "csv":
        return _csv_split(cfg)
    raw = _load_downloadable(name, directory, allow_download)
    return raw, _first_n(name, raw, cfg.n_train, cfg.n_test)


def _first_n(name: str, raw: _Raw, n_train: int | None, n_test: int | None) -> Selection:
    """The first n examples of each split, in file order (None = all)."""
    for n, have, split in ((n_train, len(raw.y_train), "training"), (n_test, len(raw.y_test), "test")):
        if n is not None and n > have:
            key = "n_train" if split == "training" else "n_test"
            raise DatasetError(f"{name} has {have} {split} examples; {key}={n} asks for more "
                               f"(use at most {have}, or leave it empty for all)")
    return slice(0, n_train), slice(0, n_test)


def _readonly(*arrays: np.ndarray) -> None:
    for arr in arrays:
        arr.flags.writeable = False


# --- preprocessing -----------------------------------------------------------


def _preprocess(x_train: np.ndarray, x_test: np.ndarray, mode: str, kind: str,
                pixel_max: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Scale features as the config asks; statistics always come from the training split."""
    x_train, x_test = x_train.astype(np.float32), x_test.astype(np.float32)  # fresh copies
    if mode == "raw" or (mode == "auto" and kind != "image"):
        return x_train, x_test
    if mode in ("auto", "unit") and kind == "image":
        shift, scale = np.float32(0.0), np.float32(pixel_max or 1.0)
    else:
        # images: one statistic per channel; tabular: one per feature
        axes = tuple(range(x_train.ndim - 1)) if kind == "image" else (0,)
        if mode == "unit":
            shift = x_train.min(axis=axes)
            scale = x_train.max(axis=axes) - shift
        else:
            shift = x_train.mean(axis=axes, dtype=np.float64).astype(np.float32)
            scale = x_train.std(axis=axes, dtype=np.float64).astype(np.float32)
        scale[scale == 0] = 1.0
    for x in (x_train, x_test):  # in place: image sets are big
        x -= shift
        x /= scale
    return x_train, x_test


# --- built-in generators -------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _generate(name: str, n_train: int, n_test: int, noise: float, seed: int, n_classes: int) -> _Raw:
    """2-D toy problems; the first n_train rows train, the rest test (as in the tutorials)."""
    from sklearn import datasets as skd  # slow import, only needed here

    n = n_train + n_test
    if name == "circles":
        x, y = skd.make_circles(n_samples=n, noise=noise, random_state=seed)
    elif name == "moons":
        x, y = skd.make_moons(n_samples=n, noise=noise, random_state=seed)
    elif name == "blobs":
        x, y = skd.make_blobs(n_samples=n, centers=n_classes, random_state=seed)
    else:
        x, y = _spirals(n, noise, seed)
    names = _CLASS_NAMES.get(name) or tuple(str(i) for i in range(n_classes))
    raw = _Raw(x[:n_train], y[:n_train], x[n_train:], y[n_train:], names, "tabular")
    _readonly(raw.x_train, raw.y_train, raw.x_test, raw.y_test)
    return raw


def _spirals(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two arms of 1.5 turns each, half a turn apart, radius <= 1; noise = std of the jitter."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    turn = np.sqrt(rng.uniform(0.0, 1.0, n))  # sqrt: even density along the arm
    angle = turn * 3.0 * np.pi + np.pi * y
    x = np.stack([turn * np.cos(angle), turn * np.sin(angle)], axis=1)
    x += rng.normal(0.0, noise, size=x.shape)
    return x, y


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x, y = bunch.images[..., None], bunch.target
    _readonly(x, y)
    return x, y


def _digits_split(cfg: DatasetConfig) -> tuple[_Raw, Selection]:
    """Shuffle with the seed; test = the last n_test, so it stays put when n_train changes."""
    x, y = _digits()
    total = len(y)
    n_test = cfg.n_test or 360
    n_train = cfg.n_train or max(total - n_test, 0)
    if n_train + n_test > total:
        raise DatasetError(f"digits has {total} images; n_train={n_train} plus n_test={n_test} is "
                           f"{n_train + n_test} (the default split is 1437 + 360)")
    order = np.random.default_rng(cfg.seed).permutation(total)
    raw = _Raw(x, y, x, y, tuple(str(i) for i in range(10)), "image", pixel_max=16.0)
    return raw, (order[:n_train], order[total - n_test:])


# --- downloadable image sets ---------------------------------------------------


def _load_downloadable(name: str, directory: str | Path | None, allow_download: bool | None) -> _Raw:
    """Local data dir first, then Keras' cache, then a download through Keras."""
    local = Path(directory).expanduser() if directory is not None else data_dir()
    if local is not None:
        found = _find_local(name, local)
        if found is not None:
            return _read_source(name, *found)
    cache = _keras_cache_dir()
    found = _find_keras_cache(name, cache)
    if found is not None:
        return _read_source(name, *found)
    offline = os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")
    if allow_download is False or (allow_download is None and offline):
        why = "downloading is disabled" + (f" ({ENV_OFFLINE}=1)" if allow_download is None else "")
        raise _not_available(name, f"{why} and it is not in the Keras cache ({cache})", local)
    try:
        arrays = _keras_load(name)
    except Exception as exc:  # no internet, proxy, disk full, bad archive: all mean "not available"
        raise _not_available(name, f"the download failed ({_short(exc)})", local) from exc
    return _raw_images(name, *arrays, where="the Keras download")


def _keras_load(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keras' own loader (downloads into Keras' cache); imported here because Keras is slow."""
    from keras import datasets as keras_datasets

    (x_train, y_train), (x_test, y_test) = getattr(keras_datasets, name).load_data()
    return x_train, y_train, x_test, y_test


def _keras_cache_dir() -> Path:
    """Where Keras keeps downloads: $KERAS_HOME/datasets or ~/.keras/datasets (/tmp if read-only)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    if not os.access(home, os.W_OK):
        home = os.path.join("/tmp", ".keras")
    return Path(home) / "datasets"


def _find_local(name: str, root: Path) -> tuple[Callable[..., Any], tuple[Path, ...]] | None:
    """The reader and files of `name` under the data dir; partial sets are an error."""
    if name == "cifar10":
        for folder in (root / "cifar10", root):
            found = _find_cifar(folder, strict=True)
            if found:
                return found
        return None
    folders = (root / "mnist", root) if name == "mnist" else (root / "fashion_mnist", root / "fashion-mnist")
    for folder in folders:
        files = _find_idx(folder, strict=True)
        if files:
            return _read_idx_files, files
    return None


def _find_keras_cache(name: str, cache: Path) -> tuple[Callable[..., Any], tuple[Path, ...]] | None:
    """The files Keras' loaders leave behind, if all of them are there."""
    if name == "mnist":
        path = cache / "mnist.npz"
        return (_read_keras_mnist, (path,)) if path.is_file() else None
    if name == "fashion_mnist":
        files = _find_idx(cache / "fashion-mnist", strict=False)
        return (_read_idx_files, files) if files else None
    return _find_cifar(cache / "cifar-10-batches-py-target", strict=False)


def _find_idx(folder: Path, strict: bool) -> tuple[Path, ...] | None:
    """The four IDX files (gzipped or not) in folder; None if there are none at all."""
    if not folder.is_dir():
        return None
    found = {}
    for stem in _IDX_FILES:
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                found[stem] = candidate
                break
    if not found:
        return None
    missing = [f"{stem}.gz" for stem in _IDX_FILES if stem not in found]
    if missing:
        if not strict:
            return None
        raise DatasetError(f"{folder} holds only part of the dataset: missing {', '.join(missing)} "
                           f"(all four of {', '.join(s + '.gz' for s in _IDX_FILES)} are needed)")
    return tuple(found[stem] for stem in _IDX_FILES)


def _find_cifar(folder: Path, strict: bool) -> tuple[Callable[..., Any], tuple[Path, ...]] | None:
    batches = folder / _CIFAR_DIR
    if batches.is_dir():
        missing = [f for f in _CIFAR_FILES if not (batches / f).is_file()]
        if not missing:
            return _read_cifar_dir, tuple(batches / f for f in _CIFAR_FILES)
        if strict:
            raise DatasetError(f"{batches} holds only part of CIFAR-10: missing {', '.join(missing)}")
    if (folder / _CIFAR_TAR).is_file():
        return _read_cifar_tar, (folder / _CIFAR_TAR,)
    return None


def _read_source(name: str, reader: Callable[..., Any], files: tuple[Path, ...]) -> _Raw:
    """Read through the in-process cache, keyed by the files' paths, sizes and mtimes."""
    arrays = reader(tuple(str(f) for f in files), _stamp(files))
    return _raw_images(name, *arrays, where=str(files[0].parent))


def _stamp(files: tuple[Path, ...]) -> tuple[tuple[int, int], ...]:
    try:
        stats = [f.stat() for f in files]
    except OSError as exc:
        raise DatasetError(f"cannot read {exc.filename}: {exc.strerror}") from None
    return tuple((st.st_mtime_ns, st.st_size) for st in stats)


def _raw_images(name: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                y_test: np.ndarray, where: str) -> _Raw:
    """Check shapes and labels of an image set and give it a channel axis."""
    shape = _IMAGE_SHAPE[name]
    out = []
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        x, y = np.asarray(x), np.asarray(y).reshape(-1)
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim == 4 and x.shape[1] == shape[2] and x.shape[-1] != shape[2]:
            x = x.transpose(0, 2, 3, 1)  # channels-first (Keras with image_data_format set so)
        if x.shape[1:] != shape or len(x) != len(y) or len(y) == 0:
            raise DatasetError(f"{name} from {where}: {split} images have shape {x.shape} and "
                               f"{len(y)} labels; expected (N, {', '.join(map(str, shape))}) and N labels")
        if y.min() < 0 or y.max() > 9:
            raise DatasetError(f"{name} from {where}: {split} labels must be 0..9, found {y.min()}..{y.max()}")
        out += [x, y]
    raw = _Raw(*out, class_names=_CLASS_NAMES[name], kind="image", pixel_max=255.0)
    _readonly(raw.x_train, raw.y_train, raw.x_test, raw.y_test)
    return raw


def _not_available(name: str, reason: str, local: Path | None) -> DatasetError:
    """Say what failed and exactly which files to put where to load it without a download."""
    sub = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10"}[name]
    if name == "cifar10":
        files = f"the {_CIFAR_DIR} folder ({', '.join(_CIFAR_FILES)}) or {_CIFAR_TAR}"
    else:
        files = ", ".join(f"{stem}.gz" for stem in _IDX_FILES)
    env = os.environ.get(ENV_DATA_DIR)
    current = f"currently {env!r}" if env else "currently unset"
    folder = f"{local / sub}/" if local is not None else f"DIR/{sub}/ and set {ENV_DATA_DIR}=DIR"
    return DatasetError(f"{name} could not be loaded: {reason}. To use local files, put {files} "
                        f"in {folder} ({ENV_DATA_DIR} is {current})")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no details"
    text = text if len(text) <= 120 else text[:117] + "..."
    return f"{type(exc).__name__}: {text}"


# --- file readers (cached; the stamp argument only keys the cache) -------------


@functools.lru_cache(maxsize=4)
def _read_idx_files(paths: tuple[str, ...], stamp: tuple) -> tuple[np.ndarray, ...]:
    """Four IDX files: train images, train labels, test images, test labels."""
    del stamp
    arrays = [_read_idx(Path(p), ndim) for p, ndim in zip(paths, (3, 1, 3, 1))]
    for images, labels in ((arrays[0], arrays[1]), (arrays[2], arrays[3])):
        if len(images) != len(labels):
            raise DatasetError(f"{Path(paths[0]).parent}: {len(images)} images but {len(labels)} labels "
                               f"in one split; the image and label files do not belong together")
    return tuple(arrays)


def _read_idx(path: Path, ndim: int | None = None) -> np.ndarray:
    """Parse an IDX file (the MNIST format: magic, big-endian sizes, then raw bytes)."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path} cannot be read as a gzip IDX file ({_short(exc)}); "
                           f"replace it with the original download") from None
    what = {3: "images", 1: "labels"}.get(ndim or 0, "values")
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise DatasetError(f"{path} is not an IDX file of bytes (bad magic number); "
                           f"replace it with the original download")
    if ndim is not None and data[3] != ndim:
        raise DatasetError(f"{path} has {data[3]} dimensions but {what} need {ndim}; is it the right file?")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path} is truncated (incomplete header); replace it with the original download")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise DatasetError(f"{path} is truncated or damaged: its header promises {expected} bytes of "
                           f"{what}, it holds {len(data) - header}; replace it with the original download")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


@functools.lru_cache(maxsize=2)
def _read_keras_mnist(paths: tuple[str, ...], stamp: tuple) -> tuple[np.ndarray, ...]:
    """mnist.npz as Keras caches it."""
    del stamp
    try:
        with np.load(paths[0], allow_pickle=False) as f:
            return tuple(f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    except _READ_ERRORS as exc:
        raise DatasetError(f"the cached {paths[0]} is damaged ({_short(exc)}); delete it to download "
                           f"it again") from None


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and nothing else, so a tampered file cannot run code."""

    _ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset({
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
                ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")})

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module.replace("numpy.core.", "numpy._core."), name)


def _read_cifar_batch(f: IO[bytes], where: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled CIFAR batch: {b"data": uint8 (N, 3072), b"labels": [N ints]} -> NHWC images."""
    try:
        batch = _ArrayUnpickler(f, encoding="bytes").load()
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
    except _READ_ERRORS as exc:
        raise DatasetError(f"{where} is not a CIFAR-10 batch ({_short(exc)}); "
                           f"replace it with the original download") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise DatasetError(f"{where} is not a CIFAR-10 batch: data {data.dtype} {data.shape}, "
                           f"{labels.size} labels (expected uint8 (N, 3072) and N labels)")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _join_cifar(batches: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    x_train = np.concatenate([b[0] for b in batches[:-1]])
    y_train = np.concatenate([b[1] for b in batches[:-1]])
    return x_train, y_train, batches[-1][0], batches[-1][1]


@functools.lru_cache(maxsize=2)
def _read_cifar_dir(paths: tuple[str, ...], stamp: tuple) -> tuple[np.ndarray, ...]:
    del stamp
    batches = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                batches.append(_read_cifar_batch(f, path))
        except OSError as exc:
            raise DatasetError(f"cannot read {path}: {exc.strerror}") from None
    return _join_cifar(batches)


@functools.lru_cache(maxsize=2)
def _read_cifar_tar(paths: tuple[str, ...], stamp: tuple) -> tuple[np.ndarray, ...]:
    """The batches straight out of cifar-10-python.tar.gz, without extracting it."""
    del stamp
    path = paths[0]
    try:
        with tarfile.open(path, "r:gz") as tar:
            names = set(tar.getnames())
            missing = [f for f in _CIFAR_FILES if f"{_CIFAR_DIR}/{f}" not in names]
            if missing:
                raise DatasetError(f"{path} lacks {', '.join(missing)}; is it cifar-10-python.tar.gz?")
            batches = []
            for f in _CIFAR_FILES:
                member = tar.extractfile(f"{_CIFAR_DIR}/{f}")
                batches.append(_read_cifar_batch(member, f"{path}:{f}"))
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise DatasetError(f"{path} cannot be read as a tar.gz archive ({_short(exc)}); "
                           f"replace it with the original download") from None
    return _join_cifar(batches)


# --- your own files ----------------------------------------------------------------


def _file_key(path: str | None, kind: str) -> tuple[str, tuple]:
    """Resolved path plus size/mtime, so an edited file is re-read."""
    file = Path(path or "").expanduser()
    if not file.is_file():
        what = "is a folder, not a file" if file.is_dir() else "does not exist"
        raise DatasetError(f"{kind} file {str(file)!r} {what}; give the path of a .{kind} file")
    resolved = file.resolve()
    return str(resolved), _stamp((resolved,))


_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@functools.lru_cache(maxsize=4)
def _read_npz(path: str, stamp: tuple) -> _Raw:
    """A user .npz: validated once, then cached."""
    del stamp
    arrays = _open_npz(path)
    for key in _NPZ_KEYS:
        if arrays[key].dtype.kind not in "biuf":
            raise DatasetError(f"{path}: {key} has dtype {arrays[key].dtype}; x and y must be numeric arrays")
    x_train, x_test = _npz_features(path, arrays["x_train"], arrays["x_test"])
    y_train = _npz_labels(path, "train", arrays["y_train"], len(x_train))
    y_test = _npz_labels(path, "test", arrays["y_test"], len(x_test))
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    names = _npz_class_names(path, arrays.get("class_names"), n_classes)
    if len(np.unique(np.concatenate([y_train, y_test]))) < 2:
        raise DatasetError(f"{path}: all labels are {y_train[0]}; a classifier needs at least 2 classes")
    kind = "image" if x_train.ndim == 4 else "tabular"
    raw = _Raw(x_train, y_train, x_test, y_test, names, kind, _pixel_max(x_train) if kind == "image" else None)
    _readonly(raw.x_train, raw.y_train, raw.x_test, raw.y_test)
    return raw


def _open_npz(path: str) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise DatasetError(f"{path} is not a readable .npz file ({_npz_reason(exc, whole_file=True)}); "
                           f"save it with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)") from None
    if isinstance(loaded, np.ndarray):
        raise DatasetError(f"{path} holds a single array (.npy); save the four arrays with "
                           f"np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)")
    with loaded:
        missing = [k for k in _NPZ_KEYS if k not in loaded.files]
        if missing:
            raise DatasetError(f"{path} lacks {', '.join(missing)}; it holds "
                               f"{', '.join(loaded.files) or 'no arrays'} (needed: {', '.join(_NPZ_KEYS)})")
        wanted = [k for k in (*_NPZ_KEYS, "class_names") if k in loaded.files]
        out = {}
        for key in wanted:
            try:
                out[key] = loaded[key]
            except _READ_ERRORS as exc:
                reason = _npz_reason(exc, whole_file=False)
                raise DatasetError(f"{path}: array {key!r} cannot be read ({reason})") from None
    return out


def _npz_reason(exc: BaseException, whole_file: bool) -> str:
    """numpy's "pickled data" means: a whole file that is no npz/npy, or one object array."""
    if "pickle" not in str(exc).lower():
        return _short(exc)
    if whole_file:
        return "it is neither an .npz archive nor an .npy array"
    return "it holds Python objects (dtype=object), which are not unpickled for safety; store numeric arrays"


def _npz_features(path: str, x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2-D = tabular, 3-D = grey images (channel axis added), 4-D = images (N, H, W, C)."""
    if x_train.ndim == 3:
        x_train = x_train[..., None]
        if x_test.ndim == 3:
            x_test = x_test[..., None]
    if x_train.ndim not in (2, 4):
        raise DatasetError(f"{path}: x_train has shape {x_train.shape}; use (N, features) for tables or "
                           f"(N, height, width[, channels]) for images")
    if x_test.shape[1:] != x_train.shape[1:]:
        raise DatasetError(f"{path}: x_test examples have shape {x_test.shape[1:]} but x_train examples "
                           f"{x_train.shape[1:]}; they must match")
    for key, x in (("x_train", x_train), ("x_test", x_test)):
        if len(x) == 0:
            raise DatasetError(f"{path}: {key} is empty; both splits need at least one example")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise DatasetError(f"{path}: {key} contains NaN or infinite values; clean them first")
    return x_train, x_test


def _npz_labels(path: str, split: str, y: np.ndarray, n: int) -> np.ndarray:
    key = f"y_{split}"
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DatasetError(f"{path}: {key} has shape {y.shape}; labels must be class indices of shape (N,) "
                           f"(not one-hot)")
    if len(y) != n:
        raise DatasetError(f"{path}: {key} has {len(y)} labels but x_{split} has {n} examples; "
                           f"the lengths must match")
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise DatasetError(f"{path}: {key} holds non-integer values; labels must be class indices 0, 1, 2, ...")
    if y.min() < 0:
        raise DatasetError(f"{path}: {key} holds negative labels ({y.min()}); labels must be 0, 1, 2, ...")
    if y.max() >= 10_000:
        raise DatasetError(f"{path}: {key} holds label {y.max()}; labels must be class indices 0..K-1")
    return y.astype(np.int64)


def _npz_class_names(path: str, names: np.ndarray | None, n_classes: int) -> tuple[str, ...]:
    """Optional `class_names` text array; otherwise "0", "1", ..."""
    if names is None:
        return tuple(str(i) for i in range(n_classes))
    if names.ndim != 1 or len(names) < n_classes:
        raise DatasetError(f"{path}: class_names has {names.size} entries but the labels go up to "
                           f"{n_classes - 1}; give one name per class")
    return tuple(str(n) for n in names)


def _pixel_max(x: np.ndarray) -> float:
    """The largest possible pixel value: 255 for bytes and 0..255 data, 1 for 0..1 data."""
    if x.dtype == np.uint8:
        return 255.0
    top = float(x.max()) if x.size else 1.0
    if top <= 1.0:
        return 1.0
    return max(255.0, top)


@functools.lru_cache(maxsize=4)
def _read_csv(path: str, stamp: tuple, label_column: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Features (float64), class indices and class names of a user .csv."""
    del stamp
    import pandas as pd  # only needed here

    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{path} is empty; it needs a header row and data rows") from None
    except (*_READ_ERRORS, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} cannot be read as CSV ({_short(exc)})") from None
    if label_column not in frame.columns:
        cols = ", ".join(map(str, frame.columns[:20]))
        raise DatasetError(f"{path} has no column {label_column!r} (columns: {cols}); "
                           f"set dataset.label_column to the column holding the classes")
    features = frame.drop(columns=[label_column])
    if features.shape[1] == 0 or len(frame) < 2:
        raise DatasetError(f"{path} needs at least 2 rows and 1 feature column besides {label_column!r}; "
                           f"it has {len(frame)} rows and {features.shape[1]} feature columns")
    _check_csv_features(path, features)
    x = features.to_numpy(dtype=np.float64)
    y, names = _csv_labels(path, frame[label_column], label_column)
    _readonly(x, y)
    return x, y, names


def _check_csv_features(path: str, features: Any) -> None:
    from pandas.api.types import is_numeric_dtype

    text = [str(c) for c in features.columns if not is_numeric_dtype(features[c])]
    if text:
        example = features[text[0]].dropna().astype(str).head(1).tolist()
        shown = f" (e.g. {example[0]!r})" if example else ""
        raise DatasetError(f"{path}: feature columns must be numeric; not numeric: {', '.join(text[:5])}"
                           f"{shown}. Encode or drop them")
    nan_rows = features.isna().any(axis=1)
    if nan_rows.any():
        cols = [str(c) for c in features.columns[features.isna().any()]]
        raise DatasetError(f"{path} has missing values in {int(nan_rows.sum())} rows (columns: "
                           f"{', '.join(cols[:5])}); fill or drop them first")
    if not np.isfinite(features.to_numpy(dtype=np.float64)).all():
        raise DatasetError(f"{path} has infinite values; clean them first")


def _csv_labels(path: str, labels: Any, column: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Sorted distinct labels become class 0, 1, ...; the names keep their text."""
    from pandas.api.types import is_numeric_dtype

    if labels.isna().any():
        raise DatasetError(f"{path}: label column {column!r} has {int(labels.isna().sum())} empty values")
    if is_numeric_dtype(labels):
        values = labels.to_numpy(dtype=np.float64)
        if not (np.isfinite(values).all() and (values == np.round(values)).all()):
            raise DatasetError(f"{path}: label column {column!r} holds non-integer numbers; "
                               f"it must hold class labels, not a continuous target")
        classes = np.unique(values)
        names = tuple(str(int(v)) for v in classes)
    else:
        values = labels.astype(str).to_numpy()
        classes = np.unique(values)
        names = tuple(str(v) for v in classes)
    if len(classes) < 2:
        raise DatasetError(f"{path}: label column {column!r} has only one class ({names[0]!r}); "
                           f"a classifier needs at least 2")
    return np.searchsorted(classes, values).astype(np.int64), names


def _csv_split(cfg: DatasetConfig) -> tuple[_Raw, Selection]:
    """Shuffle with the seed; test = n_test rows (default 20%), train = the rest, capped by n_train."""
    x, y, names = _read_csv(*_file_key(cfg.path, "csv"), cfg.label_column)
    total = len(y)
    n_test = cfg.n_test or max(1, round(0.2 * total))
    if n_test >= total:
        raise DatasetError(f"{cfg.path} has {total} rows; n_test={n_test} leaves none for training")
    available = total - n_test
    n_train = cfg.n_train or available
    if n_train > available:
        raise DatasetError(f"{cfg.path} has {total} rows, {available} left for training after {n_test} "
                           f"test rows; n_train={n_train} asks for more")
    order = np.random.default_rng(cfg.seed).permutation(total)
    raw = _Raw(x, y, x, y, names, "tabular")
    return raw, (order[:n_train], order[available:])
