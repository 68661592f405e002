"""TensorBoard export: event files that TensorBoard's own reader opens, with every curve and histogram."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bnviz.cli import main
from bnviz.report import tensorboard as tb_export
from tests.conftest import REPO, tiny_config


@pytest.fixture(scope="module")
def runs():
    """Two real tiny runs, with and without BN, stored in a run store as the dashboard stores them."""
    import os
    import tempfile

    from bnviz.store import RunStore
    from bnviz.train.training import train

    home = tempfile.mkdtemp(prefix="bnviz-tb-")
    old = os.environ.get("BNVIZ_HOME")
    os.environ["BNVIZ_HOME"] = home
    records = []
    try:
        with RunStore() as store:
            for name, placement in (("with BN", "after"), ("", "none")):
                config = tiny_config(**{"model.norm.placement": placement, "model.hidden": [8, 4]})
                run_id = store.create_run(config, owner="test", name=name, status="queued")
                train(config, sink=lambda e, r=run_id: store.append_event(r, e), run_id=run_id)
                records.append(store.get_record(run_id))
    finally:
        if old is None:
            os.environ.pop("BNVIZ_HOME", None)
        else:
            os.environ["BNVIZ_HOME"] = old
    return home, records


def _read(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import HISTOGRAMS, SCALARS, EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={SCALARS: 0, HISTOGRAMS: 0})
    acc.Reload()
    return acc


def test_exported_runs_read_back_with_every_scalar_and_histogram(runs, tmp_path):
    _, records = runs
    folders = tb_export.write_runs(records, tmp_path / "logs")
    assert [f.name for f in folders] == [f"with-BN_{records[0]['id']}", records[1]["id"]]
    for record, folder in zip(records, folders):
        acc = _read(folder)
        tags = acc.Tags()
        for metric, values in record["history"].items():
            events = acc.Scalars(f"epoch/{metric}")
            assert [e.step for e in events] == [1, 2]
            assert [e.value for e in events] == pytest.approx(values)
        batch = acc.Scalars("batch/loss")
        assert [e.step for e in batch] == [b["step"] for b in record["batches"]]
        assert [e.value for e in batch] == pytest.approx([b["loss"] for b in record["batches"]])
        assert "probe/inference_mode_accuracy" in tags["scalars"]
        assert any(t.startswith("gradient_norm/") for t in tags["scalars"])

        epochs = [p["epoch"] for p in record["probes"]]
        assert epochs == [0, 1, 2]
        positions = {(p["block"], p["layer"], p["kind"]) for p in record["probes"][0]["positions"]}
        expected = {f"{tb_export.block_tag(b)}/{layer}/{kind}" for b, layer, kind in positions}
        assert expected <= set(tags["histograms"])
        if record["config"]["model"]["norm"]["placement"] != "none":
            for block in (1, 2):  # before and after BN, every block
                for kind in ("bn_input", "bn_output", "bn_output_inference"):
                    assert f"block{block}/dense{block}_bn/{kind}" in tags["histograms"]
        for tag in expected:
            events = acc.Histograms(tag)
            assert [e.step for e in events] == epochs, tag
            for event, probe in zip(events, record["probes"]):
                block, layer, kind = tag.split("/")
                pos = next(p for p in probe["positions"] if p["layer"] == layer and p["kind"] == kind)
                h, value = pos["hist"], event.histogram_value
                assert value.num == sum(h["counts"]) + h["below"] + h["above"]
                assert sum(value.bucket) == value.num
                assert list(value.bucket_limit)[1: len(h["edges"])] == pytest.approx(h["edges"][1:])
                assert list(value.bucket)[1: len(h["counts"]) + 1] == h["counts"]


def test_runs_without_ids_get_their_own_folders(runs, tmp_path):
    _, records = runs
    anonymous = [{**r, "id": None, "name": None} for r in records]
    folders = tb_export.write_runs(anonymous, tmp_path)
    assert [f.name for f in folders] == ["run", "run-2"]
    assert "block1/dense1_bn/bn_input" in _read(folders[0]).Tags()["histograms"]
    assert "block1/dense1_bn/bn_input" not in _read(folders[1]).Tags()["histograms"]


def test_histogram_buckets_keep_values_outside_the_bin_range():
    proto = tb_export.histogram_proto({"edges": [0.0, 1.0, 2.0], "counts": [3, 4], "below": 2, "above": 1},
                                      {"min": -5.0, "max": 7.0, "mean": 1.0, "std": 2.0})
    assert list(proto.bucket) == [2, 3, 4, 1] and list(proto.bucket_limit) == [0.0, 1.0, 2.0, 7.0]
    assert (proto.min, proto.max, proto.num, proto.sum, proto.sum_squares) == (-5.0, 7.0, 10, 10.0, 50.0)


def test_cli_export_tensorboard(runs, tmp_path, monkeypatch, capsys):
    home, records = runs
    monkeypatch.setenv("BNVIZ_HOME", home)
    out = tmp_path / "tb"
    for record in records:
        assert main(["runs", "export", record["id"], "--format", "tensorboard", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(tb_export.run_folder(r) for r in records)
    again = main(["runs", "export", records[1]["id"], "--format", "tensorboard", "--out", str(out)])
    assert again == 0 and len(list((out / records[1]["id"]).iterdir())) == 1  # replaced, not doubled
    capsys.readouterr()
    assert main(["runs", "export", records[0]["id"], "--format", "tensorboard"]) == 2
    assert "--out DIR" in capsys.readouterr().err
    assert main(["runs", "export", records[0]["id"], "--format", "tensorboard",
                 "--out", str(tmp_path / "no" / "such")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_zip_download_and_no_tensorflow_import(runs, tmp_path):
    import zipfile

    _, records = runs
    data = tb_export.zip_bytes(records)
    (tmp_path / "tb.zip").write_bytes(data)
    with zipfile.ZipFile(tmp_path / "tb.zip") as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "x")
    assert len(names) == 2 and all(n.startswith("bnviz-tensorboard/") for n in names)
    assert "epoch/loss" in _read(tmp_path / "x" / "bnviz-tensorboard" / records[1]["id"]).Tags()["scalars"]
    # the export itself never imports TensorFlow
    (tmp_path / "r.json").write_text(json.dumps(records[0]))
    code = ("import json, sys; from bnviz.report.tensorboard import write_run; "
            f"write_run(json.load(open({str(tmp_path / 'r.json')!r})), {str(tmp_path / 'y')!r}); "
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
