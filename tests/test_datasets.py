"""Tests of bnviz.data.loading: real numbers, real files, and the messages a user gets to read."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_circles

from bnviz.config import DatasetConfig
from bnviz.data import downloads, registry
from bnviz.data import loading as ds
from bnviz.data.loading import DATASET_INFO, DatasetError, load_dataset, read_idx_gz, write_idx_gz

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"
IDX_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
CIFAR_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")


class DownloadAttempted(AssertionError):
    pass


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No test sees the developer's data dir, offline flag or Keras cache, and none downloads."""
    monkeypatch.delenv("BNVIZ_DATA_DIR", raising=False)
    monkeypatch.delenv("BNVIZ_OFFLINE", raising=False)
    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(keras_home))

    def no_download(name: str) -> None:
        raise DownloadAttempted(f"test tried to download {name}")

    monkeypatch.setattr(downloads, "keras_load", no_download)
    return keras_home


def cfg(**kwargs: object) -> DatasetConfig:
    return DatasetConfig(**kwargs)


def read_idx(path: Path) -> np.ndarray:
    """An independent IDX reader, so the module's parser is checked against something else."""
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_mnist_dir(folder: Path, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                    y_test: np.ndarray) -> Path:
    for name, arr in zip(IDX_NAMES, (x_train, y_train, x_test, y_test)):
        write_idx_gz(folder / name, arr)
    return folder


def tiny_mnist(folder: Path, n_train: int = 6, n_test: int = 4) -> Path:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n_train + n_test, 28, 28), dtype=np.uint8)
    labels = (np.arange(n_train + n_test) % 10).astype(np.uint8)
    return write_mnist_dir(folder, images[:n_train], labels[:n_train], images[n_train:], labels[n_train:])


# --- built-in datasets ------------------------------------------------------------


def test_circles_reproduces_the_tutorial_split_exactly() -> None:
    data = load_dataset(cfg())  # defaults: circles, 500/500, noise 0.1, seed 1
    x, y = make_circles(n_samples=1000, noise=0.1, random_state=1)
    np.testing.assert_array_equal(data.x_train, x[:500].astype(np.float32))
    np.testing.assert_array_equal(data.y_train, y[:500])
    np.testing.assert_array_equal(data.x_test, x[500:].astype(np.float32))
    np.testing.assert_array_equal(data.y_test, y[500:])


@pytest.mark.parametrize(
    ("name", "extra", "train_shape", "test_shape", "n_classes", "kind"),
    [
        ("circles", {}, (500, 2), (500, 2), 2, "tabular"),
        ("moons", {}, (500, 2), (500, 2), 2, "tabular"),
        ("spirals", {}, (500, 2), (500, 2), 2, "tabular"),
        ("blobs", {"n_classes": 4}, (500, 2), (500, 2), 4, "tabular"),
        ("digits", {}, (1437, 8, 8, 1), (360, 8, 8, 1), 10, "image"),
        ("moons", {"n_train": 120, "n_test": 30}, (120, 2), (30, 2), 2, "tabular"),
    ],
)
def test_builtin_shapes(name: str, extra: dict, train_shape: tuple, test_shape: tuple,
                        n_classes: int, kind: str) -> None:
    data = load_dataset(cfg(name=name, **extra))
    assert data.x_train.shape == train_shape and data.x_test.shape == test_shape
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.n_classes == n_classes == len(data.class_names)
    assert set(np.unique(data.y_train)) == set(range(n_classes))
    assert data.kind == kind and data.is_image == (kind == "image")
    assert data.input_shape == train_shape[1:]
    if cfg(name=name).n_train is None and not extra:
        assert (DATASET_INFO[name].n_train, DATASET_INFO[name].n_test) == (train_shape[0], test_shape[0])


def test_spirals_are_seeded_and_noise_scales_the_jitter() -> None:
    a, b = load_dataset(cfg(name="spirals")), load_dataset(cfg(name="spirals"))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    other = load_dataset(cfg(name="spirals", seed=2))
    assert not np.array_equal(a.x_train, other.x_train)
    clean = load_dataset(cfg(name="spirals", noise=0.0))
    assert np.linalg.norm(clean.x_train, axis=1).max() <= 1.0 + 1e-6  # arms stay inside radius 1
    assert np.linalg.norm(a.x_train, axis=1).max() > 1.0  # jitter pushes some points out


