"""The checks a user file must pass, each failing with one line: what is wrong, what is expected.

`bnviz.data.uploads` reads, splits and summarizes; this module only says no (or normalizes: a
channel axis for grey images, labels of shape (N, 1) flattened, text labels numbered).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from bnviz.data.source import READ_ERRORS, DatasetError, short

NPZ_EXPECTED = "np.savez(path, x=X, y=y), or x_train and y_train with optional x_test and y_test"
_TRAIN_TEST = ("x_train", "y_train", "x_test", "y_test")


# --- npz ------------------------------------------------------------------------------


def open_npz(path: str) -> tuple[dict[str, np.ndarray], tuple[str, str, str | None, str | None], str]:
    """The arrays a layout needs, the layout's keys (x, y, x_test, y_test) and the layout in words."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except READ_ERRORS as exc:
        raise DatasetError(f"{path} is not a readable .npz file ({_npz_reason(exc, whole_file=True)}); "
                           f"save it with {NPZ_EXPECTED}") from None
    if isinstance(loaded, np.ndarray):
        raise DatasetError(f"{path} holds a single array (.npy); save features and labels together with "
                           f"{NPZ_EXPECTED}")
    with loaded:
        keys, layout = npz_layout(path, list(loaded.files))
        out = {}
        for key in [k for k in keys if k] + (["class_names"] if "class_names" in loaded.files else []):
            try:
                out[key] = loaded[key]
            except READ_ERRORS as exc:
                raise DatasetError(f"{path}: array {key!r} cannot be read "
                                   f"({_npz_reason(exc, whole_file=False)})") from None
    return out, keys, layout


def npz_layout(path: str, names: list[str]) -> tuple[tuple[str, str, str | None, str | None], str]:
    """Which of the accepted layouts the file's array names form."""
    have = ", ".join(names) or "no arrays"
    known = set(names)
    if known & {"x_train", "y_train"}:
        pairs = (("x_train", "y_train"), ("x_test", "y_test"))
        for a, b in pairs:
            if (a in known) != (b in known):
                missing = b if a in known else a
                why = ("give x_train and y_train together" if a == "x_train" else
                       "give x_test and y_test together (your test split) or neither (20% of each class is "
                       "then held out)")
                raise DatasetError(f"{path} lacks {missing}: it holds {have}; {why}")
        if "x_test" in known:
            return ("x_train", "y_train", "x_test", "y_test"), "arrays x_train, y_train, x_test, y_test"
        return ("x_train", "y_train", None, None), "arrays x_train, y_train"
    xs = [k for k in names if k in ("x", "X")]
    ys = [k for k in names if k in ("y", "Y")]
    for group in (xs, ys):
        if len(group) > 1:
            raise DatasetError(f"{path} holds both {group[0]!r} and {group[1]!r}; keep one of them")
    if xs and ys:
        return (xs[0], ys[0], None, None), f"arrays {xs[0]}, {ys[0]}"
    if known & {"x_test", "y_test"}:
        raise DatasetError(f"{path} holds {have} but no training arrays; expected {NPZ_EXPECTED}")
    raise DatasetError(f"{path} holds {have}; expected {NPZ_EXPECTED}")


def _npz_reason(exc: BaseException, whole_file: bool) -> str:
    """numpy's "pickled data" means: a whole file that is no npz/npy, or one object array."""
    if "pickle" not in str(exc).lower():
        return short(exc)
    if whole_file:
        return "it is neither an .npz archive nor an .npy array"
    return ("it holds Python objects (dtype=object), e.g. rows of different lengths, which are not unpickled "
            "for safety; store one numeric array whose rows all have the same length")


