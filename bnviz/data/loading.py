"""Datasets: built-in toy problems, the classic image sets and your own npz/csv files.

`load_dataset(cfg)` is the one entry point. Everything it returns is float32 features and
int64 class indices, already split and preprocessed, so the model code never has to care
where the data came from. Every problem with the data surfaces as a `DatasetError` whose
message a user can act on; numpy/pandas tracebacks never escape.

The readers live beside this module: `bnviz.data.image_files` (MNIST, Fashion-MNIST, CIFAR-10
files), `bnviz.data.uploads` (your own files, and `inspect_upload` to see one before training).
Slow imports (scikit-learn, pandas, and above all Keras) happen only in the code paths
that need them: the dashboard imports this module on start-up.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bnviz.config import DatasetConfig
from bnviz.data import image_files, uploads
from bnviz.data.image_files import ENV_DATA_DIR, read_idx_gz, write_idx_gz
from bnviz.data.source import DatasetError, RawData, Selection, readonly, short
from bnviz.data.uploads import UploadSummary, inspect_upload
from bnviz.settings import settings, variable

__all__ = [
    "DATASET_INFO",
    "ENV_DATA_DIR",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "UploadSummary",
    "clear_cache",
    "data_dir",
    "inspect_upload",
    "load_dataset",
    "read_idx_gz",
    "write_idx_gz",
]

ENV_OFFLINE = variable("offline")


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
    split: str = ""  # your own files: where the test split came from ("split 80/20 stratified, seed 1 ...")
    notes: tuple[str, ...] = ()  # your own files: what was adjusted (limits larger than the file, ...)

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
        "Your .npz", "Your own arrays: np.savez(path, x=X, y=y), or x_train, y_train with optional x_test, "
        "y_test. Without a test split, 20% of each class is held out.",
        "any", None, None, False),
    "csv": DatasetInfo(
        "Your .csv", "Your own table: numeric feature columns plus a label column (numbers or text); "
        "20% of each class is held out.",
        "tabular", None, None, False),
}
_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "circles": ("outer", "inner"),
    "moons": ("upper", "lower"),
    "spirals": ("spiral A", "spiral B"),
}


# --- public helpers --------------------------------------------------------


def data_dir() -> Path | None:
    """The local data folder from BNVIZ_DATA_DIR, or None when it is not set."""
    return settings().data_dir


def clear_cache() -> None:
    """Forget every array read so far (files are re-read on the next load)."""
    for fn in (_generate, _digits):
        fn.cache_clear()
    image_files.clear_cache()
    uploads.clear_cache()


# --- entry point -----------------------------------------------------------


def load_dataset(
    cfg: DatasetConfig, *, data_dir: str | Path | None = None, allow_download: bool | None = None
) -> Dataset:
    """Load, split and preprocess the dataset `cfg` describes."""
    split, notes = "", ()
    if cfg.name in uploads.KINDS:
        user = uploads.load_user_data(cfg)
        raw, (tr, te), split, notes = user.raw, user.selection, user.split, user.notes
    else:
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
        split=split,
        notes=notes,
    )


def _load_raw(cfg: DatasetConfig, directory: str | Path | None,
              allow_download: bool | None) -> tuple[RawData, Selection]:
    """The cached source arrays plus which rows of them this config uses (built-in and image sets)."""
    name = cfg.name
    if name in ("circles", "moons", "spirals", "blobs"):
        n_train, n_test = cfg.n_train or 500, cfg.n_test or 500
        n_classes = cfg.n_classes if name == "blobs" else 2
        raw = _generate(name, n_train, n_test, cfg.noise, cfg.seed, n_classes)
        return raw, (slice(None), slice(None))
    if name == "digits":
        return _digits_split(cfg)
    raw = _load_downloadable(name, directory, allow_download)
    return raw, _first_n(name, raw, cfg.n_train, cfg.n_test)


def _first_n(name: str, raw: RawData, n_train: int | None, n_test: int | None) -> Selection:
    """The first n examples of each split, in file order (None = all)."""
    for n, have, split in ((n_train, len(raw.y_train), "training"), (n_test, len(raw.y_test), "test")):
        if n is not None and n > have:
            key = "n_train" if split == "training" else "n_test"
            raise DatasetError(f"{name} has {have} {split} examples; {key}={n} asks for more "
                               f"(use at most {have}, or leave it empty for all)")
    return slice(0, n_train), slice(0, n_test)


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
def _generate(name: str, n_train: int, n_test: int, noise: float, seed: int, n_classes: int) -> RawData:
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
    raw = RawData(x[:n_train], y[:n_train], x[n_train:], y[n_train:], names, "tabular")
    readonly(raw.x_train, raw.y_train, raw.x_test, raw.y_test)
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
    readonly(x, y)
    return x, y


def _digits_split(cfg: DatasetConfig) -> tuple[RawData, Selection]:
    """Shuffle with the seed; test = the last n_test, so it stays put when n_train changes."""
    x, y = _digits()
    total = len(y)
    n_test = cfg.n_test or 360
    n_train = cfg.n_train or max(total - n_test, 0)
    if n_train + n_test > total:
        raise DatasetError(f"digits has {total} images; n_train={n_train} plus n_test={n_test} is "
                           f"{n_train + n_test} (the default split is 1437 + 360)")
    order = np.random.default_rng(cfg.seed).permutation(total)
    raw = RawData(x, y, x, y, tuple(str(i) for i in range(10)), "image", pixel_max=16.0)
    return raw, (order[:n_train], order[total - n_test:])


# --- downloadable image sets ---------------------------------------------------


def _load_downloadable(name: str, directory: str | Path | None, allow_download: bool | None) -> RawData:
    """Local data dir first, then Keras' cache, then a download through Keras."""
    local = Path(directory).expanduser() if directory is not None else data_dir()
    if local is not None:
        found = image_files.find_local(name, local)
        if found is not None:
            return image_files.read_source(name, *found)
    cache = image_files.keras_cache_dir()
    found = image_files.find_keras_cache(name, cache)
    if found is not None:
        return image_files.read_source(name, *found)
    offline = settings().offline
    if allow_download is False or (allow_download is None and offline):
        why = "downloading is disabled" + (f" ({ENV_OFFLINE}=1)" if allow_download is None else "")
        raise image_files.not_available(name, f"{why} and it is not in the Keras cache ({cache})", local)
    try:
        arrays = _keras_load(name)
    except Exception as exc:  # no internet, proxy, disk full, bad archive: all mean "not available"
        raise image_files.not_available(name, f"the download failed ({short(exc)})", local) from exc
    return image_files.raw_images(name, *arrays, where="the Keras download")


def _keras_load(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keras' own loader (downloads into Keras' cache); imported here because Keras is slow."""
    from keras import datasets as keras_datasets

    (x_train, y_train), (x_test, y_test) = getattr(keras_datasets, name).load_data()
    return x_train, y_train, x_test, y_test

