"""Training curves: loss and accuracy per epoch and within epochs, compared runs, seed bands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bnviz.figures.common import (
    HEIGHT,
    PALETTE,
    as_record,
    empty_figure,
    find_probe,
    finite,
    finite_list,
    legend_below,
    metric_label,
    probe_metric,
    rgba,
    run_color,
    style_figure,
)

# --------------------------------------------------------------------------- training curves


def steps_per_epoch(record: Mapping[str, Any] | None) -> int | None:
    """Largest batch number logged in a completed epoch (a lower bound by < log_every);
    falls back to the largest batch logged at all, None without batches."""
    rec = as_record(record)
    batches = [b for b in rec.get("batches") or [] if isinstance(b, Mapping)]
    pairs = [(finite(b.get("epoch")), finite(b.get("batch"))) for b in batches]
    pairs = [(int(e), int(n)) for e, n in pairs if e is not None and n is not None and n > 0]
    if not pairs:
        return None
    history = rec.get("history") or {}
    done = max((len(v) for v in history.values() if isinstance(v, list)), default=0)
    last = max(e for e, _ in pairs)
    completed = [n for e, n in pairs if e <= done or e < last]
    return max(completed) if completed else max(n for _, n in pairs)


BATCH_OWN = "train (each logged batch)"  # batches[i].batch_<metric>: the logged batches' own mean
BATCH_RUNNING = "train (running mean within the epoch)"  # older records: Keras' running mean, reset each epoch


def batches_are_own(record: Mapping[str, Any], metric: str) -> bool:
    """Whether the record's batch points are each logged batch's own `metric` (`batch_<metric>`,
    added field) rather than Keras' running mean within the epoch (older records)."""
    batches = [b for b in as_record(record).get("batches") or [] if isinstance(b, Mapping)]
    own = [b.get(f"batch_{metric}") for b in batches if b.get(metric) is not None]
    return all(value is not None for value in own)  # a script's run without batch sizes: the running means


def _batch_points(record: Mapping[str, Any], metric: str, steps: int | None) -> tuple[list, list]:
    steps = steps or steps_per_epoch(record)
    key = f"batch_{metric}" if batches_are_own(record, metric) else metric
    xs, ys = [], []
    for b in as_record(record).get("batches") or []:
        if not isinstance(b, Mapping):
            continue
        e, n, v = finite(b.get("epoch")), finite(b.get("batch")), finite(b.get(key))
        if e is None or n is None or v is None or not steps:
            continue
        xs.append((e - 1) + min(n / steps, 1.0))
        ys.append(v)
    return xs, ys


def initial_value(record: Mapping[str, Any] | None, metric: str) -> float | None:
    """`metric` ("loss" or "accuracy") before any update: the epoch-0 probe's batch in training mode.

    The probe runs before the first step, so a live chart has its starting point (for a fresh
    classifier about ln(classes)) while the first steps still compile."""
    return probe_metric(find_probe(record, 0), "train_mode", metric)


def _diverged_x(record: Mapping[str, Any], steps: int | None) -> float | None:
    summary = as_record(record).get("summary") or {}
    where = summary.get("diverged_at") if isinstance(summary, Mapping) else None
    if not isinstance(where, Mapping) or finite(where.get("epoch")) is None:
        return None
    epoch, batch = finite(where.get("epoch")) or 1.0, finite(where.get("batch")) or 0.0
    return (epoch - 1) + (min(batch / steps, 1.0) if steps else 0.0)


def loss_curves(
    record: Mapping[str, Any] | None,
    metric: str = "loss",
    show_batches: bool = True,
    *,
    steps: int | None = None,
    uirevision: str = "bnviz",
    height: int = HEIGHT,
) -> go.Figure:
    """Train/validation curves per epoch, with the logged batches as a thin line so a live run
    shows progress inside the current epoch, from its value before training (`initial_value`) on.
    Each point is the mean of the batches since the previous one (`batch_loss`); older records only
    have Keras' running mean within the epoch, and the line's name says so. `steps` overrides the
    steps-per-epoch estimate."""
    rec = as_record(record)
    name = metric_label(metric)
    title = f"{name} during training"
    steps = steps or steps_per_epoch(rec)
    fig = go.Figure(_curve_traces(rec, metric, show_batches, steps))
    if not fig.data:
        return empty_figure(title, f"no {metric} recorded", uirevision=uirevision, height=height)
    x_div = _diverged_x(rec, steps)
    if x_div is not None:
        fig.add_vline(x=x_div, line={"color": PALETTE["diverged"], "dash": "dot"},
                      annotation_text="diverged", annotation_position="top left")
    if metric.endswith("accuracy"):
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    if show_batches:
        fig.update_xaxes(rangemode="tozero")  # batches of epoch 1 sit between 0 and 1
    return style_figure(fig, title, "epoch", name, uirevision=uirevision, height=height)


