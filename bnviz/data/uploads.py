"""Your own data: an .npz of arrays or a .csv table, read, checked, split and summarized.

Layouts (the file decides; nothing to configure):
- npz: `x`/`y` (or `X`/`y`) or `x_train`/`y_train`: one pool of examples, split here;
  `x_train`/`y_train`/`x_test`/`y_test`: your own test split. Optional `class_names`.
  x is (N, features), (N, H, W) or (N, H, W, C); y holds class indices 0..K-1 or text labels.
- csv: numeric feature columns plus one label column (numbers or text).
Text labels become classes 0, 1, ... in sorted order and keep their text as class names.

Without a test split in the file, 20% of every class is held out with scikit-learn's
stratified `train_test_split`, seeded with `dataset.seed`: class proportions match on both sides.

`dataset.n_train` / `n_test` are upper limits here: the first N examples of each split. A limit
larger than the split uses all of it and says so in a note, so the counts a preset leaves in
the form never block your file, and never change it silently either.

`inspect_upload` is what the Experiment page shows before training; `load_dataset` trains on
`load_user_data`. Both run the same reader and split, so what you see is what trains. Both check
the server's limits first (`bnviz.data.upload_limits`), before anything is unpacked or parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bnviz.data.source import (
    DatasetError,
    DatasetSpec,
    Loaded,
    LoadOptions,
    RawData,
    Selection,
    pixel_max,
    readonly,
    short,
    stamp,
)
from bnviz.data.upload_checks import (
    check_csv_features,
    csv_labels,
    npz_features,
    npz_labels,
    npz_layout,
    open_npz,
    read_csv_frame,
    text_labels,
)
from bnviz.data.upload_limits import ParsedCache, UploadLimits, check_csv, check_npz, refuse_rows

__all__ = ["KINDS", "TEST_FRACTION", "UploadSummary", "UserSplit", "clear_cache", "inspect_upload",
           "load_file", "load_user_data"]

KINDS = ("npz", "csv")
TEST_FRACTION = 0.2
PREVIEW_ROWS = 5
PREVIEW_FEATURES = 6


@dataclass(frozen=True, eq=False)
class _UserFile:
    """A user file's validated contents before any split (cached per path, stamp and label column)."""

    x: np.ndarray  # the training split, or the whole pool when the file has no test split
    y: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    class_names: tuple[str, ...]
    kind: str  # "image" or "tabular"
    layout: str  # what was found, in words
    preview: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = ()
    pixel_max: float | None = None


@dataclass(frozen=True, eq=False)
class UserSplit:
    """A user file split and limited as a config asks: what `load_dataset` trains on."""

    raw: RawData
    selection: Selection
    test_given: bool
    split: str  # one sentence: where the test split came from
    notes: tuple[str, ...]  # what was adjusted (limits clamped, index column dropped)
    file: _UserFile


@dataclass(frozen=True)
class UploadSummary:
    """What was read from a user file, to show before training."""

    path: str
    kind: str  # "npz" or "csv"
    layout: str
    data_kind: str  # "tabular" or "image"
    shape: tuple[int, ...]  # every example in the file: (N, *one example)
    class_names: tuple[str, ...]
    train_counts: tuple[int, ...]  # examples per class that will train (after split and limits)
    test_counts: tuple[int, ...]
    test_given: bool
    split: str
    notes: tuple[str, ...]
    preview: tuple[dict[str, Any], ...]

    @property
    def n_train(self) -> int:
        return sum(self.train_counts)

    @property
    def n_test(self) -> int:
        return sum(self.test_counts)

    def class_table(self) -> list[dict[str, Any]]:
        """One row per class: its name and how many examples train and test."""
        return [{"class": name, "train": tr, "test": te}
                for name, tr, te in zip(self.class_names, self.train_counts, self.test_counts)]

    def headline(self) -> str:
        example = "×".join(map(str, self.shape[1:]))
        return (f"{self.shape[0]:,} examples of {example} {'pixels' if self.data_kind == 'image' else 'features'}, "
                f"{len(self.class_names)} classes · {self.n_train:,} train / {self.n_test:,} test")


