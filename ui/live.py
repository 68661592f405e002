"""Reading runs for the pages: a consistent snapshot, live or finished, plus display helpers."""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import pandas as pd

from bnviz.config import ExperimentConfig, flat_settings
from bnviz.data.offered import shareable_path
from bnviz.record import RunSummary, is_script, origin_of
from bnviz.settings import settings
from bnviz.states import RunState, is_active
from bnviz.store import RunNotFound
from ui.service import manager


@dataclass(frozen=True)
class RunView:
    """A run as pages read it: the record (a dict, as the figures take it) and typed views of it.

    Pages read `view.config.training.epochs` and `view.summary.final`, not nested dict keys, so a
    misspelt setting fails loudly; each is parsed once per view, which all viewers share."""

    record: dict[str, Any]
    status: RunState
    progress: dict[str, Any] | None
    queue_position: int | None
    version: tuple = ()  # changes whenever the run gains data: the key of its cached figures
    store_version: int = -1  # the store's version of the run it shows (only grows; -1: unknown)

    @cached_property
    def is_script(self) -> bool:
        """Recorded from a user's own script (bnviz.watch): its config describes the fit, it is no
        ExperimentConfig, and it cannot be trained again from the form."""
        return is_script(self.record)

    @cached_property
    def config(self) -> ExperimentConfig:
        """The run's settings; fields older records lack get their defaults. Not for a script's run
        (`is_script`): check that first."""
        return ExperimentConfig.from_dict(self.record["config"])

    @property
    def config_dict(self) -> dict[str, Any]:
        """The config as the record stores it: what rule functions over records (bnviz.report.readings) take."""
        return self.record["config"] if self.is_script else self.config.to_dict()

    @property
    def epochs_planned(self) -> int:
        """The epochs the run was asked to train, for a form run and a script's run alike."""
        if self.is_script:
            return int((self.record["config"].get("training") or {}).get("epochs") or self.epochs_recorded)
        return self.config.training.epochs

    @property
    def probe_every(self) -> int | None:
        """Probes come every this many epochs (bnviz.watch may probe less often than every epoch);
        None when its probes followed a time budget ("auto"), at epochs not known in advance."""
        every = (self.record["config"].get("instrument") or {}).get("probe_every") or 1
        return int(every) if isinstance(every, int) or str(every).isdigit() else None

    @cached_property
    def summary(self) -> RunSummary:
        return RunSummary.from_dict(self.record.get("summary"))

    @property
    def run_id(self) -> str:
        return self.record["id"]

    @property
    def name(self) -> str | None:
        return self.record.get("name")

    @property
    def owner(self) -> str | None:
        return self.record.get("owner")

    @property
    def label(self) -> str:
        """What a legend or a table calls the run: its name, else its id, as plain text (Plotly renders a
        few HTML tags in its labels)."""
        return html.escape(str(self.name or self.run_id or "run")[:60], quote=False)

    @property
    def epochs_recorded(self) -> int:
        return len(self.record["history"].get("loss", []))

    @property
    def backend(self) -> str:
        """The Keras backend that trained it (the summary says once training started)."""
        if self.summary.backend or self.is_script:
            return self.summary.backend or "tensorflow"
        return self.config.training.backend


def shared_epoch(view: RunView) -> int:
    """The newest epoch that every chart of `view` can show: its history and its probes both reach it."""
    epochs = [int(p["epoch"]) for p in view.record.get("probes") or []]
    return min(view.epochs_recorded, max(epochs)) if epochs else view.epochs_recorded


def at_epoch(view: RunView, epoch: int) -> RunView:
    """`view` as it stood at the end of `epoch`: curves, histograms and boundaries drawn from it all
    name that epoch (a live run's batches and epochs run ahead of its probes). Its figures are cached
    under their own version, so no chart of one epoch is shared with another's."""
    record = view.record
    cut = {**record, "history": {k: list(v[:epoch]) for k, v in record["history"].items()},
           "batches": [b for b in record["batches"] if int(b.get("epoch") or 0) <= epoch],
           "probes": [p for p in record.get("probes") or [] if int(p["epoch"]) <= epoch]}
    return replace(view, record=cut, version=(*view.version, "epoch", epoch))


FIGURES_PER_S = 2
FRESH_S = 0.25  # viewers asking within this long share one read (a classroom polls 30+ times a second)
_fresh: dict[str, tuple[float, RunView]] = {}
_fresh_lock = threading.Lock()