def _curve_traces(rec: Mapping[str, Any], metric: str, show_batches: bool, steps: int | None) -> list[go.Scatter]:
    """`loss_curves`' lines of `metric`: the logged batches (from the value before training), then
    train and validation per epoch; none when nothing of `metric` is recorded."""
    history = rec.get("history") or {}
    name = metric_label(metric)
    traces = []
    if show_batches:
        bx, by = _batch_points(rec, metric, steps)
        start = initial_value(rec, metric)
        if start is not None:  # the line starts where training started
            bx, by = [0.0, *bx], [start, *by]
        if bx:
            traces.append(
                go.Scatter(
                    x=bx, y=by, mode="lines" if len(bx) > 1 else "markers",
                    name=BATCH_OWN if batches_are_own(rec, metric) else BATCH_RUNNING,
                    line={"color": rgba(PALETTE["train"], 0.45), "width": 1},
                    hovertemplate="epoch %{x:.2f}<br>" + name + " %{y:.4g}<extra>%{fullData.name}</extra>",
                )
            )
    for key, label, color in ((metric, "train", PALETTE["train"]), (f"val_{metric}", "validation",
                                                                   PALETTE["validation"])):
        ys = finite_list(history.get(key))
        if any(v is not None for v in ys):
            traces.append(
                go.Scatter(
                    x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers", name=label,
                    line={"color": color, "width": 2}, marker={"size": 5},
                    hovertemplate="epoch %{x}<br>" + name + " %{y:.4g}<extra>%{fullData.name}</extra>",
                )
            )
    return traces


def training_curves(record: Mapping[str, Any] | None, *, uirevision: str = "bnviz", height: int = HEIGHT) -> go.Figure:
    """Loss and accuracy side by side in one figure (`loss_curves`' lines, styled once), with one
    legend: a live page sends one chart per redraw instead of two, to every viewer. A run without
    accuracy (a script's regression model) gets its loss figure alone."""
    rec = as_record(record)
    steps = steps_per_epoch(rec)
    panels = [_curve_traces(rec, metric, True, steps) for metric in ("loss", "accuracy")]
    if not panels[1]:
        return loss_curves(rec, "loss", steps=steps, uirevision=uirevision, height=height)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.08)
    for col, traces in enumerate(panels, start=1):
        for trace in traces:  # the loss's traces first: "train" names the loss curve first
            fig.add_trace(trace.update(legendgroup=trace.name, showlegend=col == 1), row=1, col=col)
        fig.update_xaxes(rangemode="tozero", title_text="epoch", row=1, col=col)
        fig.update_yaxes(title_text=metric_label(("loss", "accuracy")[col - 1]), row=1, col=col)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    x_div = _diverged_x(rec, steps)
    if x_div is not None:
        fig.add_vline(x=x_div, line={"color": PALETTE["diverged"], "dash": "dot"},
                      annotation_text="diverged", annotation_position="top left")
    return style_figure(fig, "Loss and accuracy during training", uirevision=uirevision, height=height,
                        subplots=True)


def compare_curves(
    records: Sequence[Mapping[str, Any] | None],
    labels: Sequence[str],
    metric: str = "val_accuracy",
    *,
    uirevision: str = "bnviz",
    height: int = HEIGHT,
) -> go.Figure:
    """One line per run for any history key, colored by run order, to compare settings."""
    name = metric_label(metric)
    title = f"{name}: run comparison"
    fig = go.Figure()
    for i, rec in enumerate(records):
        label = labels[i] if i < len(labels) else f"run {i + 1}"
        ys = finite_list((as_record(rec).get("history") or {}).get(metric))
        if not any(v is not None for v in ys):
            continue
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers", name=label,
                line={"color": run_color(i), "width": 2}, marker={"size": 4},
                hovertemplate="epoch %{x}<br>" + name + " %{y:.4g}<extra>%{fullData.name}</extra>",
            )
        )
    if not fig.data:
        return empty_figure(title, f"no run has {metric} yet", uirevision=uirevision, height=height)
    if metric.endswith("accuracy"):
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return legend_below(style_figure(fig, title, "epoch", name, uirevision=uirevision, height=height))