# --- entry points -------------------------------------------------------------------


def inspect_upload(path: str | Path, kind: str, label_column: str = "label", *, seed: int = 1,
                   n_train: int | None = None, n_test: int | None = None) -> UploadSummary:
    """Read, check and split a user file exactly as training will; DatasetError if it is unusable."""
    split = _split(str(path), kind, label_column, seed, n_train, n_test)
    raw, (tr, te), file = split.raw, split.selection, split.file
    k = len(raw.class_names)
    n_all = len(file.y) + (len(file.y_test) if file.y_test is not None else 0)
    return UploadSummary(
        path=str(path), kind=kind, layout=file.layout, data_kind=file.kind,
        shape=(n_all, *file.x.shape[1:]), class_names=raw.class_names,
        train_counts=tuple(int(c) for c in np.bincount(raw.y_train[tr], minlength=k)),
        test_counts=tuple(int(c) for c in np.bincount(raw.y_test[te], minlength=k)),
        test_given=split.test_given, split=split.split, notes=split.notes, preview=file.preview)


def load_user_data(cfg: DatasetSpec) -> UserSplit:
    """The split a DatasetConfig for "npz" or "csv" trains on."""
    return _split(cfg.path, cfg.name, cfg.label_column, cfg.seed, cfg.n_train, cfg.n_test)


def load_file(config: DatasetSpec, options: LoadOptions) -> Loaded:
    """The registry's loader for your own files: the file kind is the dataset's name (npz, csv)."""
    del options
    user = load_user_data(config)
    return Loaded(user.raw, user.selection, user.split, user.notes)


def clear_cache() -> None:
    PARSED.clear()


# --- split and limits ---------------------------------------------------------------


def _split(path: str | None, kind: str, label_column: str, seed: int, n_train: int | None,
           n_test: int | None) -> UserSplit:
    if kind not in KINDS:
        raise DatasetError(f"unknown file kind {kind!r}; your own data comes as one of: {', '.join(KINDS)}")
    key, limits = _file_key(path, kind), UploadLimits.current()
    if kind == "npz":
        file = PARSED.get((*key, kind, limits), lambda: _read_npz(key[0], limits), _nbytes)
    else:
        file = PARSED.get((*key, kind, limits, label_column), lambda: _read_csv(key[0], limits, label_column),
                           _nbytes)
    notes = list(file.notes)
    if file.x_test is not None:
        raw = RawData(file.x, file.y, file.x_test, file.y_test, file.class_names, file.kind, file.pixel_max)
        train_rows, test_rows = np.arange(len(file.y)), np.arange(len(file.y_test))
        split = "test split given in the file"
    else:
        raw = RawData(file.x, file.y, file.x, file.y, file.class_names, file.kind, file.pixel_max)
        train_rows, test_rows = _stratified(key[0], kind, file.y, file.class_names, seed)
        split = (f"split {100 - round(100 * TEST_FRACTION)}/{round(100 * TEST_FRACTION)} stratified, seed {seed} "
                 f"(the file has no test split)")
    n_tr, note_tr = _limit(n_train, len(train_rows), "n_train", "training")
    n_te, note_te = _limit(n_test, len(test_rows), "n_test", "test")
    notes += [n for n in (note_tr, note_te) if n]
    if file.x_test is not None:
        selection: Selection = (slice(0, n_tr), slice(0, n_te))
    else:
        selection = (train_rows[:n_tr], test_rows[:n_te])
    return UserSplit(raw, selection, file.x_test is not None, split, tuple(notes), file)


def _limit(n: int | None, have: int, key: str, split: str) -> tuple[int, str | None]:
    """A limit above what the split holds means all of it, said out loud."""
    if n is None:
        return have, None
    if n <= have:
        return n, None
    return have, (f"{split.capitalize()} examples ({key}) is {n:,}, more than the {have:,} in the file: "
                  f"using all {have:,}")


