"""The small built-in problems: 2-D point generators and scikit-learn's bundled 8x8 digits.

Each loader takes the dataset settings and returns `Loaded` (see `bnviz.data.registry`, which
names them). Arrays are cached and read-only; scikit-learn is imported only when one is loaded.
"""

from __future__ import annotations

import functools

import numpy as np

from bnviz.data.source import DatasetError, DatasetSpec, Loaded, LoadOptions, RawData, readonly

__all__ = ["DIGITS_N_TEST", "DIGITS_N_TRAIN", "TOY_SIZE", "clear_cache", "load_digits", "load_points"]

TOY_SIZE = 500  # default training and test examples of every 2-D generator
DIGITS_N_TRAIN, DIGITS_N_TEST = 1437, 360  # the default digits split: 80/20 of 1,797 images


def load_points(name: str, class_names: tuple[str, ...] | None, config: DatasetSpec,
                options: LoadOptions) -> Loaded:
    """A 2-D toy problem; `class_names` None: as many classes as the settings ask, named 0, 1, ..."""
    del options
    n_classes = len(class_names) if class_names else config.n_classes
    names = class_names or tuple(str(i) for i in range(n_classes))
    return Loaded(_generate(name, config.n_train or TOY_SIZE, config.n_test or TOY_SIZE, config.noise,
                            config.seed, n_classes, names))


def load_digits(config: DatasetSpec, options: LoadOptions) -> Loaded:
    """Shuffle with the seed; test = the last n_test, so it stays put when n_train changes."""
    del options
    x, y = _digits()
    total = len(y)
    n_test = config.n_test or DIGITS_N_TEST
    n_train = config.n_train or max(total - n_test, 0)
    if n_train + n_test > total:
        raise DatasetError(f"digits has {total} images; n_train={n_train} plus n_test={n_test} is "
                           f"{n_train + n_test} (the default split is {DIGITS_N_TRAIN} + {DIGITS_N_TEST})")
    order = np.random.default_rng(config.seed).permutation(total)
    raw = RawData(x, y, x, y, tuple(str(i) for i in range(10)), "image", pixel_max=16.0)
    return Loaded(raw, (order[:n_train], order[total - n_test:]))


def clear_cache() -> None:
    for fn in (_generate, _digits):
        fn.cache_clear()


@functools.lru_cache(maxsize=16)
def _generate(name: str, n_train: int, n_test: int, noise: float, seed: int, n_classes: int,
              class_names: tuple[str, ...]) -> RawData:
    """2-D toy problems; the first n_train rows train, the rest test (as in the tutorials)."""
    from sklearn import datasets as skd  # slow import, only needed here

    n = n_train + n_test
    if name == "circles":
        x, y = skd.make_circles(n_samples=n, noise=noise, random_state=seed)
    elif name == "moons":
        x, y = skd.make_moons(n_samples=n, noise=noise, random_state=seed)
    elif name == "blobs":
        x, y = skd.make_blobs(n_samples=n, centers=n_classes, random_state=seed)
    elif name == "spirals":
        x, y = _spirals(n, noise, seed)
    else:
        raise DatasetError(f"no 2-D generator is called {name!r}; there are circles, moons, blobs and spirals")
    raw = RawData(x[:n_train], y[:n_train], x[n_train:], y[n_train:], class_names, "tabular")
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
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x, y = bunch.images[..., None], bunch.target
    readonly(x, y)
    return x, y