# --------------------------------------------------------------------------- multi-seed bands


def aggregate_series(series: Sequence[Sequence[Any]], band: str = "std") -> dict[str, list]:
    """Mean and band per epoch over several seeds. Runs may differ in length (one diverged or
    is still training): epoch i aggregates only the runs that have a finite value there.
    band="std": mean ± sample std (ddof=1; a lone run has zero width); "minmax": min..max.
    Epochs with no value give None everywhere and n = 0."""
    if band not in ("std", "minmax"):
        raise ValueError(f"band must be 'std' or 'minmax', got {band!r}")
    length = max((len(s) for s in series), default=0)
    out: dict[str, list] = {"mean": [], "low": [], "high": [], "n": []}
    for i in range(length):
        vals = np.array([v for s in series if i < len(s) and (v := finite(s[i])) is not None], dtype=float)
        out["n"].append(len(vals))
        if len(vals) == 0:
            for key in ("mean", "low", "high"):
                out[key].append(None)
            continue
        mean = float(vals.mean())
        if band == "std":
            spread = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
            low, high = mean - spread, mean + spread
        else:
            low, high = float(vals.min()), float(vals.max())
        out["mean"].append(mean)
        out["low"].append(low)
        out["high"].append(high)
    return out


def seed_band(
    mean: Sequence[Any],
    low: Sequence[Any],
    high: Sequence[Any],
    label: str,
    x: Sequence[Any] | None = None,
    *,
    color: str | None = None,
    hover: str = "mean",
) -> list[go.Scatter]:
    """[shaded band, mean line] sharing a legend group, so a click hides both.
    The band is one closed polygon over the points where low and high exist."""
    color = color or run_color(0)
    xs = list(x) if x is not None else list(range(1, len(mean) + 1))
    pts = [(xv, lo, hi) for xv, lo, hi in zip(xs, finite_list(low), finite_list(high))
           if lo is not None and hi is not None]
    band = go.Scatter(
        x=[p[0] for p in pts] + [p[0] for p in reversed(pts)],
        y=[p[2] for p in pts] + [p[1] for p in reversed(pts)],
        fill="toself", fillcolor=rgba(color, 0.18), line={"width": 0, "color": color}, mode="lines",
        hoverinfo="skip", showlegend=False, legendgroup=label, name=f"{label} band",
    )
    line = go.Scatter(
        x=xs, y=finite_list(mean), mode="lines+markers", name=label, legendgroup=label,
        line={"color": color, "width": 2}, marker={"size": 4},
        customdata=[[lo, hi] for lo, hi in zip(finite_list(low), finite_list(high))],
        hovertemplate="x %{x}<br>" + hover + " %{y:.4g}<br>band %{customdata[0]:.4g} … %{customdata[1]:.4g}"
        + "<extra>%{fullData.name}</extra>",
    )
    return [band, line]


def aggregate_band_figure(
    groups: Mapping[str, Sequence[Sequence[Any]]],
    metric_label: str,
    band: str = "std",
    *,
    uirevision: str = "bnviz",
    height: int = HEIGHT,
) -> go.Figure:
    """Mean line with a shaded spread per group of seeds: shows whether a difference
    between settings is larger than the seed-to-seed noise."""
    spread = "mean ± std" if band == "std" else "min–max"
    title = f"{metric_label} over seeds ({spread})"
    fig = go.Figure()
    for i, (name, series) in enumerate(groups.items()):
        agg = aggregate_series(series, band=band)
        if not any(v is not None for v in agg["mean"]):
            continue
        label = f"{name} (n={max(agg['n'])})"
        for trace in seed_band(agg["mean"], agg["low"], agg["high"], label, color=run_color(i)):
            fig.add_trace(trace)
    if not fig.data:
        return empty_figure(title, "no finished seeds", uirevision=uirevision, height=height)
    return style_figure(fig, title, "epoch", metric_label, uirevision=uirevision, height=height)
