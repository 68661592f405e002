"""Your own data: every accepted layout, the stratified split, limits, the summary, and bad files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bnviz.config import DatasetConfig
from bnviz.data.loading import DatasetError, load_dataset
from bnviz.data.uploads import inspect_upload


def _xy(n: int = 40, features: int = 3, classes: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)), np.arange(n) % classes


def _npz(tmp_path: Path, name: str = "data.npz", **arrays: object) -> str:
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def _load(path: str, kind: str = "npz", **kwargs: object):
    return load_dataset(DatasetConfig(name=kind, path=path, **kwargs))


# --- layouts ---------------------------------------------------------------------------


@pytest.mark.parametrize(("xkey", "ykey"), [("x", "y"), ("X", "y"), ("x_train", "y_train")])
def test_one_pool_layouts_are_split_80_20(tmp_path: Path, xkey: str, ykey: str) -> None:
    x, y = _xy(50)
    path = _npz(tmp_path, **{xkey: x, ykey: y})
    data = _load(path)
    assert (len(data.y_train), len(data.y_test)) == (40, 10)
    assert data.split == "split 80/20 stratified, seed 1 (the file has no test split)"
    # a partition of the file's rows, every row with its own label
    rows = np.concatenate([data.x_train, data.x_test]).astype(np.float64)
    order = np.lexsort(rows.T)
    np.testing.assert_allclose(rows[order], x[np.lexsort(x.T)], rtol=1e-6)
    summary = inspect_upload(path, "npz")
    assert summary.layout == f"arrays {xkey}, {ykey}" and not summary.test_given
    assert summary.shape == (50, 3) and summary.train_counts == (20, 20) and summary.test_counts == (5, 5)


def test_a_given_test_split_is_kept_as_it_is(tmp_path: Path) -> None:
    x, y = _xy(30)
    xt, yt = _xy(12, seed=1)
    path = _npz(tmp_path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    data = _load(path)
    np.testing.assert_allclose(data.x_test, xt.astype(np.float32))
    np.testing.assert_array_equal(data.y_train, y)
    summary = inspect_upload(path, "npz")
    assert summary.test_given and summary.split == "test split given in the file"
    assert summary.shape == (42, 3) and (summary.n_train, summary.n_test) == (30, 12)


def test_stratified_split_keeps_class_proportions_and_follows_the_seed(tmp_path: Path) -> None:
    y = np.repeat([0, 1, 2], [100, 50, 10])  # 62.5% / 31.25% / 6.25%
    x = np.arange(len(y), dtype=float)[:, None]
    path = _npz(tmp_path, x=x, y=y)
    data = _load(path, seed=7)
    assert np.bincount(data.y_train).tolist() == [80, 40, 8]
    assert np.bincount(data.y_test).tolist() == [20, 10, 2]
    again, other = _load(path, seed=7), _load(path, seed=8)
    np.testing.assert_array_equal(again.x_test, data.x_test)
    assert not np.array_equal(np.sort(other.x_test[:, 0]), np.sort(data.x_test[:, 0]))
    assert inspect_upload(path, "npz", seed=7).split == "split 80/20 stratified, seed 7 (the file has no test split)"


def test_npz_text_labels_become_classes_with_their_names(tmp_path: Path) -> None:
    x, _ = _xy(20)
    y = np.array(["dog", "cat", "eel", "cat"] * 5)
    data = _load(_npz(tmp_path, x=x, y=y))
    assert data.class_names == ("cat", "dog", "eel") and data.n_classes == 3
    assert np.bincount(np.concatenate([data.y_train, data.y_test])).tolist() == [10, 5, 5]


def test_npz_images_without_a_test_split(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 256, (30, 6, 6), dtype=np.uint8)
    path = _npz(tmp_path, x=x, y=np.arange(30) % 3)
    data = _load(path)
    assert data.kind == "image" and data.x_train.shape == (24, 6, 6, 1) and float(data.x_train.max()) <= 1.0
    summary = inspect_upload(path, "npz")
    assert summary.data_kind == "image" and summary.shape == (30, 6, 6, 1)
    assert summary.preview[0]["shape"] == "6×6×1" and summary.preview[0]["label"] == "0"


def test_csv_string_labels_split_stratified_with_a_preview(tmp_path: Path) -> None:
    species = np.repeat(["setosa", "virginica"], [30, 10])
    frame = pd.DataFrame({"petal": np.linspace(0, 1, 40), "sepal": np.arange(40) % 7, "species": species})
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=True)  # pandas' default: a saved index column
    summary = inspect_upload(path, "csv", "species", seed=3)
    assert summary.class_names == ("setosa", "virginica")
    assert summary.train_counts == (24, 8) and summary.test_counts == (6, 2)
    assert summary.shape == (40, 2) and summary.layout == "2 numeric feature columns and the label column 'species'"
    assert summary.notes == ("column 'Unnamed: 0' holds just the row numbers 0, 1, 2, ... (a saved index): "
                             "not used as a feature",)
    assert summary.preview[0] == {"petal": 0.0, "sepal": 0, "species": "setosa"} and len(summary.preview) == 5
    assert summary.class_table() == [{"class": "setosa", "train": 24, "test": 6},
                                     {"class": "virginica", "train": 8, "test": 2}]
    assert summary.headline() == "40 examples of 2 features, 2 classes · 32 train / 8 test"
    data = _load(str(path), "csv", label_column="species", seed=3)
    assert data.input_shape == (2,) and np.bincount(data.y_test).tolist() == [6, 2]


# --- counts from a preset never block a file ----------------------------------------------


def test_counts_larger_than_the_file_use_all_of_it_and_say_so(tmp_path: Path) -> None:
    x, y = _xy(50)
    path = _npz(tmp_path, x=x, y=y)
    data = _load(path, n_train=500, n_test=500)  # the circles preset's counts
    assert (len(data.y_train), len(data.y_test)) == (40, 10)
    assert data.notes == ("Training examples (n_train) is 500, more than the 40 in the file: using all 40",
                          "Test examples (n_test) is 500, more than the 10 in the file: using all 10")
    assert inspect_upload(path, "npz", n_train=500, n_test=500).notes == data.notes
    smaller = inspect_upload(path, "npz", n_train=12, n_test=4)  # counts that fit are limits
    assert (smaller.n_train, smaller.n_test, smaller.notes) == (12, 4, ())
    assert (len(_load(path, n_train=12, n_test=4).y_train)) == 12


# --- bad files: one line, what is wrong and what is expected ------------------------------


def _bad_npz(tmp_path: Path, **arrays: object) -> str:
    return _npz(tmp_path, "bad.npz", **arrays)


X10, Y10 = np.ones((10, 2)), np.arange(10) % 2


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"features": X10, "target": Y10}, ["holds features, target", "np.savez(path, x=X, y=y)"]),
        ({"x": X10}, ["holds x", "np.savez(path, x=X, y=y)"]),
        ({"x": X10, "X": X10, "y": Y10}, ["both 'x' and 'X'", "keep one"]),
        ({"x_train": X10, "y_train": Y10, "y_test": Y10}, ["lacks x_test", "together"]),
        ({"x": np.array([[1.0, 2.0], [3.0]], dtype=object), "y": [0, 1]}, ["'x'", "rows of different lengths"]),
        ({"x": X10, "y": np.arange(9) % 2}, ["y has 9 labels", "10 examples"]),
        ({"x": np.array([["a", "b"]] * 10), "y": Y10}, ["dtype <U1", "numeric", "encode text"]),
        ({"x": np.where(np.eye(10, 2) > 0, np.nan, 1.0), "y": Y10}, ["NaN", "in 2 examples"]),
        ({"x": X10, "y": np.where(np.arange(10) == 3, np.nan, Y10)}, ["NaN or infinite labels"]),
        ({"x": X10, "y": np.zeros(10, int)}, ["every label is '0'", "at least 2 classes"]),
        ({"x": X10, "y": np.array([0] * 9 + [1])}, ["class '1' has only 1 example", "x_train, y_train, x_test"]),
        ({"x": np.ones((4, 2)), "y": np.arange(4)}, ["class '0' has only 1 example", "(and 3 more classes)"]),
    ],
    ids=["wrong-keys", "no-labels", "x-and-X", "half-a-test-split", "ragged", "length-mismatch", "text-features",
         "nan-features", "nan-labels", "one-class", "class-of-one", "all-classes-of-one"],
)
def test_bad_npz_files(tmp_path: Path, arrays: dict, expected: list[str]) -> None:
    path = _bad_npz(tmp_path, **arrays)
    with pytest.raises(DatasetError) as err:
        inspect_upload(path, "npz")
    message = str(err.value)
    assert message.startswith(path) and "\n" not in message
    for part in expected:
        assert part in message
    with pytest.raises(DatasetError, match="^" + str(err.value)[:40].replace("(", r"\(")):
        _load(path)  # training refuses the same file with the same words


@pytest.mark.parametrize(
    ("content", "label", "expected"),
    [
        ("a,b,species\n1,2,x\n3,4,y\n", "label", ["no column 'label'", "(columns: a, b, species)",
                                                  "('species'?)"]),
        ("a,b,label\n1,2,x\n3,4,5,y\n5,6,x\n", "label", ["line 3 has 4 values", "header names 3 columns"]),
        ("a,color,label\n1,red,x\n2,blue,y\n", "label", ["not numeric: color", "'red'"]),
        ("a,b,label\n1,,x\n2,3,y\n", "label", ["missing values in 1 rows", "columns: b"]),
        ("a,label\n1,x\n2,x\n3,x\n", "label", ["only one class", "'x'"]),
        ("a,label\n" + "1,x\n" * 9 + "2,y\n", "label", ["class 'y' has only 1 example", "add rows"]),
    ],
    ids=["missing-label-column", "ragged-row", "text-feature", "nan", "one-class", "class-of-one"],
)
def test_bad_csv_files(tmp_path: Path, content: str, label: str, expected: list[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DatasetError) as err:
        inspect_upload(path, "csv", label)
    for part in expected:
        assert part in str(err.value)


def test_unknown_kind_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="one of: npz, csv"):
        inspect_upload(tmp_path / "a.parquet", "parquet")
    with pytest.raises(DatasetError, match="does not exist"):
        inspect_upload(tmp_path / "nope.csv", "csv")


# --- the Experiment page shows what was read ----------------------------------------------


def _text(markdown: str) -> str:
    """What the visitor reads: the page escapes punctuation in file and column names (ui.common.plain)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def test_experiment_page_shows_an_uploaded_files_summary_and_a_bad_files_error() -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=90)
    at.run()
    at.selectbox(key="f:dataset.name").set_value("csv").run()
    at.text_input(key="f:dataset.label_column").set_value("species").run()
    rows = "".join(f"{i / 10},{i % 3},{'setosa' if i % 4 else 'virginica'}\n" for i in range(40))
    at.file_uploader[0].set_value(("iris.csv", ("petal,sepal,species\n" + rows).encode(), "text/csv")).run()
    assert not at.exception
    success = [_text(s.value) for s in at.success]
    assert success == ["**iris.csv**: 40 examples of 2 features, 2 classes · 32 train / 8 test"]
    captions = " ".join(_text(c.value) for c in at.caption)
    assert "Read 2 numeric feature columns and the label column 'species'. Split 80/20 stratified, seed" in captions
    # the preset's counts (500/500) are limits here, said out loud; they do not block the file
    assert [_text(i.value) for i in at.info] == [
        "- Training examples (n_train) is 500, more than the 32 in the file: using all 32\n"
        "- Test examples (n_test) is 500, more than the 8 in the file: using all 8"]
    tables = [t.value for t in at.dataframe]
    assert tables[0].to_dict("records") == [{"class": "setosa", "train": 24, "test": 6},
                                            {"class": "virginica", "train": 8, "test": 2}]
    assert list(tables[1].columns) == ["petal", "sepal", "species"] and len(tables[1]) == 5

    at.file_uploader[0].set_value(("broken.csv", b"a,b,label\n1,2,x\n3,4,5,y\n", "text/csv")).run()
    assert not at.exception
    assert any(_text(e.value).startswith("broken.csv: line 3 has 4 values") for e in at.error)


def test_a_run_records_what_it_trained_on(tmp_path: Path, tiny) -> None:
    from bnviz.train.training import train

    x, y = _xy(60, features=2)
    path = _npz(tmp_path, x=x, y=y)
    config = tiny().with_updates({"dataset.name": "npz", "dataset.path": path, "dataset.n_train": 500,
                                  "dataset.n_test": None, "training.epochs": 1})
    record = train(config)
    assert record["status"] == "succeeded"
    assert record["summary"]["data"] == {
        "n_train": 48, "n_test": 12, "class_names": ["0", "1"],
        "split": "split 80/20 stratified, seed 1 (the file has no test split)",
        "notes": ["Training examples (n_train) is 500, more than the 48 in the file: using all 48"]}