def test_digits_pixels_and_split() -> None:
    auto = load_dataset(cfg(name="digits"))
    assert auto.x_train.min() == 0.0 and auto.x_train.max() == 1.0  # divided by 16
    raw = load_dataset(cfg(name="digits", preprocessing="raw"))
    assert raw.x_train.max() == 16.0
    np.testing.assert_allclose(raw.x_train / 16.0, auto.x_train, rtol=1e-6)
    smaller = load_dataset(cfg(name="digits", n_train=100))
    np.testing.assert_array_equal(smaller.y_test, auto.y_test)  # the test set stays put
    with pytest.raises(DatasetError, match="1797 images; n_train=1500 plus n_test=360"):
        load_dataset(cfg(name="digits", n_train=1500))


def test_unit_preprocessing_maps_train_to_0_1() -> None:
    data = load_dataset(cfg(name="moons", preprocessing="unit"))
    np.testing.assert_allclose(data.x_train.min(axis=0), [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(data.x_train.max(axis=0), [1.0, 1.0], atol=1e-6)


def test_standardize_gives_zero_mean_unit_std_on_train() -> None:
    data = load_dataset(cfg(name="blobs", preprocessing="standardize"))
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(axis=0), 1.0, atol=1e-5)
    images = load_dataset(cfg(name="digits", preprocessing="standardize"))  # one statistic per channel
    assert abs(images.x_train.mean()) < 1e-4 and abs(images.x_train.std() - 1.0) < 1e-4


def test_auto_leaves_tabular_values_alone() -> None:
    auto, raw = load_dataset(cfg(name="blobs")), load_dataset(cfg(name="blobs", preprocessing="raw"))
    np.testing.assert_array_equal(auto.x_train, raw.x_train)
    assert auto.x_train.max() > 1.0


def test_callers_cannot_corrupt_the_cache() -> None:
    first = load_dataset(cfg(name="digits", preprocessing="raw"))
    first.x_train[:] = -1
    first.y_train[:] = 0
    again = load_dataset(cfg(name="digits", preprocessing="raw"))
    assert again.x_train.min() == 0.0 and len(np.unique(again.y_train)) == 10


def test_dataset_info_covers_every_configurable_name() -> None:
    assert set(DATASET_INFO) == set(registry.names())
    assert {n for n, i in DATASET_INFO.items() if i.downloadable} == {"mnist", "fashion_mnist", "cifar10"}


def test_data_dir_reads_the_env_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert ds.data_dir() is None
    monkeypatch.setenv("BNVIZ_DATA_DIR", str(tmp_path))
    assert ds.data_dir() == tmp_path


def test_importing_the_module_does_not_import_keras_or_sklearn() -> None:
    code = ("import sys, bnviz.data.loading; "
            "print(sorted(m for m in ('keras', 'tensorflow', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- npz ------------------------------------------------------------------------------


def test_npz_round_trip_tabular(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.normal(size=(30, 3)), "y_train": np.arange(30) % 3,
              "x_test": rng.normal(size=(10, 3)), "y_test": np.arange(10) % 3,
              "class_names": np.array(["cat", "dog", "eel"])}
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    data = load_dataset(cfg(name="npz", path=str(path)))
    np.testing.assert_allclose(data.x_train, arrays["x_train"].astype(np.float32))
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])
    assert data.kind == "tabular" and data.n_classes == 3 and data.class_names == ("cat", "dog", "eel")
    first = load_dataset(cfg(name="npz", path=str(path), n_train=5, n_test=2))
    np.testing.assert_array_equal(first.y_train, arrays["y_train"][:5])
    clamped = load_dataset(cfg(name="npz", path=str(path), n_train=31))  # a limit, not a demand
    assert len(clamped.y_train) == 30 and clamped.split == "test split given in the file"
    assert clamped.notes == ("Training examples (n_train) is 31, more than the 30 in the file: using all 30",)


def test_npz_round_trip_grey_images(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (12, 5, 5), dtype=np.uint8)
    path = tmp_path / "images.npz"
    np.savez(path, x_train=x[:8], y_train=np.arange(8) % 2, x_test=x[8:], y_test=np.array([[0], [1], [0], [1]]))
    data = load_dataset(cfg(name="npz", path=str(path)))
    assert data.kind == "image" and data.x_train.shape == (8, 5, 5, 1) and data.y_test.shape == (4,)
    np.testing.assert_allclose(data.x_train[..., 0], x[:8] / 255.0, rtol=1e-6)


def good_npz() -> dict[str, np.ndarray]:
    return {"x_train": np.ones((10, 2)), "y_train": np.arange(10) % 2,
            "x_test": np.ones((4, 2)), "y_test": np.arange(4) % 2}


