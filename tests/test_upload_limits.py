"""Uploads that cannot exhaust the server (issue 20): each attack refused with one line, in little memory.

The attacks measured on main: a 1 MB .npz that unpacks to 1 GB of zeros took the server and its
helpers to 3.6 GB; a 3 MB CSV with 200,000 columns took 28 s to summarise. Here both are refused
from their headers, before anything is unpacked or parsed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bnviz.data import upload_limits
from bnviz.data.loading import DatasetError
from bnviz.data.upload_checks import npz_layout
from bnviz.data.upload_limits import MB, ParsedCache, UploadLimits, check_npz, csv_shape, zip_members
from bnviz.data.uploads import inspect_upload
from bnviz.settings import Settings
from tests.apptest_helpers import fake_trainer_env, open_app  # noqa: F401 - an autouse fixture

REPO = Path(__file__).resolve().parents[1]
BOMB_ROWS, BOMB_FEATURES = 1 << 20, 256  # float32: 1 GiB of zeros


def write_npz_bomb(path: Path, rows: int = BOMB_ROWS, features: int = BOMB_FEATURES) -> Path:
    """An .npz whose x is rows × features float32 zeros, written in 16 MB pieces (never held whole)."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
              "shape": (rows, features)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            zeros, left = bytes(16 * MB), rows * features * 4
            while left:
                member.write(zeros[:min(left, len(zeros))])
                left -= min(left, len(zeros))
        with archive.open("y.npy", "w") as member:
            np.lib.format.write_array(member, np.arange(rows, dtype=np.int8) % 2)
    return path


def write_wide_csv(path: Path, columns: int = 200_000, rows: int = 4) -> Path:
    """About 3 MB: a header of `columns` names and a few rows of zeros."""
    with open(path, "w") as out:
        out.write(",".join(f"f{i}" for i in range(columns - 1)) + ",label\n")
        for r in range(rows):
            out.write("0," * (columns - 1) + f"{r % 2}\n")
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    return write_npz_bomb(tmp_path_factory.mktemp("bomb") / "bomb.npz")


def _text(markdown: str) -> str:
    """A message as the visitor reads it: the page escapes every punctuation character (ui.common.plain)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("&lt;", "<").replace("&gt;", ">")


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and len(message) < 300, message
    return message


# --- the two attacks, measured in a fresh process ---------------------------------------------------

_MEASURE = """
import json, sys, time
from bnviz.config import DatasetConfig
from bnviz.data.loading import DatasetError, load_dataset
from bnviz.data.uploads import inspect_upload
path, kind, label = sys.argv[1:4]
started = time.perf_counter()
messages = []
for read in (lambda: inspect_upload(path, kind, label), lambda: load_dataset(DatasetConfig(name=kind, path=path,
             label_column=label))):
    try:
        read()
    except DatasetError as exc:
        messages.append(str(exc))
seconds = time.perf_counter() - started
# VmHWM: this process's own peak. (ru_maxrss would count the forking parent's memory too: Linux keeps it across exec,
# and a full test run's pytest process holds gigabytes.)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"messages": messages, "seconds": seconds, "peak_mb": peak_kb / 1024}))
"""


def _refused_in_a_fresh_process(path: Path, kind: str, label: str = "label") -> dict:
    """Preview (inspect_upload) and training's reader (load_dataset) of `path`, in a process of their own."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path), kind, label], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["messages"]) == 2 and result["messages"][0] == result["messages"][1], result
    return result


def test_an_npz_that_unpacks_to_1_gb_is_refused_from_its_headers_in_little_memory(bomb: Path) -> None:
    assert bomb.stat().st_size < 2 * MB  # the attack: about 1 MB sent, 1 GB once unpacked
    result = _refused_in_a_fresh_process(bomb, "npz")
    message = result["messages"][0]
    assert message == (f"{bomb}: its arrays take 1,025 MB once unpacked (x is 1,048,576×256 float32); an upload "
                       f"may take at most 256 MB")
    print(f"\nnpz bomb refused in {result['seconds'] * 1000:.0f} ms (preview and training's reader), "
          f"peak RSS {result['peak_mb']:.0f} MB")
    assert result["peak_mb"] < 1536  # main: 3.6 GB; the arrays alone are 1 GB


