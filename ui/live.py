"""Reading runs for the pages: a consistent snapshot, live or finished, plus display helpers."""

from __future__ import annotations

import html
import threading
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bnviz.config import flat_settings
from bnviz.record import origin_of
from bnviz.states import is_active
from ui.service import manager


@dataclass(frozen=True)
class RunView:
    record: dict[str, Any]
    status: str
    progress: dict[str, Any] | None
    queue_position: int | None
    version: tuple = ()  # changes whenever the run gains data: the key of its cached figures


FIGURES_PER_S = 2
FRESH_S = 0.25  # viewers asking within this long share one read (a classroom polls 30+ times a second)
_fresh: dict[str, tuple[float, RunView]] = {}
_fresh_lock = threading.Lock()


def read_run(run_id: str) -> RunView:
    """A consistent snapshot of a run, cheap enough to call every second from many sessions.

    Sessions of this server asking for the same run within FRESH_S share one view (read-only);
    what this server changes itself (cancel, rename, delete) is seen at once via `forget`."""
    now = time.monotonic()
    with _fresh_lock:
        hit = _fresh.get(run_id)
    if hit is not None and now - hit[0] < FRESH_S:
        return hit[1]
    view = _read(run_id)
    with _fresh_lock:
        _fresh[run_id] = (now, view)
        for stale in [k for k, (t, _) in _fresh.items() if now - t > 60]:
            del _fresh[stale]
    return view


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
    return RunView(snap.to_record(), snap.status, dict(snap.progress or {}), snap.position,
                   (run_id, snap.status, cursor, snap.name))


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
    return " · ".join(parts)


def run_label(record: dict[str, Any]) -> str:
    """A run's name for legends and labels: plain text (Plotly renders a few HTML tags in its labels)."""
    return html.escape(str(record.get("name") or record.get("id") or "run")[:60], quote=False)


def short_labels(records: list[dict[str, Any]]) -> list[str]:
    """Run names without the words they all share ("Circles MLP · no BN" -> "no BN"), for legends."""
    parts = [run_label(r).split(" · ") for r in records]
    common = 0
    while len(parts) > 1 and all(len(p) > common + 1 for p in parts) and len({p[common] for p in parts}) == 1:
        common += 1
    labels = [" · ".join(p[common:])[:48] for p in parts]
    return labels if len(set(labels)) == len(labels) else [run_label(r) for r in records]


def config_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per setting, one column per run, and whether the runs differ on it."""
    columns: dict[str, dict[str, Any]] = {}
    for i, record in enumerate(records):
        label = f"{i + 1}. {run_label(record)}"
        columns[label] = {"origin": origin_of(record), **{k: str(v) for k, v in flat_settings(record["config"]).items()
                                                          if k != "origin"}}
    table = pd.DataFrame(columns)
    table["differs"] = table.nunique(axis=1, dropna=False) > 1
    return table
