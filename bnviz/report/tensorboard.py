"""A run record as TensorBoard event files: curves, and activation histograms around BN.

TensorBoard's Keras callback logs weight histograms, not activations, and cannot overlay runs'
histograms; exporting bnviz runs gives TensorBoard users our before/after-BN histograms per
block and epoch. Each run goes to its own folder (`DIR/<name>_<id>/` or `DIR/<id>/`), so
several runs exported into one DIR show up as separate runs in `tensorboard --logdir DIR`.

Written with the `tensorboard` package's own protos and record writer (no TensorFlow import):

* scalars: `epoch/<metric>` for every history key (step = epoch), `batch/<metric>` for the
  within-epoch curve (step = global batch), `probe/<mode>_<metric>` and
  `gradient_norm/<layer>` per probe epoch;
* histograms: `<block>/<layer>/<kind>` (e.g. `block1/dense1_bn/bn_input`) for every recorded
  position, step = probe epoch (0 = before training). Values outside the run's fixed bin range
  go to an extra first and last bucket, so every value is counted.
"""

from __future__ import annotations

import io
import itertools
import math
import re
import socket
import time
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bnviz.errors import UserError
from bnviz.figures.common import finite

FILE_SUFFIX = ".bnviz"


class ExportError(UserError):
    """The export cannot be written where asked; the message says why."""




def block_tag(block: Any) -> str:
    b = int(block)
    return {0: "input", -1: "output"}.get(b, f"block{b}")


def run_folder(record: Mapping[str, Any]) -> str:
    """The folder name of a run inside the export directory: `<name>_<id>`, or the id alone."""
    run_id = str(record.get("id") or "run")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(record.get("name") or "")).strip("-.")[:60]
    return f"{name}_{run_id}" if name else run_id


def histogram_proto(hist: Mapping[str, Any], stats: Mapping[str, Any] | None = None):
    """A stored histogram (edges, counts, below, above) as a TensorBoard HistogramProto.

    TensorBoard buckets are (previous limit, limit]: the first bucket holds the values below
    the first edge, the run's bins follow, then one bucket for the values above the last edge."""
    from tensorboard.compat.proto.summary_pb2 import HistogramProto

    edges = [float(e) for e in hist["edges"]]
    counts = [int(c) for c in hist["counts"]]
    below, above = int(hist.get("below") or 0), int(hist.get("above") or 0)
    stats = stats or {}
    low, high = finite(stats.get("min")), finite(stats.get("max"))
    lo = edges[0] if low is None else min(low, edges[0])
    hi = edges[-1] if high is None else max(high, edges[-1])
    limits, buckets = [edges[0], *edges[1:]], [below, *counts]
    if above:
        limits.append(hi if hi > edges[-1] else math.nextafter(edges[-1], math.inf))
        buckets.append(above)
    num = sum(buckets)
    mean, std = finite(stats.get("mean")), finite(stats.get("std"))
    if mean is None or std is None:  # from the bin centres
        centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        inside = sum(counts) or 1
        mean = sum(c * n for c, n in zip(centres, counts)) / inside
        std = math.sqrt(max(sum(n * (c - mean) ** 2 for c, n in zip(centres, counts)) / inside, 0.0))
    return HistogramProto(min=lo, max=hi, num=num, sum=mean * num, sum_squares=(std * std + mean * mean) * num,
                          bucket_limit=limits, bucket=buckets)


def _events(record: Mapping[str, Any]) -> Iterable[tuple[int, Any]]:
    """(step, Summary.Value) pairs for everything the record holds."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    def scalar(tag: str, value: Any):
        v = finite(value)
        return None if v is None else Summary.Value(tag=tag, simple_value=v)

    for metric, values in (record.get("history") or {}).items():
        for i, value in enumerate(values or []):
            yield i + 1, scalar(f"epoch/{metric}", value)
    for point in record.get("batches") or []:
        for metric in ("loss", "accuracy"):  # Keras' running mean within the epoch
            yield int(point["step"]), scalar(f"batch/{metric}", point.get(metric))
        for metric in ("batch_loss", "batch_accuracy"):  # the logged batches' own (added fields)
            if metric in point:
                yield int(point["step"]), scalar(f"batch/{metric}", point.get(metric))
    for probe in record.get("probes") or []:
        epoch = int(probe["epoch"])
        for mode, metrics in (probe.get("probe_metrics") or {}).items():
            for metric, value in (metrics or {}).items():
                yield epoch, scalar(f"probe/{mode}_{metric}", value)
        for layer, norm in (probe.get("gradients") or {}).items():
            yield epoch, scalar(f"gradient_norm/{layer}", norm)
        for pos in probe.get("positions") or []:
            hist = pos.get("hist")
            if hist and hist.get("edges") and hist.get("counts"):
                tag = f"{block_tag(pos['block'])}/{pos['layer']}/{pos['kind']}"
                yield epoch, Summary.Value(tag=tag, histo=histogram_proto(hist, pos.get("stats")))


def write_run(record: Mapping[str, Any], out_dir: str | Path, folder_name: str | None = None) -> Path:
    """Write one run's event file under out_dir/<run folder>/; returns that folder.

    Exporting the same run again replaces its earlier bnviz event file instead of adding to it."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.record_writer import RecordWriter

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f"cannot export to {out}: it is a file; TensorBoard export needs a directory")
    if not out.parent.exists():
        raise ExportError(f"cannot export to {out}: directory {out.parent} does not exist")
    folder = out / (folder_name or run_folder(record))
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"events.out.tfevents.*{FILE_SUFFIX}"):
        old.unlink()
    now = time.time()
    path = folder / f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}{FILE_SUFFIX}"
    with open(path, "wb") as handle:
        writer = RecordWriter(handle)
        writer.write(Event(wall_time=now, step=0, file_version="brain.Event:2").SerializeToString())
        for step, value in _events(record):
            if value is not None:
                event = Event(wall_time=now, step=step, summary=Summary(value=[value]))
                writer.write(event.SerializeToString())
    return folder


def write_runs(records: Iterable[Mapping[str, Any]], out_dir: str | Path) -> list[Path]:
    """Several runs side by side in one log directory: one folder each."""
    out = Path(out_dir)
    if not out.parent.exists():
        raise ExportError(f"cannot export to {out}: directory {out.parent} does not exist")
    out.mkdir(exist_ok=True)
    folders, taken = [], set()
    for record in records:
        name, n = run_folder(record), 1
        while name in taken:  # records without ids (plain `train()` results) must not overwrite each other
            n += 1
            name = f"{run_folder(record)}-{n}"
        taken.add(name)
        folders.append(write_run(record, out, name))
    return folders


def zip_bytes(records: Iterable[Mapping[str, Any]]) -> bytes:
    """A zip of the runs' event folders, for a download: unzip and run `tensorboard --logdir`."""
    import tempfile

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="bnviz-tb-") as tmp, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        root = Path(tmp) / "bnviz-tensorboard"
        for folder in write_runs(records, root):
            for path in sorted(folder.iterdir()):
                archive.write(path, f"bnviz-tensorboard/{folder.name}/{path.name}")
    return buffer.getvalue()