def test_a_csv_with_200000_columns_is_refused_from_its_header_line(tmp_path: Path) -> None:
    wide = write_wide_csv(tmp_path / "wide.csv")
    assert 2.5 * MB < wide.stat().st_size < 3.5 * MB
    result = _refused_in_a_fresh_process(wide, "csv")
    assert result["messages"][0] == f"{wide}: its header names 200,000 columns; an upload may have at most 4,096"
    print(f"\nwide CSV refused in {result['seconds'] * 1000:.0f} ms (main: 28 s), peak RSS {result['peak_mb']:.0f} MB")
    assert result["peak_mb"] < 1536


# --- every limit, one line each -------------------------------------------------------------------


def test_a_file_over_the_upload_size_is_refused_before_it_is_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BNVIZ_MAX_UPLOAD_MB", "1")
    path = tmp_path / "big.csv"
    path.write_text("a,label\n" + "1.000000,0\n1.000000,1\n" * 70_000)  # 1.5 MB
    with pytest.raises(DatasetError) as err:
        inspect_upload(path, "csv")
    assert _one_line(err) == f"{path} is 1.5 MB; a file may be at most 1 MB on this server"
    np.savez(tmp_path / "big.npz", x=np.random.default_rng(0).normal(size=(100_000, 2)), y=np.arange(100_000) % 2)
    with pytest.raises(DatasetError, match=r"is 2\.3 MB; a file may be at most 1 MB"):
        inspect_upload(tmp_path / "big.npz", "npz")


def test_npz_rows_features_and_arrays_over_the_limits(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BNVIZ_MAX_ROWS", "100")
    monkeypatch.setenv("BNVIZ_MAX_COLUMNS", "64")
    rows = tmp_path / "rows.npz"
    np.savez(rows, x_train=np.zeros((80, 2)), y_train=np.arange(80) % 2, x_test=np.zeros((30, 2)),
             y_test=np.arange(30) % 2)
    with pytest.raises(DatasetError) as err:
        inspect_upload(rows, "npz")
    assert _one_line(err) == f"{rows} holds 110 examples; an upload may hold at most 100"
    images = tmp_path / "images.npz"
    np.savez(images, x=np.zeros((10, 8, 8, 3), np.uint8), y=np.arange(10) % 2)
    with pytest.raises(DatasetError) as err:
        inspect_upload(images, "npz")
    assert _one_line(err) == (f"{images}: each example of x has 192 values (10×8×8×3 uint8); an upload may have "
                              f"at most 64 features per example")
    many = tmp_path / "many.npz"
    np.savez(many, x=np.zeros((4, 2)), y=np.arange(4) % 2, **{f"extra{i}": np.zeros(1) for i in range(70)})
    with pytest.raises(DatasetError) as err:
        inspect_upload(many, "npz")
    assert _one_line(err) == f"{many} holds 72 files; an .npz upload may hold at most 64 arrays"


def test_a_member_that_is_no_array_and_a_lone_npy_bomb_are_refused(tmp_path: Path) -> None:
    raw = tmp_path / "raw.npz"
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x", bytes(64 * MB))  # np.load would hand back all of it as bytes
        archive.writestr("y.npy", b"")
    with pytest.raises(DatasetError) as err:
        inspect_upload(raw, "npz")
    assert _one_line(err).startswith(f"{raw}: 'x' is not a NumPy array (")
    lone = tmp_path / "lone.npz"  # a single .npy whose header promises 4 GB
    with open(lone, "wb") as out:
        np.lib.format.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False, "shape": (1 << 30,)})
    with pytest.raises(DatasetError) as err:
        inspect_upload(lone, "npz")
    assert _one_line(err) == (f"{lone}: its arrays take 4,096 MB once unpacked (the array is 1,073,741,824 "
                              f"float32); an upload may take at most 256 MB")


def test_a_zip64_archive_of_70000_members_is_counted_from_its_end_record(tmp_path: Path) -> None:
    path = tmp_path / "members.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(70_000):
            archive.writestr(f"{i}.npy", b"")
    assert zip_members(str(path)) == 70_000
    with pytest.raises(DatasetError) as err:
        check_npz(str(path), UploadLimits.current(), npz_layout)
    assert _one_line(err) == f"{path} holds 70,000 files; an .npz upload may hold at most 64 arrays"