def npz_features(path: str, arrays: dict[str, np.ndarray], x_key: str,
                 test_key: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """2-D = tabular, 3-D = grey images (channel axis added), 4-D = images (N, H, W, C)."""
    x, x_test = arrays[x_key], arrays[test_key] if test_key else None
    for key, a in ((x_key, x), (test_key, x_test)):
        if a is not None and a.dtype.kind not in "biuf":
            text = "; encode text as numbers first" if a.dtype.kind in "US" else ""
            raise DatasetError(f"{path}: {key} has dtype {a.dtype}; features must be numeric arrays "
                               f"(floats or integers){text}")
    if x.ndim == 3:
        x = x[..., None]
        if x_test is not None and x_test.ndim == 3:
            x_test = x_test[..., None]
    if x.ndim not in (2, 4):
        raise DatasetError(f"{path}: {x_key} has shape {x.shape}; use (N, features) for tables or "
                           f"(N, height, width[, channels]) for images")
    if x_test is not None and x_test.shape[1:] != x.shape[1:]:
        raise DatasetError(f"{path}: {test_key} examples have shape {x_test.shape[1:]} but {x_key} examples "
                           f"{x.shape[1:]}; they must match")
    for key, a in ((x_key, x), (test_key, x_test)):
        if a is None:
            continue
        if len(a) == 0:
            raise DatasetError(f"{path}: {key} is empty; every split needs at least one example")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = int((~np.isfinite(a.reshape(len(a), -1))).any(axis=1).sum())
            raise DatasetError(f"{path}: {key} contains NaN or infinite values in {bad} examples; "
                               f"fill or drop them first")
    return x, x_test


def npz_labels(path: str, key: str, y: np.ndarray, n: int) -> np.ndarray:
    """Integer class indices of shape (N,); (N, 1) is flattened, one-hot is refused."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DatasetError(f"{path}: {key} has shape {y.shape}; labels must be class indices of shape (N,) "
                           f"(not one-hot)")
    if len(y) != n:
        raise DatasetError(f"{path}: {key} has {len(y)} labels but there are {n} examples; "
                           f"the lengths must match")
    if y.dtype.kind not in "biuf":
        raise DatasetError(f"{path}: {key} has dtype {y.dtype}; labels must be class indices 0, 1, 2, ... "
                           f"or text")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DatasetError(f"{path}: {key} holds NaN or infinite labels; every example needs a class")
    if y.dtype.kind == "f" and not (y == np.round(y)).all():
        raise DatasetError(f"{path}: {key} holds non-integer values; labels must be class indices 0, 1, 2, ...")
    if y.min() < 0:
        raise DatasetError(f"{path}: {key} holds negative labels ({y.min()}); labels must be 0, 1, 2, ...")
    if y.max() >= 10_000:
        raise DatasetError(f"{path}: {key} holds label {y.max()}; labels must be class indices 0..K-1")
    return y.astype(np.int64)


def text_labels(values: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Sorted distinct texts become classes 0, 1, ...; the names keep their text."""
    classes, codes = np.unique(values, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), tuple(str(c) for c in classes)


# --- csv ------------------------------------------------------------------------------


def read_csv_frame(path: str, nrows: int | None = None) -> Any:
    """The table as pandas reads it (at most `nrows` rows); ragged rows and binary files are one-line errors."""
    import pandas as pd  # only needed here

    try:
        return pd.read_csv(path, nrows=nrows)
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{path} is empty; it needs a header row and data rows") from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            want, line, saw = found.groups()
            raise DatasetError(f"{path}: line {line} has {saw} values but the header names {want} columns; "
                               f"every row needs one value per column") from None
        raise DatasetError(f"{path} cannot be read as CSV ({short(exc)})") from None
    except (*READ_ERRORS, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} cannot be read as CSV ({short(exc)})") from None


def check_csv_features(path: str, features: Any) -> None:
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


def csv_labels(path: str, labels: Any, column: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer labels keep their values as names ("3", "7"); text labels keep their text."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if labels.isna().any():
        raise DatasetError(f"{path}: label column {column!r} has {int(labels.isna().sum())} empty values; "
                           f"every row needs a class")
    if is_numeric_dtype(labels) and not is_bool_dtype(labels):
        values = labels.to_numpy(dtype=np.float64)
        if not (np.isfinite(values).all() and (values == np.round(values)).all()):
            raise DatasetError(f"{path}: label column {column!r} holds non-integer numbers; "
                               f"it must hold class labels, not a continuous target")
        classes = np.unique(values)
        codes, names = np.searchsorted(classes, values).astype(np.int64), tuple(str(int(v)) for v in classes)
    else:
        codes, names = text_labels(labels.astype(str).to_numpy())
    if len(names) < 2:
        raise DatasetError(f"{path}: label column {column!r} has only one class ({names[0]!r}); "
                           f"a classifier needs at least 2")
    return codes, names
