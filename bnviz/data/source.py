"""What every dataset reader shares: the settings it reads, the error it raises, what it returns.

The readers live in `bnviz.data.toys` (generated and bundled sets), `bnviz.data.downloads` and
`bnviz.data.image_files` (MNIST, Fashion-MNIST, CIFAR-10) and `bnviz.data.uploads` (your own npz/csv
files); `bnviz.data.registry` names them and `bnviz.data.loading` calls them. This module is the
vocabulary between them, so none of them imports another's internals, nor the config above them.
"""

from __future__ import annotations

import pickle
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bnviz.errors import UserError


class DatasetError(UserError):
    """A dataset could not be loaded; the one-line message says what is wrong and what to do."""


Selection = tuple[Any, Any]  # rows of (train, test) a config uses: slices or index arrays
READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, zipfile.BadZipFile,
               pickle.UnpicklingError, tarfile.TarError, KeyError, TypeError, AttributeError)


class DatasetSpec(Protocol):
    """The dataset settings a reader may read: what `bnviz.config.DatasetConfig` holds.

    A protocol, not the config class, because the data layer sits below the config."""

    @property
    def name(self) -> str: ...
    @property
    def n_train(self) -> int | None: ...
    @property
    def n_test(self) -> int | None: ...
    @property
    def noise(self) -> float: ...
    @property
    def n_classes(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def preprocessing(self) -> str: ...
    @property
    def path(self) -> str | None: ...
    @property
    def label_column(self) -> str: ...


@dataclass(frozen=True)
class LoadOptions:
    """Where a reader may look for files besides the settings: the data folder, and whether to download."""

    data_dir: Path | None = None  # None: BNVIZ_DATA_DIR
    allow_download: bool | None = None  # None: unless BNVIZ_OFFLINE is set


@dataclass(frozen=True, eq=False)
class RawData:
    """Arrays as stored in the source, before selection and preprocessing (read-only, cached)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    kind: str
    pixel_max: float | None = None  # images: largest possible value, the divisor of "auto"


@dataclass(frozen=True, eq=False)
class Loaded:
    """What a dataset's loader returns: the source arrays and which rows of them the settings use."""

    raw: RawData
    selection: Selection = (slice(None), slice(None))  # every row of both splits
    split: str = ""  # your own files: where the test split came from
    notes: tuple[str, ...] = ()  # your own files: what was adjusted


def readonly(*arrays: np.ndarray) -> None:
    """Cached arrays are shared by every caller: make accidental writes fail loudly."""
    for arr in arrays:
        arr.flags.writeable = False


def stamp(files: tuple[Path, ...]) -> tuple[tuple[int, int], ...]:
    """mtime and size of each file: part of the cache key, so an edited file is re-read."""
    try:
        stats = [f.stat() for f in files]
    except OSError as exc:
        raise DatasetError(f"cannot read {exc.filename}: {exc.strerror}") from None
    return tuple((st.st_mtime_ns, st.st_size) for st in stats)


def short(exc: BaseException) -> str:
    """An exception as a short clause for a one-line message."""
    text = " ".join(str(exc).split()) or "no details"
    text = text if len(text) <= 120 else text[:117] + "..."
    return f"{type(exc).__name__}: {text}"


def pixel_max(x: np.ndarray) -> float:
    """The largest possible pixel value: 255 for bytes and 0..255 data, 1 for 0..1 data."""
    if x.dtype == np.uint8:
        return 255.0
    top = float(x.max()) if x.size else 1.0
    if top <= 1.0:
        return 1.0
    return max(255.0, top)
