"""Datasets: `load_dataset(settings)`, the one entry point training uses.

Everything it returns is float32 features and int64 class indices, already split and
preprocessed, so the model code never has to care where the data came from. Every problem
with the data surfaces as a `DatasetError` whose message a user can act on; numpy/pandas
tracebacks never escape.

Which datasets exist, and the loader of each, is `bnviz.data.registry`; the loaders live in
`bnviz.data.toys`, `bnviz.data.downloads` (with `bnviz.data.image_files`) and `bnviz.data.uploads`.
Slow imports (scikit-learn, pandas, and above all Keras) happen only in the code paths
that need them: the dashboard imports this module on start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bnviz.data import image_files, registry, toys, uploads
from bnviz.data.downloads import ENV_DATA_DIR, ENV_OFFLINE, data_dir
from bnviz.data.image_files import read_idx_gz, write_idx_gz
from bnviz.data.registry import DatasetEntry
from bnviz.data.source import DatasetError, DatasetSpec, Loaded, LoadOptions
from bnviz.data.uploads import UploadSummary, inspect_upload

__all__ = [
    "DATASET_INFO",
    "ENV_DATA_DIR",
    "ENV_OFFLINE",
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

DatasetInfo = DatasetEntry  # the older name: what the UI shows about a dataset before loading it
DATASET_INFO = registry.REGISTRY.as_mapping()  # name -> entry, always current (older callers)


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


def clear_cache() -> None:
    """Forget every array read so far (files are re-read on the next load)."""
    toys.clear_cache()
    image_files.clear_cache()
    uploads.clear_cache()


def load_dataset(
    cfg: DatasetSpec, *, data_dir: str | Path | None = None, allow_download: bool | None = None
) -> Dataset:
    """Load, split and preprocess the dataset `cfg` describes (its registry entry's loader reads it)."""
    entry = registry.get(cfg.name)
    folder = Path(data_dir) if data_dir is not None else None
    loaded = entry.loader(cfg, LoadOptions(folder, allow_download))
    if not isinstance(loaded, Loaded):  # a registered loader's mistake, not the user's
        raise TypeError(f"the loader of dataset {entry.name!r} returned {type(loaded).__name__}, not Loaded")
    raw, (tr, te) = loaded.raw, loaded.selection
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
        split=loaded.split,
        notes=loaded.notes,
    )


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