def _stratified(path: str, kind: str, y: np.ndarray, names: tuple[str, ...],
                seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold out TEST_FRACTION of every class (at least one example of each), seeded.

    With 2 or more examples of every class both sides can hold every class, so sklearn's
    conditions (each side at least as large as the number of classes) always hold.
    """
    counts = np.bincount(y, minlength=len(names))
    present = np.flatnonzero(counts)
    n, k = len(y), len(present)
    n_test = max(round(TEST_FRACTION * n), k)
    hint = ("add examples, drop that class, or put your own split in the file as x_train, y_train, x_test, y_test"
            if kind == "npz" else "add rows or drop that class")
    rare = [names[c] for c in present if counts[c] < 2]
    if rare:
        more = f" (and {len(rare) - 1} more classes)" if len(rare) > 1 else ""
        raise DatasetError(f"{path}: class {rare[0]!r} has only 1 example{more}; a stratified 80/20 split "
                           f"needs at least 2 of every class (5 or more is better): {hint}")
    from sklearn.model_selection import train_test_split  # slow import, only needed here

    try:
        train, test = train_test_split(np.arange(n), test_size=n_test, stratify=y, random_state=seed)
    except ValueError as exc:
        raise DatasetError(f"{path}: cannot split it stratified 80/20 ({short(exc)}); {hint}") from None
    return train, test


# --- readers (cached by path, stamp, limits and label column; bounded in bytes) -------

PARSED = ParsedCache(entries=4)


def _nbytes(file: _UserFile) -> int:
    return sum(a.nbytes for a in (file.x, file.y, file.x_test, file.y_test) if a is not None)



def _file_key(path: str | None, kind: str) -> tuple[str, tuple]:
    """Resolved path plus size/mtime, so an edited file is re-read."""
    file = Path(path or "").expanduser()
    if not file.is_file():
        what = "is a folder, not a file" if file.is_dir() else "does not exist"
        raise DatasetError(f"{kind} file {str(file)!r} {what}; give the path of a .{kind} file")
    resolved = file.resolve()
    return str(resolved), stamp((resolved,))


def _read_npz(path: str, limits: UploadLimits) -> _UserFile:
    check_npz(path, limits, npz_layout)
    arrays, (x_key, y_key, xt_key, yt_key), layout = open_npz(path)
    x, x_test = npz_features(path, arrays, x_key, xt_key)
    labels = [(y_key, arrays[y_key], len(x))]
    if yt_key:
        labels.append((yt_key, arrays[yt_key], len(x_test)))
    if all(y.dtype.kind in "US" for _, y, _ in labels):
        y, y_test, names = _npz_text_labels(path, arrays, labels)
    else:
        ys = [npz_labels(path, key, y, n) for key, y, n in labels]
        y, y_test = ys[0], (ys[1] if yt_key else None)
        n_classes = int(max(v.max() for v in ys)) + 1
        names = _npz_class_names(path, arrays.get("class_names"), n_classes)
    seen = np.unique(y if y_test is None else np.concatenate([y, y_test]))
    if len(seen) < 2:
        raise DatasetError(f"{path}: every label is {names[seen[0]]!r}; a classifier needs at least 2 classes")
    kind = "image" if x.ndim == 4 else "tabular"
    readonly(*(a for a in (x, y, x_test, y_test) if a is not None))
    return _UserFile(x, y, x_test, y_test, names, kind, layout, _npz_preview(x, y, names),
                     pixel_max=pixel_max(x) if kind == "image" else None)


def _npz_text_labels(path: str, arrays: dict[str, np.ndarray],
                     labels: list[tuple[str, np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray | None, tuple]:
    if "class_names" in arrays:
        raise DatasetError(f"{path}: give class_names only with integer labels; text labels already name "
                           f"their classes")
    flat = []
    for key, y, n in labels:
        y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim != 1 or len(y) != n:
            raise DatasetError(f"{path}: {key} has shape {y.shape} but there are {n} examples; give one label "
                               f"per example, shape ({n},)")
        flat.append(y.astype(str))
    codes, names = text_labels(np.concatenate(flat))
    y = codes[:len(flat[0])]
    return y, (codes[len(flat[0]):] if len(flat) > 1 else None), names


def _npz_class_names(path: str, names: np.ndarray | None, n_classes: int) -> tuple[str, ...]:
    """Optional `class_names` text array; otherwise "0", "1", ..."""
    if names is None:
        return tuple(str(i) for i in range(n_classes))
    if names.ndim != 1 or len(names) < n_classes:
        raise DatasetError(f"{path}: class_names has {names.size} entries but the labels go up to "
                           f"{n_classes - 1}; give one name per class")
    return tuple(str(n) for n in names)


def _npz_preview(x: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    rows = []
    for features, label in zip(x[:PREVIEW_ROWS], y[:PREVIEW_ROWS]):
        row: dict[str, Any] = {"label": names[label]}
        if x.ndim == 2:
            row.update({f"x[{i}]": _scalar(v) for i, v in enumerate(features[:PREVIEW_FEATURES])})
            if x.shape[1] > PREVIEW_FEATURES:
                row["…"] = f"+{x.shape[1] - PREVIEW_FEATURES} more"
        else:
            row.update({"shape": "×".join(map(str, features.shape)), "min": _scalar(features.min()),
                        "max": _scalar(features.max()), "mean": _scalar(features.mean())})
        rows.append(row)
    return tuple(rows)


def _scalar(value: Any) -> Any:
    """numpy scalars as plain Python numbers, floats to 4 significant digits."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.4g}")
    return value