def npz_with(**changes: object) -> dict[str, object]:
    arrays: dict[str, object] = dict(good_npz())
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    return arrays


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        (npz_with(y_test=None), ["lacks y_test", "x_train, y_train, x_test"]),
        (npz_with(y_train=np.arange(9) % 2), ["9 labels", "10 examples"]),
        (npz_with(x_train=np.array([["a", "b"]] * 10)), ["x_train", "<U1", "numeric"]),
        (npz_with(x_train=np.array([[1, None]] * 10, dtype=object)), ["'x_train'", "dtype=object"]),
        (npz_with(y_train=np.array([0, 1, -1, 0, 1, 0, 1, 0, 1, 0])), ["negative"]),
        (npz_with(y_train=np.full(10, 0.5)), ["non-integer"]),
        (npz_with(y_train=np.zeros(10, int), y_test=np.zeros(4, int)), ["at least 2 classes"]),
        (npz_with(y_train=np.eye(2)[np.arange(10) % 2]), ["one-hot"]),
        (npz_with(x_train=np.full((10, 2), np.nan)), ["NaN"]),
        (npz_with(x_train=np.ones((0, 2)), y_train=np.zeros(0, int)), ["x_train is empty"]),
        (npz_with(x_test=np.ones((4, 3))), ["must match"]),
        (npz_with(x_train=np.ones((10, 1, 1, 1, 1))), ["(N, features)"]),
    ],
    ids=["missing-key", "length-mismatch", "text", "object-array", "negative", "fractional", "one-class",
         "one-hot", "nan", "empty", "feature-mismatch", "5d"],
)
def test_malformed_npz(tmp_path: Path, arrays: dict, expected: list[str]) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError) as err:
        load_dataset(cfg(name="npz", path=str(path)))
    for part in expected:
        assert part in str(err.value)