def test_csv_rows_and_numbers_over_the_limits(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BNVIZ_MAX_ROWS", "100")
    path = tmp_path / "long.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(150)))
    with pytest.raises(DatasetError) as err:
        inspect_upload(path, "csv")
    assert _one_line(err) == f"{path} has more than 100 rows (150 lines); an upload may have at most 100"
    monkeypatch.setenv("BNVIZ_MAX_ROWS", "150")
    assert inspect_upload(path, "csv").shape == (150, 2)  # the limits are part of the cache's key
    monkeypatch.setenv("BNVIZ_MAX_UNPACKED_MB", "1")
    wide = tmp_path / "numbers.csv"
    wide.write_text(",".join(f"c{i}" for i in range(1000)) + ",label\n" + ("0," * 1000 + "1\n") * 140)
    with pytest.raises(DatasetError) as err:
        inspect_upload(wide, "csv")
    assert _one_line(err) == (f"{wide}: 140 rows of 1,001 columns take 1.1 MB as numbers; an upload may take at "
                              f"most 1 MB")


@pytest.mark.parametrize(("text", "columns", "lines"), [
    ("a,b,label\n1,2,0\n3,4,1\n", 3, 2),
    ("a,b,label\n1,2,0\n3,4,1", 3, 2),  # no final line break
    ('"x, with a comma","line\nbreak",label\n1,2,0\n', 3, 1),  # quoted commas and line breaks
    ('a,"say ""hi""",label\n1,2,0\n', 3, 1),
    ("label\n", 1, 0),
])
def test_the_header_is_counted_as_pandas_reads_it(tmp_path: Path, text: str, columns: int, lines: int) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    assert (csv_shape(str(path)).columns, csv_shape(str(path)).lines) == (columns, lines)


def test_a_header_longer_than_a_read_chunk_is_counted_in_pieces(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(upload_limits, "CHUNK", 7)
    path = tmp_path / "t.csv"
    path.write_text('alpha,"be,ta",gamma,delta,label\n1,2,3,4,0\n5,6,7,8,1\n')
    assert csv_shape(str(path)) == upload_limits.CsvShape(5, 2)


# --- the cache of parsed files is bounded in bytes -------------------------------------------------


def test_the_cache_of_parsed_uploads_is_bounded_in_bytes(tmp_path: Path, monkeypatch) -> None:
    cache = ParsedCache(entries=4, max_bytes=lambda: 1000)
    for key in "abc":
        assert cache.get(key, lambda: np.zeros(400, np.uint8), lambda a: a.nbytes).nbytes == 400
    assert cache.nbytes == 800 and cache.get("b", lambda: pytest.fail("b was kept"), len) is not None
    cache.get("big", lambda: np.zeros(1001, np.uint8), lambda a: a.nbytes)  # larger than the budget: not kept
    assert cache.nbytes == 800

    from bnviz.data.uploads import PARSED

    monkeypatch.setenv("BNVIZ_MAX_UNPACKED_MB", "1")  # the server's cache: at most 2 MB of arrays now
    PARSED.clear()
    for i in range(4):
        path = tmp_path / f"f{i}.npz"
        np.savez(path, x=np.random.default_rng(i).normal(size=(40_000, 2)).astype(np.float32) if i else
                 np.zeros((40_000, 2)), y=np.arange(40_000) % 2)  # 0.9 MB of arrays (the first 1.3 MB)
        inspect_upload(path, "npz")
        assert PARSED.nbytes <= 2 * MB
    assert PARSED.nbytes > MB  # still a cache: the last files are kept


def test_streamlit_refuses_what_bnviz_refuses() -> None:
    """`.streamlit/config.toml`'s server.maxUploadSize is BNVIZ_MAX_UPLOAD_MB's default (both in MB)."""
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == Settings.model_fields["max_upload_mb"].default


# --- the Experiment page says no in one line ------------------------------------------------------


def test_the_experiment_page_refuses_the_attacks_with_one_line_each(bomb: Path, tmp_path: Path) -> None:
    at = open_app().run()
    at.selectbox(key="f:dataset.name").set_value("npz").run()
    started = time.perf_counter()
    at.file_uploader[0].set_value(("zeros.npz", bomb.read_bytes(), "application/octet-stream")).run()
    print(f"\nthe page refused the npz bomb in {time.perf_counter() - started:.2f} s (a whole rerun)")
    assert not at.exception
    errors = [_text(e.value) for e in at.error]
    assert errors[0].startswith("zeros.npz: its arrays take 1,025 MB once unpacked"), errors
    assert "256 MB" in errors[0] and "\n" not in errors[0]
    assert next(b for b in at.button if b.label == "Train").disabled

    at.selectbox(key="f:dataset.name").set_value("csv").run()
    wide = write_wide_csv(tmp_path / "wide.csv")
    at.file_uploader[0].set_value(("wide.csv", wide.read_bytes(), "text/csv")).run()
    assert not at.exception
    errors = [_text(e.value) for e in at.error]
    assert any(e.startswith("wide.csv: its header names 200,000 columns; an upload may have at most 4,096")
               for e in errors), errors