_LABEL_NAMES = ("label", "labels", "class", "classes", "target", "y", "species", "category", "outcome")


def _label_guess(frame: Any) -> str | None:
    """A column that looks like the labels: a usual name, else the only text column."""
    named = [c for c in frame.columns if str(c).strip().lower() in _LABEL_NAMES]
    if named:
        return str(named[0])
    text = [c for c in frame.columns if frame[c].dtype == object]
    return str(text[0]) if len(text) == 1 else None


def _read_csv(path: str, limits: UploadLimits, label_column: str) -> _UserFile:
    shape = check_csv(path, limits)
    frame = read_csv_frame(path, nrows=limits.rows + 1)
    if len(frame) > limits.rows:
        refuse_rows(path, shape, limits)
    if label_column not in frame.columns:
        cols = ", ".join(map(str, frame.columns[:20])) + (", ..." if len(frame.columns) > 20 else "")
        guess = _label_guess(frame)
        guess = f" ({guess!r}?)" if guess is not None else ""
        raise DatasetError(f"{path} has no column {label_column!r} (columns: {cols}); set the label column "
                           f"(dataset.label_column) to the one holding the classes{guess}")
    notes = []
    index_cols = [c for c in frame.columns if str(c).startswith("Unnamed: ") and c != label_column
                  and frame[c].tolist() == list(range(len(frame)))]
    if index_cols:
        notes.append(f"column {index_cols[0]!r} holds just the row numbers 0, 1, 2, ... (a saved index): "
                     f"not used as a feature")
    features = frame.drop(columns=[label_column, *index_cols])
    if features.shape[1] == 0 or len(frame) < 2:
        raise DatasetError(f"{path} needs at least 2 rows and 1 feature column besides {label_column!r}; "
                           f"it has {len(frame)} rows and {features.shape[1]} feature columns")
    check_csv_features(path, features)
    x = features.to_numpy(dtype=np.float64)
    y, names = csv_labels(path, frame[label_column], label_column)
    readonly(x, y)
    preview = tuple({str(k): _scalar(v) for k, v in row.items()}
                    for row in frame.drop(columns=index_cols).head(PREVIEW_ROWS).to_dict("records"))
    layout = f"{features.shape[1]} numeric feature columns and the label column {label_column!r}"
    return _UserFile(x, y, None, None, names, "tabular", layout, preview, tuple(notes))