def test_corrupt_truncated_and_missing_npz(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip archive at all")
    truncated = tmp_path / "truncated.npz"
    np.savez(truncated, **good_npz())
    truncated.write_bytes(truncated.read_bytes()[:200])
    single = tmp_path / "single.npy"
    np.save(single, np.ones(3))
    cases = {garbage: "neither an .npz archive nor an .npy", truncated: "not a readable .npz",
             single: "single array", tmp_path / "nope.npz": "does not exist", tmp_path: "is a folder"}
    for path, expected in cases.items():
        with pytest.raises(DatasetError, match=expected) as err:
            load_dataset(cfg(name="npz", path=str(path)))
        assert str(path) in str(err.value)


# --- csv ------------------------------------------------------------------------------


def test_csv_with_string_labels(tmp_path: Path) -> None:
    species = np.array(["virginica", "setosa", "versicolor"])[np.arange(50) % 3]
    frame = pd.DataFrame({"row": np.arange(50), "width": np.linspace(0, 1, 50), "species": species})
    path = tmp_path / "flowers.csv"
    frame.to_csv(path, index=False)
    data = load_dataset(cfg(name="csv", path=str(path), label_column="species"))
    assert data.class_names == ("setosa", "versicolor", "virginica")
    assert data.x_train.shape == (40, 2) and data.x_test.shape == (10, 2) and data.kind == "tabular"
    for x, y in zip(np.concatenate([data.x_train, data.x_test]), np.concatenate([data.y_train, data.y_test])):
        assert data.class_names[y] == species[int(x[0])]  # every row keeps its own label
    rows = np.concatenate([data.x_train[:, 0], data.x_test[:, 0]])
    assert sorted(rows.astype(int)) == list(range(50))  # a shuffled partition, nothing lost
    assert not np.array_equal(data.x_train[:, 0], np.arange(40))
    again = load_dataset(cfg(name="csv", path=str(path), label_column="species"))
    np.testing.assert_array_equal(again.x_test, data.x_test)
    capped = load_dataset(cfg(name="csv", path=str(path), label_column="species", n_train=15, n_test=5))
    assert len(capped.y_train) == 15 and len(capped.y_test) == 5


def test_csv_integer_labels_keep_their_values_as_names(tmp_path: Path) -> None:
    path = tmp_path / "ints.csv"
    pd.DataFrame({"a": range(20), "label": [3, 7] * 10}).to_csv(path, index=False)
    data = load_dataset(cfg(name="csv", path=str(path)))
    assert data.class_names == ("3", "7") and set(data.y_train) <= {0, 1}


@pytest.mark.parametrize(
    ("content", "kwargs", "expected"),
    [
        ("a,b,target\n1,2,x\n3,4,y\n", {}, ["no column 'label'", "a, b, target", "label_column"]),
        ("a,color,label\n1,red,x\n2,blue,y\n", {}, ["not numeric: color", "'red'"]),
        ("a,b,label\n1,,x\n2,3,y\n", {}, ["missing values", "columns: b"]),
        ("a,label\n1,x\n2,x\n3,x\n", {}, ["only one class", "'x'"]),
        ("a,label\n1,0.25\n2,0.5\n", {}, ["non-integer"]),
        ("a,label\n1,x\n2,\n3,y\n", {}, ["empty values"]),
        ("", {}, ["is empty"]),
        ("a,label\n1,x\n2,y\n3,x\n", {"n_test": 3}, ["class 'y' has only 1 example", "at least 2 of every"]),
        ("label\nx\ny\n", {}, ["1 feature column"]),
    ],
    ids=["no-label", "text-feature", "nan", "one-class", "continuous", "empty-label", "empty-file",
         "class-of-one", "no-features"],
)
def test_malformed_csv(tmp_path: Path, content: str, kwargs: dict, expected: list[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DatasetError) as err:
        load_dataset(cfg(name="csv", path=str(path), **kwargs))
    for part in expected:
        assert part in str(err.value)


def test_csv_missing_or_binary_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(cfg(name="csv", path=str(tmp_path / "nope.csv")))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81\x00\xc3\x28" * 50)
    with pytest.raises(DatasetError, match="cannot be read as CSV"):
        load_dataset(cfg(name="csv", path=str(binary)))


def test_csv_edit_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "live.csv"
    path.write_text("a,label\n" + "1,x\n2,y\n" * 5)
    assert load_dataset(cfg(name="csv", path=str(path))).class_names == ("x", "y")
    path.write_text("a,label\n" + "1,x\n2,y\n3,z\n" * 5)
    os.utime(path, ns=(0, 10**18))  # a different mtime even on coarse-grained file systems
    assert load_dataset(cfg(name="csv", path=str(path))).class_names == ("x", "y", "z")


# --- MNIST from the real shared test digits ------------------------------------------------


@pytest.fixture(scope="module")
def real_mnist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A data dir whose train files are the first 8,000 real test digits and test files the last 2,000."""
    files = [SHARED_MNIST / "t10k-images-idx3-ubyte.gz", SHARED_MNIST / "t10k-labels-idx1-ubyte.gz"]
    if not all(f.is_file() for f in files):
        reason = f"real MNIST digits not found at {SHARED_MNIST} (expected t10k-*-ubyte.gz there)"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
            pytest.fail(reason + "; CI must have shared/ beside the repo")
        pytest.skip(reason)
    images, labels = read_idx(files[0]), read_idx(files[1])
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    root = tmp_path_factory.mktemp("data")
    write_mnist_dir(root / "mnist", images[:8000], labels[:8000], images[8000:], labels[8000:])
    return root, images, labels


def test_local_mnist_from_real_digits(real_mnist: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    root, images, labels = real_mnist
    monkeypatch.setenv("BNVIZ_DATA_DIR", str(root))
    monkeypatch.setenv("BNVIZ_OFFLINE", "1")
    data = load_dataset(cfg(name="mnist"))
    assert data.x_train.shape == (8000, 28, 28, 1) and data.x_test.shape == (2000, 28, 28, 1)
    assert data.x_train.dtype == np.float32 and data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    assert set(np.unique(data.y_train)) == set(range(10)) == set(np.unique(data.y_test))
    np.testing.assert_array_equal(data.y_train, labels[:8000])
    np.testing.assert_array_equal(data.y_test, labels[8000:])
    np.testing.assert_allclose(data.x_test[-1, ..., 0], images[-1] / 255.0, rtol=1e-6)
    assert data.class_names == tuple("0123456789") and data.n_classes == 10


def test_local_mnist_takes_the_first_n(real_mnist: tuple) -> None:
    root, images, labels = real_mnist
    data = load_dataset(cfg(name="mnist", n_train=100, n_test=20, preprocessing="raw"), data_dir=root)
    assert data.x_train.shape == (100, 28, 28, 1) and data.x_test.shape == (20, 28, 28, 1)
    np.testing.assert_array_equal(data.y_train, labels[:100])
    np.testing.assert_array_equal(data.x_train[..., 0], images[:100])  # raw: 0..255 unchanged
    np.testing.assert_array_equal(data.y_test, labels[8000:8020])
    with pytest.raises(DatasetError, match="has 8000 training examples; n_train=8001"):
        load_dataset(cfg(name="mnist", n_train=8001), data_dir=root)


# --- downloadable sets: local files, cache, offline and failures --------------------------


def test_mnist_files_directly_in_the_data_dir_and_fashion_subdir(tmp_path: Path) -> None:
    tiny_mnist(tmp_path / "flat")
    assert load_dataset(cfg(name="mnist"), data_dir=tmp_path / "flat").x_train.shape == (6, 28, 28, 1)
    tiny_mnist(tmp_path / "root" / "fashion_mnist", n_train=3, n_test=2)
    fashion = load_dataset(cfg(name="fashion_mnist"), data_dir=tmp_path / "root")
    assert fashion.x_test.shape == (2, 28, 28, 1) and fashion.class_names[-1] == "Ankle boot"


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_offline_and_not_cached(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("BNVIZ_OFFLINE", "1")
    monkeypatch.setenv("BNVIZ_DATA_DIR", str(empty))
    with pytest.raises(DatasetError) as err:
        load_dataset(cfg(name=name))
    message = str(err.value)
    wanted = CIFAR_BATCHES + ("cifar-10-python.tar.gz",) if name == "cifar10" else IDX_NAMES
    for part in (name, "BNVIZ_OFFLINE=1", "BNVIZ_DATA_DIR", str(empty / name), *wanted):
        assert part in message
    assert "\n" not in message


def test_download_disabled_by_argument_without_data_dir() -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset(cfg(name="mnist"), allow_download=False)
    assert "downloading is disabled" in str(err.value)
    assert "set BNVIZ_DATA_DIR=DIR" in str(err.value) and "currently unset" in str(err.value)


def test_download_failure_becomes_a_dataset_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def offline(name: str) -> None:
        raise OSError("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(downloads, "keras_load", offline)
    monkeypatch.setenv("BNVIZ_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetError) as err:
        load_dataset(cfg(name="fashion_mnist"))
    message = str(err.value)
    for part in ("fashion_mnist could not be loaded", "download failed", "Temporary failure",
                 str(tmp_path / "fashion_mnist"), repr(str(tmp_path)), *IDX_NAMES):
        assert part in message


def test_keras_loader_results_are_normalized(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)

    def fake(name: str) -> tuple[np.ndarray, ...]:
        if name == "cifar10":
            x = rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
            return x[:5], np.arange(5).reshape(5, 1), x[5:], np.array([[8], [9]])
        x = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
        return x[:5], np.arange(5, dtype=np.uint8), x[5:], np.array([1, 2], np.uint8)

    monkeypatch.setattr(downloads, "keras_load", fake)
    cifar = load_dataset(cfg(name="cifar10"))
    assert cifar.x_train.shape == (5, 32, 32, 3) and cifar.y_test.tolist() == [8, 9]
    assert cifar.class_names[0] == "airplane" and cifar.x_train.max() <= 1.0
    mnist = load_dataset(cfg(name="mnist", n_test=1))
    assert mnist.x_train.shape == (5, 28, 28, 1) and mnist.y_test.tolist() == [1]


def test_keras_cache_is_used_offline(_isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _isolated / "datasets"
    cache.mkdir()
    x = np.zeros((3, 28, 28), np.uint8)
    x[:, 0, 0] = 255
    np.savez(cache / "mnist.npz", x_train=x, y_train=np.array([0, 1, 2], np.uint8),
             x_test=x[:1], y_test=np.array([9], np.uint8))
    monkeypatch.setenv("BNVIZ_OFFLINE", "1")
    data = load_dataset(cfg(name="mnist"))
    assert data.x_train.shape == (3, 28, 28, 1) and data.x_train[0, 0, 0, 0] == 1.0
    assert data.y_test.tolist() == [9]


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not gzip at all", "cannot be read as a gzip IDX file"),
        (gz(b"\x08\x03\x00\x00" + b"\x00" * 40), "bad magic number"),
        (gz(b"\x00\x00\x08\x03" + struct.pack(">3I", 6, 28, 28) + b"\x00" * 100), "truncated or damaged"),
        (gz(b"\x00\x00\x08\x01" + struct.pack(">I", 6) + b"\x00" * 6), "has 1 dimensions"),
        (gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 2000)[:-30], "cannot be read as a gzip IDX file"),
    ],
    ids=["not-gzip", "bad-magic", "short-data", "labels-as-images", "truncated-gzip"],
)
def test_corrupt_idx_file(tmp_path: Path, content: bytes, expected: str) -> None:
    folder = tiny_mnist(tmp_path / "mnist")
    (folder / "train-images-idx3-ubyte.gz").write_bytes(content)
    with pytest.raises(DatasetError, match=expected) as err:
        load_dataset(cfg(name="mnist"), data_dir=tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(err.value)


def test_images_and_labels_must_belong_together(tmp_path: Path) -> None:
    folder = tiny_mnist(tmp_path / "mnist")
    write_idx_gz(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DatasetError, match="4 images but 3 labels"):
        load_dataset(cfg(name="mnist"), data_dir=tmp_path)


def test_only_t10k_files_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tiny_mnist(tmp_path / "mnist")
    for name in IDX_NAMES[:2]:
        (folder / name).unlink()
    monkeypatch.setenv("BNVIZ_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetError) as err:
        load_dataset(cfg(name="mnist"))
    message = str(err.value)
    assert "missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz (" in message
    assert str(folder) in message


def test_write_idx_gz_rejects_non_bytes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="0..255"):
        write_idx_gz(tmp_path / "x.gz", np.array([0.5]))
    with pytest.raises(ValueError, match="0..255"):
        write_idx_gz(tmp_path / "x.gz", np.array([256]))
    write_idx_gz(tmp_path / "ok.gz", np.array([[1, 2], [3, 255]]))
    np.testing.assert_array_equal(read_idx(tmp_path / "ok.gz"), [[1, 2], [3, 255]])


def test_read_idx_gz_round_trip_and_damage(tmp_path: Path) -> None:
    cube = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx_gz(tmp_path / "cube.gz", cube)
    back = read_idx_gz(tmp_path / "cube.gz")
    np.testing.assert_array_equal(back, cube)
    assert back.dtype == np.uint8 and not back.flags.writeable
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x02" + struct.pack(">2I", 5, 5)))
    with pytest.raises(DatasetError, match="promises 25 bytes of values, it holds 0"):
        read_idx_gz(tmp_path / "bad.gz")


# --- CIFAR-10 from a tiny fake cifar-10-batches-py ---------------------------------------------


def write_cifar(folder: Path, n: int = 4) -> dict[str, tuple[np.ndarray, list[int]]]:
    rng = np.random.default_rng(3)
    folder.mkdir(parents=True)
    batches = {}
    for i, name in enumerate(CIFAR_BATCHES):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [(i + j) % 10 for j in range(n)]
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": labels}, f, protocol=2)
        batches[name] = (data, labels)
    return batches


def test_cifar10_from_local_batches_and_tarball(tmp_path: Path) -> None:
    batches = write_cifar(tmp_path / "a" / "cifar10" / "cifar-10-batches-py")
    data = load_dataset(cfg(name="cifar10", preprocessing="raw"), data_dir=tmp_path / "a")
    assert data.x_train.shape == (20, 32, 32, 3) and data.x_test.shape == (4, 32, 32, 3)
    first, labels = batches["data_batch_1"]
    # the file stores each image as 1024 red, 1024 green, 1024 blue values, row by row
    assert data.x_train[0, 2, 5, 1] == first[0, 1024 + 2 * 32 + 5]
    np.testing.assert_array_equal(data.y_train[:4], labels)
    np.testing.assert_array_equal(data.y_test, batches["test_batch"][1])
    assert data.class_names[3] == "cat"

    tar_dir = tmp_path / "b" / "cifar10"
    tar_dir.mkdir(parents=True)
    with tarfile.open(tar_dir / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "a" / "cifar10" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    from_tar = load_dataset(cfg(name="cifar10", preprocessing="raw"), data_dir=tmp_path / "b")
    np.testing.assert_array_equal(from_tar.x_train, data.x_train)
    np.testing.assert_array_equal(from_tar.y_test, data.y_test)


def test_cifar10_partial_or_malicious_batches(tmp_path: Path) -> None:
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    write_cifar(folder)
    (folder / "data_batch_5").unlink()
    with pytest.raises(DatasetError, match="missing data_batch_5"):
        load_dataset(cfg(name="cifar10"), data_dir=tmp_path)

    class Exploit:
        def __reduce__(self) -> tuple:
            return (os.system, ("echo pwned",))

    (folder / "data_batch_5").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(DatasetError, match="not a CIFAR-10 batch.*refusing"):
        load_dataset(cfg(name="cifar10"), data_dir=tmp_path)
