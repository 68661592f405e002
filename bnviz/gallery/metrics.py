"""What the gallery measures in run records: final metrics over seeds, arm states, BN warm-up,
percentile drift, saturation, gradient ratios, the train-vs-inference gap.

Pure functions of run records (docs/run-record.md); a missing or partial record gives None,
never an exception. `SKIPPED` is the status the report gives an arm it could not run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bnviz import figures as bnfig
from bnviz.figures import finite
from bnviz.states import MISSING, SKIPPED, RunState

Record = Mapping[str, Any]

METRIC = "test_accuracy"
TOLERANCE = 0.03  # "within a few points" of a published number
WARM = 0.9  # BN moving averages count as warmed up once they hold 90% of the recent statistics
LAG = 0.02  # probe accuracy with batch statistics this much above moving statistics = inference lags


# --------------------------------------------------------------------------- record helpers


def as_lists(records_by_arm: Mapping[str, Any] | None) -> dict[str, list[Record]]:
    """label -> list of records; a single record or None is accepted per label."""
    out: dict[str, list[Record]] = {}
    for label, value in (records_by_arm or {}).items():
        if value is None:
            out[label] = []
        elif isinstance(value, Mapping):
            out[label] = [value]
        else:
            out[label] = [r for r in value if isinstance(r, Mapping)]
    return out


def summary_of(record: Record | None) -> Mapping[str, Any]:
    """A record's summary, empty when it has none yet."""
    summary = (record or {}).get("summary")
    return summary if isinstance(summary, Mapping) else {}


def config_of(record: Record | None) -> Mapping[str, Any]:
    """A record's config as stored, empty when it has none."""
    config = (record or {}).get("config")
    return config if isinstance(config, Mapping) else {}


def final_value(record: Record | None, metric: str = METRIC) -> float | None:
    """The metric a finished run reached (None unless the run succeeded)."""
    if not record or record.get("status") != RunState.SUCCEEDED:
        return None
    return finite((summary_of(record).get("final") or {}).get(metric))


def aggregate_arm_metric(records: Iterable[Record | None], metric: str = METRIC) -> dict[str, Any]:
    """Mean, sample std (ddof=1, 0 for one run) and the mean ± std band of a final metric
    over the seeds of one arm, via figures.aggregate_series; runs without the metric
    (diverged, failed, skipped) count in `missing`, not in the mean."""
    records = list(records)
    values = [final_value(r, metric) for r in records]
    present = [v for v in values if v is not None]
    agg = bnfig.aggregate_series([[v] for v in present], band="std")
    mean = agg["mean"][0] if agg["mean"] else None
    low = agg["low"][0] if agg["low"] else None
    high = agg["high"][0] if agg["high"] else None
    std = (high - mean) if mean is not None and high is not None else None
    return {"mean": mean, "std": std, "low": low, "high": high, "n": len(present), "values": values,
            "missing": len(values) - len(present)}


def arm_status(records: Sequence[Record]) -> str:
    """ok (all succeeded), diverged (any seed), skipped, missing (no record), or another state."""
    if not records:
        return MISSING
    statuses = [str(r.get("status")) for r in records]
    if all(s == SKIPPED for s in statuses):
        return SKIPPED
    if all(s == RunState.SUCCEEDED for s in statuses):
        return "ok"
    if RunState.DIVERGED in statuses:
        return RunState.DIVERGED
    return next(s for s in statuses if s != RunState.SUCCEEDED)


def diverged_at(records: Sequence[Record]) -> str | None:
    for r in records:
        where = summary_of(r).get("diverged_at")
        if r.get("status") == RunState.DIVERGED:
            if isinstance(where, Mapping) and where.get("epoch") is not None:
                return f"epoch {where.get('epoch')}, batch {where.get('batch')}"
            return "during training"
    return None


def shorten(text: str, limit: int = 140) -> str:
    """One line of at most `limit` characters, for an error in a table cell."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def finite_mean(values: Iterable[float | None]) -> float | None:
    """Mean of the finite values; None when there are none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def bn_warmup(record: Record | None) -> float | None:
    """Share of the moving statistics that comes from training batches (1 - momentum^steps);
    None when the run has no BatchNormalization. Below ~0.9 inference-mode numbers are not
    meaningful yet: the moving averages still remember their initial values (mean 0, var 1)."""
    model = config_of(record).get("model") or {}
    norm = model.get("norm") or {}
    per_layer = norm.get("per_layer") or {}
    enabled = norm.get("on_input") or norm.get("placement", "none") != "none" or any(
        p != "none" for p in per_layer.values())
    if not enabled or norm.get("kind", "batch") != "batch":
        return None
    momentum = finite(norm.get("momentum"))
    if momentum is None:
        momentum = 0.99
    steps = (bnfig.steps_per_epoch(record) or 0) * int(summary_of(record).get("epochs_completed")
                                                   or len((record or {}).get("history", {}).get("loss") or []))
    if steps <= 0:
        return None
    return 1.0 - momentum**steps


