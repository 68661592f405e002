"""Sentences that stop a class misreading a run or a comparison, decided from the numbers.

Pure functions of run records (docs/run-record.md); the pages show what they return.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def has_batch_norm(config: Mapping[str, Any]) -> bool:
    """Whether the model has a BatchNormalization layer (placement, per-block or on the input)."""
    norm = (config.get("model") or {}).get("norm") or {}
    if norm.get("kind", "batch") != "batch":
        return False
    per_layer = norm.get("per_layer") or {}
    return (norm.get("placement", "none") != "none" or bool(norm.get("on_input"))
            or any(v in ("before", "after") for v in per_layer.values()))


def _series(history: Mapping[str, Any], key: str) -> list[float]:
    out = []
    for v in history.get(key) or []:
        out.append(float(v) if isinstance(v, (int, float)) and math.isfinite(v) else math.nan)
    return out


def warmup_note(record: Mapping[str, Any], *, window: int = 10, gap: float = 0.1) -> str | None:
    """Explain a BN run whose validation lags training early on: BN's moving statistics are
    still warming up (validation uses them), which students otherwise read as overfitting."""
    config = record.get("config") or {}
    if not has_batch_norm(config):
        return None
    history = record.get("history") or {}
    acc, val_acc = _series(history, "accuracy"), _series(history, "val_accuracy")
    loss, val_loss = _series(history, "loss"), _series(history, "val_loss")
    n = min(window, len(acc), len(val_acc))
    lagging = [e + 1 for e in range(n) if acc[e] - val_acc[e] > gap]
    rising = [e + 1 for e in range(1, min(window, len(loss), len(val_loss)))
              if val_loss[e] > val_loss[e - 1] and loss[e] < loss[e - 1]]
    if not lagging and not rising:
        return None
    epochs = sorted(set(lagging) | set(rising))
    where = f"epoch {epochs[0]}" if len(epochs) == 1 else f"epochs {epochs[0]}–{epochs[-1]}"
    momentum = float(((config.get("model") or {}).get("norm") or {}).get("momentum") or 0.99)
    batches = f"about {1 / (1 - momentum):,.0f} batches" if momentum < 1 else "never (momentum 1)"
    return (f"**Not overfitting yet.** In {where} validation lags training because BN is still warming up: "
            "validation runs BN in inference mode, with its *moving* mean and variance, and those follow the "
            f"batch statistics slowly (momentum {momentum:g}: {batches} to catch up). Training uses each "
            "batch's own statistics. The **Batch vs moving stats** view below shows the gap closing.")


def same_validation_and_test(record: Mapping[str, Any]) -> bool:
    """True when the run validated on its test set, so validation and test numbers are one split."""
    return ((record.get("config") or {}).get("training") or {}).get("validation", "test") == "test"


def final_value(record: Mapping[str, Any], metric: str) -> float | None:
    values = _series(record.get("history") or {}, metric)
    values = [v for v in values if not math.isnan(v)]
    return values[-1] if values else None


def most_different_metric(records: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> str | None:
    """The history metric whose final values differ most between the runs, relative to their size
    (loss 0.42 vs 0.57 beats validation accuracy 0.85 vs 0.86): the view a comparison opens on."""
    best, best_score = None, -1.0
    for metric in metrics:
        finals = [final_value(r, metric) for r in records]
        finals = [f for f in finals if f is not None]
        if len(finals) < 2:
            continue
        scale = max(abs(f) for f in finals) or 1.0
        score = (max(finals) - min(finals)) / scale
        if score > best_score + 1e-12:
            best, best_score = metric, score
    return best


def most_different_position(records: Sequence[Mapping[str, Any]], block: int, kinds: Sequence[str]) -> str | None:
    """The network position (of one block, at each run's last probe) whose distributions differ
    most between the runs, by the spread of their means and standard deviations."""
    best, best_score = None, -1.0
    for kind in kinds:
        stats = []
        for record in records:
            probes = record.get("probes") or []
            if not probes:
                continue
            for pos in probes[-1].get("positions") or []:
                if pos.get("block") == block and pos.get("kind") == kind:
                    stats.append(pos.get("stats") or {})
        if len(stats) < 2:
            continue
        means = [float(s.get("mean") or 0.0) for s in stats]
        stds = [float(s.get("std") or 0.0) for s in stats]
        scale = max(max(stds), 1e-9)
        score = (max(means) - min(means)) / scale + (max(stds) - min(stds)) / scale
        if score > best_score + 1e-12:
            best, best_score = kind, score
    return best
