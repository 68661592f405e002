"""The classic image sets' files: where they are on disk and how to read them.

MNIST and Fashion-MNIST come as IDX files (gzipped or not), CIFAR-10 as pickled batches (a
folder or the original tar.gz), Keras' own cache as mnist.npz. Readers are cached by path,
size and mtime; a damaged or partial file is a `DatasetError` naming the file and the fix.
Each set's shape and class names come from its registry entry (`bnviz.data.registry`); the
search order and the download itself (through Keras) are in `bnviz.data.downloads`.
"""

from __future__ import annotations

import functools
import gzip
import os
import pickle
import struct
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np

from bnviz.data.source import READ_ERRORS as _READ_ERRORS
from bnviz.data.source import DatasetError, RawData, readonly, short
from bnviz.data.source import stamp as file_stamp
from bnviz.settings import settings, variable

ENV_DATA_DIR = variable("data_dir")
_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_TAR = "cifar-10-python.tar.gz"


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


# --- where the files are ----------------------------------------------------------


def keras_cache_dir() -> Path:
    """Where Keras keeps downloads: $KERAS_HOME/datasets or ~/.keras/datasets (/tmp if read-only)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    if not os.access(home, os.W_OK):
        home = os.path.join("/tmp", ".keras")
    return Path(home) / "datasets"


def find_local(name: str, root: Path) -> tuple[Callable[..., Any], tuple[Path, ...]] | None:
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


def find_keras_cache(name: str, cache: Path) -> tuple[Callable[..., Any], tuple[Path, ...]] | None:
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


def read_source(name: str, shape: tuple[int, ...], class_names: tuple[str, ...],
                reader: Callable[..., Any], files: tuple[Path, ...]) -> RawData:
    """Read through the in-process cache, keyed by the files' paths, sizes and mtimes."""
    arrays = reader(tuple(str(f) for f in files), file_stamp(files))
    return raw_images(name, shape, class_names, *arrays, where=str(files[0].parent))


def raw_images(name: str, shape: tuple[int, ...], class_names: tuple[str, ...], x_train: np.ndarray,
               y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, where: str) -> RawData:
    """Check an image set against its registry entry's shape and classes; give it a channel axis."""
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
        top = len(class_names) - 1
        if y.min() < 0 or y.max() > top:
            raise DatasetError(f"{name} from {where}: {split} labels must be 0..{top}, found {y.min()}..{y.max()}")
        out += [x, y]
    raw = RawData(*out, class_names=class_names, kind="image", pixel_max=255.0)
    readonly(raw.x_train, raw.y_train, raw.x_test, raw.y_test)
    return raw


def not_available(name: str, reason: str, local: Path | None) -> DatasetError:
    """Say what failed and exactly which files to put where to load it without a download."""
    sub = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10"}[name]
    if name == "cifar10":
        files = f"the {_CIFAR_DIR} folder ({', '.join(_CIFAR_FILES)}) or {_CIFAR_TAR}"
    else:
        files = ", ".join(f"{stem}.gz" for stem in _IDX_FILES)
    env = settings().data_dir
    current = f"currently {str(env)!r}" if env else "currently unset"
    folder = f"{local / sub}/" if local is not None else f"DIR/{sub}/ and set {ENV_DATA_DIR}=DIR"
    return DatasetError(f"{name} could not be loaded: {reason}. To use local files, put {files} "
                        f"in {folder} ({ENV_DATA_DIR} is {current})")


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
        raise DatasetError(f"{path} cannot be read as a gzip IDX file ({short(exc)}); "
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
        raise DatasetError(f"the cached {paths[0]} is damaged ({short(exc)}); delete it to download "
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
        raise DatasetError(f"{where} is not a CIFAR-10 batch ({short(exc)}); "
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
        raise DatasetError(f"{path} cannot be read as a tar.gz archive ({short(exc)}); "
                           f"replace it with the original download") from None
    return _join_cifar(batches)


def clear_cache() -> None:
    for fn in (_read_idx_files, _read_cifar_dir, _read_cifar_tar, _read_keras_mnist):
        fn.cache_clear()
