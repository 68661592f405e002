"""The downloadable image sets (MNIST, Fashion-MNIST, CIFAR-10): local files first, then Keras.

Order: the data folder (BNVIZ_DATA_DIR, or the folder a caller names), Keras' cache, then a
download through Keras unless downloading is off (BNVIZ_OFFLINE=1 or allow_download=False).
The file formats themselves are read in `bnviz.data.image_files`; Keras is imported only to download.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bnviz.data import image_files
from bnviz.data.image_files import ENV_DATA_DIR
from bnviz.data.source import DatasetError, DatasetSpec, Loaded, LoadOptions, RawData, short
from bnviz.settings import settings, variable

__all__ = ["ENV_DATA_DIR", "ENV_OFFLINE", "IMAGE_SETS", "data_dir", "keras_load", "load_image_set", "unavailable"]

ENV_OFFLINE = variable("offline")
IMAGE_SETS = ("mnist", "fashion_mnist", "cifar10")


def data_dir() -> Path | None:
    """The local data folder from BNVIZ_DATA_DIR, or None when it is not set."""
    return settings().data_dir


def load_image_set(name: str, shape: tuple[int, ...], class_names: tuple[str, ...], config: DatasetSpec,
                   options: LoadOptions) -> Loaded:
    """The set's first n_train / n_test images, in file order (None = all)."""
    raw = _read(name, shape, class_names, options.data_dir, options.allow_download)
    for n, have, split in ((config.n_train, len(raw.y_train), "training"), (config.n_test, len(raw.y_test), "test")):
        if n is not None and n > have:
            key = "n_train" if split == "training" else "n_test"
            raise DatasetError(f"{name} has {have} {split} examples; {key}={n} asks for more "
                               f"(use at most {have}, or leave it empty for all)")
    return Loaded(raw, (slice(0, config.n_train), slice(0, config.n_test)))


def _read(name: str, shape: tuple[int, ...], class_names: tuple[str, ...], directory: str | Path | None,
          allow_download: bool | None) -> RawData:
    """Local data dir first, then Keras' cache, then a download through Keras."""
    local = Path(directory).expanduser() if directory is not None else data_dir()
    if local is not None:
        found = image_files.find_local(name, local)
        if found is not None:
            return image_files.read_source(name, shape, class_names, *found)
    cache = image_files.keras_cache_dir()
    found = image_files.find_keras_cache(name, cache)
    if found is not None:
        return image_files.read_source(name, shape, class_names, *found)
    offline = settings().offline
    if allow_download is False or (allow_download is None and offline):
        why = "downloading is disabled" + (f" ({ENV_OFFLINE}=1)" if allow_download is None else "")
        raise image_files.not_available(name, f"{why} and it is not in the Keras cache ({cache})", local)
    try:
        arrays = keras_load(name)
    except Exception as exc:  # no internet, proxy, disk full, bad archive: all mean "not available"
        raise image_files.not_available(name, f"the download failed ({short(exc)})", local) from exc
    return image_files.raw_images(name, shape, class_names, *arrays, where="the Keras download")


def unavailable(name: str) -> str | None:
    """Why this server cannot load the downloadable set `name`, found without reading or downloading
    anything: no copy in the data folder, none in Keras' cache, and downloading is off. None for any
    other dataset, and when a copy is there or a download is allowed (a failed download is then
    reported by the run itself)."""
    if name not in IMAGE_SETS:
        return None
    local = data_dir()
    cache = image_files.keras_cache_dir()
    try:
        if (local is not None and image_files.find_local(name, local)) or image_files.find_keras_cache(name, cache):
            return None
    except DatasetError as exc:  # a partial set in the data folder
        return str(exc)
    if not settings().offline:
        return None
    why = f"downloading is disabled ({ENV_OFFLINE}=1) and it is not in the Keras cache ({cache})"
    return str(image_files.not_available(name, why, local))


def keras_load(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keras' own loader (downloads into Keras' cache); imported here because Keras is slow."""
    from keras import datasets as keras_datasets

    (x_train, y_train), (x_test, y_test) = getattr(keras_datasets, name).load_data()
    return x_train, y_train, x_test, y_test