def read_run(run_id: str) -> RunView:
    """A consistent snapshot of a run, cheap enough to call every second from many sessions.

    Sessions of this server asking for the same run within FRESH_S share one view (read-only);
    what this server changes itself (cancel, rename, delete) is seen at once via `forget`. The shared
    view never goes back in time: a read that took longer than another, newer one (a busy server)
    keeps the newer view. Otherwise a page drawn with the run ended could draw its views from an
    older, still-training view, and a finished run's views no longer poll to correct it."""
    now = time.monotonic()
    with _fresh_lock:
        hit = _fresh.get(run_id)
    if hit is not None and now - hit[0] < FRESH_S:
        return hit[1]
    view = _read(run_id)
    with _fresh_lock:
        hit = _fresh.get(run_id)
        if hit is not None and hit[1].store_version > view.store_version:
            return hit[1]
        _fresh[run_id] = (now, view)
        for stale in [k for k, (t, _) in _fresh.items() if now - t > 60]:
            del _fresh[stale]
    return view


def read_views(run_ids) -> list[RunView]:
    """The runs of `run_ids` that exist, in order (a link may name deleted runs)."""
    views = []
    for run_id in run_ids:
        try:
            views.append(read_run(run_id))
        except RunNotFound:
            continue
    return views



def forget(run_id: str) -> None:
    """This server just changed the run: the next read goes to the store."""
    with _fresh_lock:
        _fresh.pop(run_id, None)
    manager().forget(run_id)


def _read(run_id: str) -> RunView:
    snap = manager().snapshot(run_id)
    cursor = tuple(snap.cursor)
    if is_active(snap.status):
        # Batches, epochs and probes of a small model arrive many times a second: every viewer
        # polling within the same half second shares one build of each figure (at most 2 a second).
        # The first batch, epoch and probe are drawn at once (someone just clicked Train).
        cursor = (*(min(n, 1) for n in snap.cursor), int(time.time() * FIGURES_PER_S))
    return RunView(snap.to_record(), RunState(snap.status), dict(snap.progress or {}), snap.position,
                   (run_id, snap.status, cursor, snap.name), snap.version)


def ordinal(n: int | None) -> str:
    if not n:
        return ""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def progress_text(p: dict[str, Any]) -> str:
    if not p:
        return "Starting…"
    parts = [f"Epoch {p.get('epoch')}/{p.get('epochs')}", f"batch {p.get('batch')}/{p.get('steps')}"]
    if p.get("samples_per_s"):
        parts.append(f"{p['samples_per_s']:,.0f} samples/s")
    if p.get("eta_s") is not None:
        eta = float(p["eta_s"])
        parts.append(f"ETA {eta:.0f} s" if eta < 120 else f"ETA {eta / 60:.1f} min")
    elif p.get("fraction", 0) < 1:  # too few batches yet for an honest estimate (bnviz.train.pace)
        parts.append("ETA estimating…")
    return " · ".join(parts)


def short_labels(views: Sequence[RunView]) -> list[str]:
    """Run names without the words they all share ("Circles MLP · no BN" -> "no BN"), for legends."""
    parts = [v.label.split(" · ") for v in views]
    common = 0
    while len(parts) > 1 and all(len(p) > common + 1 for p in parts) and len({p[common] for p in parts}) == 1:
        common += 1
    labels = [" · ".join(p[common:])[:48] for p in parts]
    return labels if len(set(labels)) == len(labels) else [v.label for v in views]


def config_table(views: Sequence[RunView]) -> pd.DataFrame:
    """One row per setting, one column per run, and whether the runs differ on it."""
    columns: dict[str, dict[str, Any]] = {}
    for i, view in enumerate(views):
        label = f"{i + 1}. {view.label}"
        settings_of = view.record["config"] if view.is_script else view.config.to_dict()
        columns[label] = {"origin": origin_of(view.record),
                          **{k: str(v) for k, v in flat_settings(settings_of).items() if k != "origin"}}
        if not view.is_script and view.config.dataset.path:  # seen by anyone: no server folder in it
            columns[label]["dataset.path"] = str(shareable_path(view.config.dataset.path, data_dir=settings().data_dir))
    table = pd.DataFrame(columns)
    table["differs"] = table.nunique(axis=1, dropna=False) > 1
    return table