def warmup_note(records: Sequence[Record]) -> str:
    """A warning when BN's moving averages are too young for inference-mode numbers to mean much; "" if not."""
    warm = [w for w in (bn_warmup(r) for r in records) if w is not None]
    if not warm or min(warm) >= WARM:
        return ""
    cfg = config_of(records[0])
    momentum = ((cfg.get("model") or {}).get("norm") or {}).get("momentum", 0.99)
    train = finite_mean(_probe_accuracy(r, "train_mode") for r in records)
    infer = finite_mean(_probe_accuracy(r, "inference_mode") for r in records)
    if train is not None and infer is not None and train - infer < LAG:
        return ""  # the averages are young but already agree with the batch statistics
    note = (f"BN moving averages only {min(warm):.0%} warmed up (momentum {momentum}): inference-mode accuracy "
            + ("is not meaningful yet" if min(warm) < 0.5 else "may still lag"))
    if train is not None and infer is not None:
        note += f" (probe batch at the end: {train:.3f} with batch statistics, {infer:.3f} with moving ones)"
    return note


def _probe_accuracy(record: Record, mode: str) -> float | None:
    return bnfig.probe_metric(bnfig.find_probe(record), mode, "accuracy")


def joined_notes(notes: Sequence[tuple[str, float | None]]) -> str:
    """A card's extra column: each (format template, value) with a value, comma separated."""
    return ", ".join(template.format(value) for template, value in notes if value is not None)


# --------------------------------------------------------------------------- measurements


def arm_mean(records: Sequence[Record], metric: str = METRIC) -> float | None:
    """Mean final `metric` over an arm's seeds."""
    return aggregate_arm_metric(records, metric)["mean"]



def last_block(record: Record | None, kind: str = "pre_activation") -> int | None:
    blocks = [b for b in bnfig.position_blocks(record, kind) if b > 0]
    return max(blocks) if blocks else None


def median_drift(record: Record | None, block: int | None = None, kind: str = "pre_activation") -> float | None:
    """How far the median of a position moves over training, in units of its initial 15–85th
    percentile width: max over probes of |p50(e) - p50(0)| / (p85(0) - p15(0))."""
    block = block if block is not None else last_block(record, kind)
    if block is None:
        return None
    found = [bnfig.find_position(p, block, kind) for p in bnfig.probes(record)]
    stats = [(pos.get("stats") or {}) for pos in found if pos]
    if len(stats) < 2:
        return None
    p15, p50, p85 = (finite(stats[0].get(k)) for k in ("p15", "p50", "p85"))
    if None in (p15, p50, p85) or p85 <= p15:
        return None
    moves = [abs(m - p50) for s in stats[1:] if (m := finite(s.get("p50"))) is not None]
    return max(moves) / (p85 - p15) if moves else None


def saturation_by_layer(record: Record | None, epoch: int | None = None) -> dict[str, float | None]:
    """block label -> share of saturated activation values at a probe (last by default)."""
    probe = bnfig.find_probe(record, epoch)
    out: dict[str, float | None] = {}
    for pos in (probe or {}).get("positions") or []:
        if pos.get("kind") == "activation" and (finite(pos.get("block")) or 0) > 0:
            out[bnfig.block_label(int(pos["block"]))] = finite((pos.get("stats") or {}).get("saturated"))
    return out


def gradients_by_layer(record: Record | None, epoch: int | None = None) -> dict[str, float | None]:
    """Weight-gradient norm of each linear layer (BN's own γ/β left out) at a probe."""
    probe = bnfig.find_probe(record, epoch)
    grads = (probe or {}).get("gradients") or {}
    return {str(k): finite(v) for k, v in grads.items() if "_bn" not in str(k)}


def first_layer_ratio(record: Record | None) -> float | None:
    """Smallest ratio, over all probes, of the first hidden layer's gradient norm to the
    output layer's: near 0 means the first layer has stopped learning (vanishing gradients)."""
    ratios = []
    for probe in bnfig.probes(record):
        grads = {str(k): finite(v) for k, v in (probe.get("gradients") or {}).items() if "_bn" not in str(k)}
        first = grads.get("dense1", next((v for k, v in grads.items() if k != "output"), None))
        out = grads.get("output")
        if first is not None and out:
            ratios.append(first / out)
    return min(ratios) if ratios else None


def mode_gap(record: Record | None) -> tuple[list[int], list[float | None]]:
    """Per probe epoch, probe-batch accuracy with batch statistics minus with moving statistics."""
    xs, ys = [], []
    for probe in bnfig.probes(record):
        train = bnfig.probe_metric(probe, "train_mode", "accuracy")
        infer = bnfig.probe_metric(probe, "inference_mode", "accuracy")
        xs.append(int(probe["epoch"]))
        ys.append(train - infer if train is not None and infer is not None else None)
    return xs, ys


def mean_gap(record: Record | None) -> float | None:
    """Mean train-minus-inference probe accuracy gap after epoch 0."""
    xs, ys = mode_gap(record)
    return finite_mean(y for x, y in zip(xs, ys) if x >= 1)


def epochs_to(record: Record | None, threshold: float, key: str = "val_accuracy") -> int | None:
    for i, v in enumerate((record or {}).get("history", {}).get(key) or [], 1):
        if finite(v) is not None and v >= threshold:
            return i
    return None


def mean_over_seeds(records: Sequence[Record], fn: Callable[[Record], float | None]) -> float | None:
    """Mean of a per-record measurement over an arm's seeds, gaps left out."""
    return finite_mean(fn(r) for r in records)
