"""Plotly figures built from run records (`bnviz.run/1`, see docs/run-record.md).

Every function is pure: a record (plain dict, possibly partial while a run is still
training) goes in, a `go.Figure` comes out. Nothing here trains, reads files or imports
Streamlit, so the same figures serve the live dashboard and the static Markdown report.

Conventions shared by all figures:
* one palette (`PALETTE`), one meaning per color on every page: "before BN" is always blue,
  "after BN" always orange, training curves dark grey, validation teal; compared runs take
  `PALETTE["runs"]` in order, which uses none of those colors;
* histograms are precomputed in the record and drawn as bars, never re-binned;
* missing data never raises: the figure carries a centered "No data yet" note instead;
* `uirevision` is a stable string so Streamlit keeps the user's zoom across reruns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

NO_DATA = "No data yet"
TEMPLATE = "plotly_white"
HEIGHT = 420

PALETTE: dict[str, Any] = {
    # positions in the network
    "input": "#7F7F7F",
    "bn_input": "#4C78A8",  # before normalization
    "bn_output": "#F58518",  # after normalization (batch statistics)
    "bn_output_inference": "#54A24B",  # after normalization (moving statistics)
    "pre_activation": "#B279A2",
    "activation": "#E45756",
    "output": "#9D755D",
    # training curves
    "train": "#3C3C3C",
    "validation": "#17A2B8",
    "test": "#7F3C8D",
    "gradient": "#72B7B2",
    "diverged": "#D62728",
    # distinct colors for runs, blocks, layers and classes (cycled)
    "runs": (
        "#7B3294", "#1B9E77", "#E7298A", "#A6761D", "#66A61E",
        "#E6AB02", "#B2182B", "#808000", "#8C510A", "#C51B7D",
    ),
}

POSITION_LABELS: dict[str, str] = {
    "input": "network input",
    "bn_input": "before BN",
    "bn_output": "after BN (batch stats)",
    "bn_output_inference": "after BN (moving stats)",
    "pre_activation": "pre-activation",
    "activation": "activation",
    "output": "network output",
}

BN_PARAMS = ("gamma", "beta", "moving_mean", "moving_variance")
BN_PARAM_TITLES = ("γ (scale)", "β (shift)", "moving mean", "moving variance")


# --------------------------------------------------------------------------- small helpers


def position_label(kind: str) -> str:
    """Human label for a position kind, used in legends so readers never see raw keys."""
    return POSITION_LABELS.get(kind, str(kind).replace("_", " "))


def block_label(block: int) -> str:
    """Human label for a block number (0 = input, -1 = output, as in the record)."""
    return {0: "input", -1: "output"}.get(int(block), f"block {block}")


def run_color(i: int) -> str:
    """The i-th distinct color, so run i has the same color in every compare view."""
    runs = PALETTE["runs"]
    return runs[i % len(runs)]


def kind_color(kind: str) -> str:
    """Fixed color of a position kind (before BN blue, after BN orange, ...)."""
    return PALETTE.get(kind, PALETTE["input"])


def _rgba(hex_color: str, alpha: float) -> str:
    """Hex color with transparency, for bands and overlaid bars."""
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def finite(value: Any) -> float | None:
    """A finite float or None: JSON nulls, NaN and inf all become gaps in a line."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


_num = finite

def _nums(values: Iterable[Any] | None) -> list[float | None]:
    return [_num(v) for v in (values or [])]


def _fmt(value: Any, spec: str = ".3g") -> str:
    v = _num(value)
    return "n/a" if v is None else format(v, spec)


def metric_label(metric: str) -> str:
    """'val_accuracy' -> 'Validation accuracy', for titles and axis labels."""
    prefixes = {"val_": "Validation ", "test_": "Test ", "train_": "Training "}
    for prefix, word in prefixes.items():
        if metric.startswith(prefix):
            return word + metric[len(prefix) :].replace("_", " ")
    text = metric.replace("_", " ")
    return text[:1].upper() + text[1:]


def _style(
    fig: go.Figure,
    title: str,
    xlabel: str | None = None,
    ylabel: str | None = None,
    *,
    uirevision: str = "bnviz",
    height: int = HEIGHT,
    showlegend: bool = True,
    subplots: bool = False,
) -> go.Figure:
    """One look for every figure: template, title, legend on top, stable uirevision.
    Subplot figures get the legend higher up, clear of the subplot titles."""
    legend_y, top = (1.1, 110) if subplots else (1.02, 90)
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.01, "xanchor": "left"},
        height=height,
        uirevision=uirevision,
        showlegend=showlegend,
        legend={"orientation": "h", "yanchor": "bottom", "y": legend_y, "xanchor": "right", "x": 1.0},
        margin={"l": 60, "r": 20, "t": top, "b": 55},
    )
    if xlabel is not None:
        fig.update_xaxes(title_text=xlabel)
    if ylabel is not None:
        fig.update_yaxes(title_text=ylabel)
    if xlabel == "epoch" or subplots:
        _epoch_ticks(fig)
    return fig


def _epoch_ticks(fig: go.Figure, max_ticks: int = 20) -> None:
    """Whole-epoch ticks on short runs (no "epoch 0.5" labels); plotly's own ticks on long ones."""
    xs = [float(v) for t in fig.data if getattr(t, "x", None) is not None for v in t.x
          if isinstance(v, (int, float, np.integer, np.floating))]
    if xs and max(xs) - min(xs) <= max_ticks:
        fig.update_xaxes(tick0=0, dtick=1)


def empty_figure(
    title: str = "", detail: str | None = None, *, uirevision: str = "bnviz", height: int = HEIGHT
) -> go.Figure:
    """A blank figure with a centered "No data yet" note: partial runs must never raise."""
    text = NO_DATA if not detail else f"{NO_DATA}<br><sup>{detail}</sup>"
    fig = go.Figure()
    fig.add_annotation(
        text=text, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, font={"size": 16, "color": "#888"}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _style(fig, title, uirevision=uirevision, height=height, showlegend=False)


def is_empty_figure(fig: go.Figure) -> bool:
    """True for figures made by `empty_figure`, so callers can choose to hide them."""
    return not fig.data and any(str(a.text).startswith(NO_DATA) for a in fig.layout.annotations)


# --------------------------------------------------------------------------- record access


def _record(record: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return record if isinstance(record, Mapping) else {}


def probes(record: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Probes sorted by epoch; a repeated epoch keeps its last probe (a resumed run)."""
    by_epoch: dict[int, dict[str, Any]] = {}
    for probe in _record(record).get("probes") or []:
        if isinstance(probe, Mapping) and _num(probe.get("epoch")) is not None:
            by_epoch[int(probe["epoch"])] = dict(probe)
    return [by_epoch[e] for e in sorted(by_epoch)]


def probe_epochs(record: Mapping[str, Any] | None) -> list[int]:
    """Epochs that have a probe (0 = before training), sorted."""
    return [int(p["epoch"]) for p in probes(record)]


def find_probe(record: Mapping[str, Any] | None, epoch: int | None = None) -> dict[str, Any] | None:
    """The probe at `epoch`, else the closest earlier one; the last probe when epoch is None."""
    found = probes(record)
    if epoch is None:
        return found[-1] if found else None
    earlier = [p for p in found if int(p["epoch"]) <= int(epoch)]
    return earlier[-1] if earlier else None


def find_position(probe: Mapping[str, Any] | None, block: int, kind: str) -> dict[str, Any] | None:
    """The position of `kind` in `block` of a probe, or None when the run has none there."""
    for pos in (probe or {}).get("positions") or []:
        if isinstance(pos, Mapping) and pos.get("kind") == kind and _num(pos.get("block")) == block:
            return dict(pos)
    return None


def position_blocks(record: Mapping[str, Any] | None, kind: str | None = None) -> list[int]:
    """Block numbers that hold a position (of `kind`, when given), for block pickers."""
    blocks: set[int] = set()
    for probe in probes(record):
        for pos in probe.get("positions") or []:
            if isinstance(pos, Mapping) and (kind is None or pos.get("kind") == kind):
                b = _num(pos.get("block"))
                if b is not None:
                    blocks.add(int(b))
    # hidden blocks in order, then the output; the input first
    return sorted(blocks, key=lambda b: (b != 0, b == -1, b))


def position_kinds(record: Mapping[str, Any] | None, block: int) -> list[str]:
    """Kinds recorded for a block, in the documented order."""
    kinds: set[str] = set()
    for probe in probes(record):
        for pos in probe.get("positions") or []:
            if isinstance(pos, Mapping) and _num(pos.get("block")) == block and pos.get("kind"):
                kinds.add(str(pos["kind"]))
    order = list(POSITION_LABELS)
    return sorted(kinds, key=lambda k: (order.index(k) if k in order else len(order), k))


def hist_arrays(hist: Mapping[str, Any] | None, density: bool = True) -> tuple[list, list, list] | None:
    """(centers, widths, heights) of a stored histogram; densities divide by all values,
    including those outside the edges, so areas are comparable across positions and runs."""
    if not isinstance(hist, Mapping):
        return None
    edges = np.asarray(_nums(hist.get("edges")), dtype=float)
    counts = np.asarray(_nums(hist.get("counts")), dtype=float)
    if len(edges) < 2 or len(counts) != len(edges) - 1 or np.isnan(edges).any():
        return None
    counts = np.nan_to_num(counts)
    widths = np.diff(edges)
    if (widths <= 0).any():
        return None
    centers = edges[:-1] + widths / 2
    heights = counts
    if density:
        total = counts.sum() + (_num(hist.get("below")) or 0.0) + (_num(hist.get("above")) or 0.0)
        heights = counts / (total * widths) if total > 0 else np.zeros_like(counts)
    return centers.tolist(), widths.tolist(), heights.tolist()


def _outside_share(hist: Mapping[str, Any]) -> float:
    counts = sum(v for v in _nums(hist.get("counts")) if v is not None)
    outside = (_num(hist.get("below")) or 0.0) + (_num(hist.get("above")) or 0.0)
    total = counts + outside
    return outside / total if total > 0 else 0.0


# --------------------------------------------------------------------------- training curves


def steps_per_epoch(record: Mapping[str, Any] | None) -> int | None:
    """Largest batch number logged in a completed epoch (a lower bound by < log_every);
    falls back to the largest batch logged at all, None without batches."""
    rec = _record(record)
    batches = [b for b in rec.get("batches") or [] if isinstance(b, Mapping)]
    pairs = [(_num(b.get("epoch")), _num(b.get("batch"))) for b in batches]
    pairs = [(int(e), int(n)) for e, n in pairs if e is not None and n is not None and n > 0]
    if not pairs:
        return None
    history = rec.get("history") or {}
    done = max((len(v) for v in history.values() if isinstance(v, list)), default=0)
    last = max(e for e, _ in pairs)
    completed = [n for e, n in pairs if e <= done or e < last]
    return max(completed) if completed else max(n for _, n in pairs)


def _batch_points(record: Mapping[str, Any], metric: str, steps: int | None) -> tuple[list, list]:
    steps = steps or steps_per_epoch(record)
    xs, ys = [], []
    for b in _record(record).get("batches") or []:
        if not isinstance(b, Mapping):
            continue
        e, n, v = _num(b.get("epoch")), _num(b.get("batch")), _num(b.get(metric))
        if e is None or n is None or v is None or not steps:
            continue
        xs.append((e - 1) + min(n / steps, 1.0))
        ys.append(v)
    return xs, ys


def _diverged_x(record: Mapping[str, Any], steps: int | None) -> float | None:
    summary = _record(record).get("summary") or {}
    where = summary.get("diverged_at") if isinstance(summary, Mapping) else None
    if not isinstance(where, Mapping) or _num(where.get("epoch")) is None:
        return None
    epoch, batch = _num(where.get("epoch")) or 1.0, _num(where.get("batch")) or 0.0
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
    shows progress inside the current epoch. `steps` overrides the steps-per-epoch estimate."""
    rec = _record(record)
    history = rec.get("history") or {}
    name = metric_label(metric)
    title = f"{name} during training"
    fig = go.Figure()
    steps = steps or steps_per_epoch(rec)
    if show_batches:
        bx, by = _batch_points(rec, metric, steps)
        if bx:
            fig.add_trace(
                go.Scatter(
                    x=bx, y=by, mode="lines", name="train (batches)",
                    line={"color": _rgba(PALETTE["train"], 0.45), "width": 1},
                    hovertemplate="epoch %{x:.2f}<br>" + name + " %{y:.4g}<extra>%{fullData.name}</extra>",
                )
            )
    for key, label, color in ((metric, "train", PALETTE["train"]), (f"val_{metric}", "validation",
                                                                   PALETTE["validation"])):
        ys = _nums(history.get(key))
        if any(v is not None for v in ys):
            fig.add_trace(
                go.Scatter(
                    x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers", name=label,
                    line={"color": color, "width": 2}, marker={"size": 5},
                    hovertemplate="epoch %{x}<br>" + name + " %{y:.4g}<extra>%{fullData.name}</extra>",
                )
            )
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
    return _style(fig, title, "epoch", name, uirevision=uirevision, height=height)


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
        ys = _nums((_record(rec).get("history") or {}).get(metric))
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
    return _legend_below(_style(fig, title, "epoch", name, uirevision=uirevision, height=height))


def _legend_below(fig: go.Figure) -> go.Figure:
    """Run names are long: a legend under the plot keeps them off the title and the data."""
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0.0},
                      margin={"t": 60, "b": 110})
    return fig


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
        vals = np.array([v for s in series if i < len(s) and (v := _num(s[i])) is not None], dtype=float)
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
    pts = [(xv, lo, hi) for xv, lo, hi in zip(xs, _nums(low), _nums(high)) if lo is not None and hi is not None]
    band = go.Scatter(
        x=[p[0] for p in pts] + [p[0] for p in reversed(pts)],
        y=[p[2] for p in pts] + [p[1] for p in reversed(pts)],
        fill="toself", fillcolor=_rgba(color, 0.18), line={"width": 0, "color": color}, mode="lines",
        hoverinfo="skip", showlegend=False, legendgroup=label, name=f"{label} band",
    )
    line = go.Scatter(
        x=xs, y=_nums(mean), mode="lines+markers", name=label, legendgroup=label,
        line={"color": color, "width": 2}, marker={"size": 4},
        customdata=[[lo, hi] for lo, hi in zip(_nums(low), _nums(high))],
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
    return _style(fig, title, "epoch", metric_label, uirevision=uirevision, height=height)


# --------------------------------------------------------------------------- histograms


def _hist_bar(pos: Mapping[str, Any], name: str, color: str, opacity: float = 0.55) -> go.Bar | None:
    """One stored histogram as density bars; stats go in the legend and the hover."""
    hist = pos.get("hist") or {}
    arrays = hist_arrays(hist)
    if arrays is None:
        return None
    centers, widths, heights = arrays
    stats = pos.get("stats") or {}
    mean, std = _fmt(stats.get("mean")), _fmt(stats.get("std"))
    outside = _outside_share(hist)
    extra = f"<br>outside range: {outside:.1%}" if outside > 0 else ""
    return go.Bar(
        x=centers, y=heights, width=widths, name=f"{name} (μ={mean}, σ={std})",
        marker={"color": color, "line": {"width": 0}}, opacity=opacity,
        hovertemplate=(
            "value %{x:.3g}<br>density %{y:.3g}<br>"
            + f"layer {pos.get('layer', '?')}{extra}<extra>%{{fullData.name}}</extra>"
        ),
    )


def _hist_layout(fig: go.Figure, title: str, ylabel: str, uirevision: str, height: int) -> go.Figure:
    fig.update_layout(barmode="overlay", bargap=0)
    return _style(fig, title, "value", ylabel, uirevision=uirevision, height=height)


def histogram_overlay(
    record: Mapping[str, Any] | None,
    layer_block: int,
    epoch: int,
    kinds: Sequence[str] = ("bn_input", "bn_output"),
    *,
    title: str | None = None,
    uirevision: str = "bnviz",
    height: int = HEIGHT,
) -> go.Figure:
    """Distributions at several positions of one block at one probe epoch, as densities so
    positions with different bin edges share one y scale (before vs after BN)."""
    probe = find_probe(record, epoch)
    where = f"{block_label(layer_block)}"
    if probe is None:
        return empty_figure(title or f"Distributions in {where}", f"no probe at or before epoch {epoch}",
                            uirevision=uirevision, height=height)
    shown = int(probe["epoch"])
    at = f"epoch {shown}" if shown == int(epoch) else f"epoch {shown} (closest probe to {epoch})"
    title = title or f"Distributions in {where} · {at}"
    fig = go.Figure()
    for kind in kinds:
        pos = find_position(probe, layer_block, kind)
        bar = _hist_bar(pos, position_label(kind), kind_color(kind)) if pos else None
        if bar is not None:
            fig.add_trace(bar)
    if not fig.data:
        return empty_figure(title, f"nothing recorded for {where}", uirevision=uirevision, height=height)
    return _hist_layout(fig, title, "density", uirevision, height)


def bn_mode_overlay(
    record: Mapping[str, Any] | None,
    layer_block: int,
    epoch: int,
    *,
    uirevision: str = "bnviz",
    height: int = HEIGHT,
) -> go.Figure:
    """BN output with batch vs moving statistics: the gap is the train/inference mismatch."""
    probe = find_probe(record, epoch)
    shown = int(probe["epoch"]) if probe else epoch
    title = f"BN output in training vs inference mode · {block_label(layer_block)} · epoch {shown}"
    return histogram_overlay(record, layer_block, epoch, kinds=("bn_output", "bn_output_inference"),
                             title=title, uirevision=uirevision, height=height)


def histogram_animation(
    record: Mapping[str, Any] | None,
    layer_block: int,
    kinds: Sequence[str] = ("bn_input", "bn_output"),
    *,
    frame_ms: int = 600,
    uirevision: str = "bnviz",
    height: int = 480,
) -> go.Figure:
    """The overlay animated over all probe epochs, with fixed axes so motion means change."""
    where = block_label(layer_block)
    title = f"Distributions in {where} over training"
    found = probes(record)
    kinds = [k for k in kinds if any(find_position(p, layer_block, k) for p in found)]
    if not found or not kinds:
        return empty_figure(title, f"nothing recorded for {where}", uirevision=uirevision, height=height)

    def bars(probe: Mapping[str, Any]) -> list[go.Bar]:
        out = []
        for kind in kinds:
            pos = find_position(probe, layer_block, kind)
            bar = _hist_bar(pos, position_label(kind), kind_color(kind)) if pos else None
            # every frame needs the same traces in the same order
            out.append(bar or go.Bar(x=[], y=[], name=position_label(kind), marker={"color": kind_color(kind)}))
        return out

    frames = [go.Frame(data=bars(p), name=str(p["epoch"])) for p in found]
    xs = [x for fr in frames for b in fr.data if b.x for x in (min(b.x) - b.width[0] / 2, max(b.x) + b.width[-1] / 2)]
    ymax = max((max(b.y) for fr in frames for b in fr.data if b.y), default=1.0)
    fig = go.Figure(data=list(frames[0].data), frames=frames)
    fig.update_xaxes(range=[min(xs), max(xs)] if xs else None, autorange=not xs)
    fig.update_yaxes(range=[0, ymax * 1.05 or 1.0], autorange=False)
    step_args = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
    fig.update_layout(
        sliders=[{
            "active": 0, "currentvalue": {"prefix": "epoch "}, "pad": {"t": 45},
            "steps": [{"label": fr.name, "method": "animate", "args": [[fr.name], step_args]} for fr in frames],
        }],
        updatemenus=[{
            "type": "buttons", "direction": "left", "showactive": False,
            "x": 0.0, "y": -0.12, "xanchor": "right", "yanchor": "top", "pad": {"t": 45, "r": 10},
            "buttons": [
                {"label": "▶ Play", "method": "animate", "args": [None, {
                    "frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True,
                    "transition": {"duration": 0}}]},
                {"label": "❚❚ Pause", "method": "animate", "args": [[None], step_args]},
            ],
        }],
    )
    fig = _hist_layout(fig, title, "density", uirevision, height)
    fig.update_layout(margin={"b": 130})
    return fig


def compare_histograms(
    records: Sequence[Mapping[str, Any] | None],
    labels: Sequence[str],
    layer_block: int,
    epoch: int,
    kind: str = "bn_output",
    *,
    uirevision: str = "bnviz",
    height: int = HEIGHT,
) -> go.Figure:
    """The same position in several runs (e.g. with and without BN), overlaid as densities."""
    title = f"{position_label(kind)} · {block_label(layer_block)} · epoch {epoch}: run comparison"
    fig = go.Figure()
    for i, rec in enumerate(records):
        label = labels[i] if i < len(labels) else f"run {i + 1}"
        probe = find_probe(rec, epoch)
        pos = find_position(probe, layer_block, kind) if probe else None
        if pos is None:
            continue
        shown = int(probe["epoch"])
        name = label if shown == int(epoch) else f"{label} @ epoch {shown}"
        bar = _hist_bar(pos, name, run_color(i), opacity=0.5)
        if bar is not None:
            fig.add_trace(bar)
    if not fig.data:
        return empty_figure(title, "no run has this position yet", uirevision=uirevision, height=height)
    return _legend_below(_hist_layout(fig, title, "density", uirevision, height))


# --------------------------------------------------------------------------- over-time views


def _stat_series(record: Mapping[str, Any] | None, block: int, kind: str, keys: Sequence[str]) -> dict:
    """Per probe epoch, the named stats of one position (None where missing)."""
    out: dict[str, list] = {"epoch": [], **{k: [] for k in keys}}
    for probe in probes(record):
        pos = find_position(probe, block, kind)
        if pos is None:
            continue
        stats = pos.get("stats") or {}
        out["epoch"].append(int(probe["epoch"]))
        for k in keys:
            out[k].append(_num(stats.get(k)))
    return out


def percentile_bands(
    record: Mapping[str, Any] | None,
    kind: str = "pre_activation",
    blocks: Sequence[int] | None = None,
    *,
    uirevision: str = "bnviz",
    height: int = HEIGHT,
) -> go.Figure:
    """Ioffe & Szegedy (2015), Figure 1: the median with the 15th-85th percentile band per
    block over training; without BN the band drifts, with BN it stays put."""
    title = f"{position_label(kind)}: median and 15–85th percentiles (Ioffe & Szegedy, Fig. 1)"
    chosen = list(blocks) if blocks is not None else [b for b in position_blocks(record, kind) if b > 0]
    fig = go.Figure()
    for i, block in enumerate(chosen):
        s = _stat_series(record, block, kind, ("p15", "p50", "p85"))
        if not any(v is not None for v in s["p50"]):
            continue
        for trace in seed_band(s["p50"], s["p15"], s["p85"], block_label(block), x=s["epoch"],
                               color=run_color(i), hover="median"):
            fig.add_trace(trace)
    if not fig.data:
        return empty_figure(title, f"no {position_label(kind)} percentiles recorded",
                            uirevision=uirevision, height=height)
    return _style(fig, title, "epoch", "value", uirevision=uirevision, height=height)


def gradient_norms(
    record: Mapping[str, Any] | None,
    epoch: int | None = None,
    *,
    uirevision: str = "bnviz",
    height: int = HEIGHT,
) -> go.Figure:
    """Per-layer weight-gradient L2 norm at one probe (default: the last), log scale so
    vanishing gradients in early layers stand out."""
    probe = find_probe(record, epoch)
    grads = (probe or {}).get("gradients")
    values = {str(k): _num(v) for k, v in grads.items()} if isinstance(grads, Mapping) else {}
    title = "Gradient norm per layer"
    if probe is None or not any(v is not None for v in values.values()):
        return empty_figure(title, "no gradients recorded", uirevision=uirevision, height=height)
    title += f" · epoch {probe['epoch']}"
    fig = go.Figure(go.Bar(
        x=list(values), y=list(values.values()), name="‖∇W‖₂", marker={"color": PALETTE["gradient"]},
        hovertemplate="%{x}<br>‖∇W‖₂ %{y:.3g}<extra></extra>",
    ))
    fig.update_yaxes(type="log")
    return _style(fig, title, "layer", "gradient L2 norm (log)", uirevision=uirevision, height=height)


def gradient_norms_over_time(
    record: Mapping[str, Any] | None, *, uirevision: str = "bnviz", height: int = HEIGHT
) -> go.Figure:
    """One line per layer of gradient norm over probe epochs, log scale."""
    title = "Gradient norm per layer over training"
    found = probes(record)
    layers: list[str] = []
    for p in found:
        for name in (p.get("gradients") or {}):
            if str(name) not in layers:
                layers.append(str(name))
    fig = go.Figure()
    for i, layer in enumerate(layers):
        ys = [_num((p.get("gradients") or {}).get(layer)) for p in found]
        if not any(v is not None for v in ys):
            continue
        fig.add_trace(go.Scatter(
            x=[int(p["epoch"]) for p in found], y=ys, mode="lines+markers", name=layer,
            line={"color": run_color(i), "width": 2}, marker={"size": 4},
            hovertemplate="epoch %{x}<br>‖∇W‖₂ %{y:.3g}<extra>%{fullData.name}</extra>",
        ))
    if not fig.data:
        return empty_figure(title, "no gradients recorded", uirevision=uirevision, height=height)
    fig.update_yaxes(type="log")
    return _style(fig, title, "epoch", "gradient L2 norm (log)", uirevision=uirevision, height=height)


def bn_layers(record: Mapping[str, Any] | None) -> list[str]:
    """Names of BN layers with recorded parameters, in model order."""
    names: list[str] = []
    for p in probes(record):
        for name in (p.get("bn_params") or {}):
            if str(name) not in names:
                names.append(str(name))
    return names


def bn_parameters(record: Mapping[str, Any] | None, *, uirevision: str = "bnviz", height: int = 640) -> go.Figure:
    """γ, β and the moving statistics per BN layer over training (mean line, min–max band
    across units): shows whether BN learns to undo itself and whether moving stats settle."""
    title = "BN parameters over training (mean across units, band = min–max)"
    found = probes(record)
    layers = bn_layers(record)
    if not layers:
        detail = "no probes recorded" if not found else "no batch-normalization layers in this run"
        return empty_figure(title, detail, uirevision=uirevision, height=height)
    fig = make_subplots(rows=2, cols=2, subplot_titles=BN_PARAM_TITLES, horizontal_spacing=0.1,
                        vertical_spacing=0.16)
    for i, layer in enumerate(layers):
        shown_legend = False
        for j, param in enumerate(BN_PARAMS):
            xs, mean, low, high = [], [], [], []
            for p in found:
                entry = ((p.get("bn_params") or {}).get(layer) or {}).get(param) or {}
                if _num(entry.get("mean")) is None:
                    continue
                xs.append(int(p["epoch"]))
                mean.append(_num(entry.get("mean")))
                low.append(_num(entry.get("min")))
                high.append(_num(entry.get("max")))
            if not xs:
                continue
            band, line = seed_band(mean, low, high, layer, x=xs, color=run_color(i), hover=param)
            line.showlegend = not shown_legend
            shown_legend = True
            fig.add_trace(band, row=j // 2 + 1, col=j % 2 + 1)
            fig.add_trace(line, row=j // 2 + 1, col=j % 2 + 1)
    if not fig.data:
        return empty_figure(title, "BN parameters are all null", uirevision=uirevision, height=height)
    fig = _style(fig, title, uirevision=uirevision, height=height, subplots=True)
    fig.update_xaxes(title_text="epoch", row=2)
    return fig


def train_vs_inference(
    record: Mapping[str, Any] | None, *, uirevision: str = "bnviz", height: int = HEIGHT
) -> go.Figure:
    """Probe-batch accuracy and loss with batch statistics (training mode) vs moving
    statistics (inference mode): a gap means the moving averages lag the weights."""
    title = "Probe batch: training mode (batch stats) vs inference mode (moving stats)"
    found = probes(record)
    modes = (("train_mode", "training mode (batch stats)", PALETTE["bn_output"]),
             ("inference_mode", "inference mode (moving stats)", PALETTE["bn_output_inference"]))
    fig = make_subplots(rows=1, cols=2, subplot_titles=("accuracy", "loss"), horizontal_spacing=0.12)
    for mode, label, color in modes:
        for col, metric in ((1, "accuracy"), (2, "loss")):
            xs, ys = [], []
            for p in found:
                v = _num((((p.get("probe_metrics") or {}).get(mode)) or {}).get(metric))
                if v is not None:
                    xs.append(int(p["epoch"]))
                    ys.append(v)
            if xs:
                fig.add_trace(go.Scatter(
                    x=xs, y=ys, mode="lines+markers", name=label, legendgroup=mode,
                    showlegend=not any(t.legendgroup == mode for t in fig.data),
                    line={"color": color, "width": 2, "dash": "solid" if mode == "train_mode" else "dash"},
                    hovertemplate="epoch %{x}<br>" + metric + " %{y:.4g}<extra>%{fullData.name}</extra>",
                ), row=1, col=col)
    if not fig.data:
        return empty_figure(title, "no probe metrics recorded", uirevision=uirevision, height=height)
    fig = _style(fig, title, "epoch", uirevision=uirevision, height=height, subplots=True)
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    return fig


def saturation(
    record: Mapping[str, Any] | None,
    kind: str = "activation",
    *,
    uirevision: str = "bnviz",
    height: int = HEIGHT,
) -> go.Figure:
    """Share of dead (ReLU family) or saturated (sigmoid/tanh) units per block over training;
    whichever the run recorded. BN is meant to keep both low."""
    title = "Dead / saturated units per block"
    fig = go.Figure()
    blocks = [b for b in position_blocks(record, kind) if b > 0]
    for i, block in enumerate(blocks):
        s = _stat_series(record, block, kind, ("dead", "saturated"))
        for key, dash in (("dead", "solid"), ("saturated", "dash")):
            if not any(v is not None for v in s[key]):
                continue
            name = f"{block_label(block)} – {key}"
            fig.add_trace(go.Scatter(
                x=s["epoch"], y=s[key], mode="lines+markers", name=name,
                line={"color": run_color(i), "width": 2, "dash": dash},
                hovertemplate="epoch %{x}<br>%{y:.1%} " + key + "<extra>%{fullData.name}</extra>",
            ))
    if not fig.data:
        detail = "not recorded for this activation" if probes(record) else "no probes recorded"
        return empty_figure(title, detail, uirevision=uirevision, height=height)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return _style(fig, title, "epoch", "share of units / values", uirevision=uirevision, height=height)


# --------------------------------------------------------------------------- dataset previews


def _labels(y: Any, n: int) -> np.ndarray | None:
    """Integer class labels from ints, one-hot rows or (N, 1) columns."""
    if y is None:
        return None
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] > 1:
        arr = arr.argmax(axis=1)
    arr = arr.reshape(-1)[:n]
    return arr if len(arr) == n else None


def _class_name(label: Any, class_names: Sequence[str] | None) -> str:
    try:
        i = int(label)
    except (TypeError, ValueError):
        return str(label)
    if class_names is not None and 0 <= i < len(class_names):
        return str(class_names[i])
    return str(i)


def scatter_2d(
    x: Any,
    y: Any = None,
    class_names: Sequence[str] | None = None,
    title: str = "Dataset preview",
    *,
    max_points: int = 5000,
    uirevision: str = "bnviz",
    height: int = 480,
) -> go.Figure:
    """2-D tabular data colored by class, equal axis scales so shapes (circles, spirals) look right.
    Large sets are thinned evenly to `max_points` to keep the browser responsive."""
    arr = np.asarray(x, dtype=float) if x is not None else np.empty((0, 2))
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < 2:
        return empty_figure(title, "needs an (N, 2) array", uirevision=uirevision, height=height)
    idx = np.linspace(0, len(arr) - 1, max_points).astype(int) if len(arr) > max_points else np.arange(len(arr))
    labels = _labels(y, len(arr))
    fig = go.Figure()
    groups = [(None, idx)] if labels is None else [(c, idx[labels[idx] == c]) for c in np.unique(labels[idx])]
    for i, (cls, rows) in enumerate(groups):
        name = "samples" if cls is None else _class_name(cls, class_names)
        fig.add_trace(go.Scatter(
            x=arr[rows, 0], y=arr[rows, 1], mode="markers", name=name,
            marker={"color": run_color(i), "size": 5, "opacity": 0.75, "line": {"width": 0}},
            hovertemplate="x₁ %{x:.3g}<br>x₂ %{y:.3g}<extra>%{fullData.name}</extra>",
        ))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return _style(fig, title, "x₁", "x₂", uirevision=uirevision, height=height)


def _to_uint8(images: np.ndarray) -> np.ndarray:
    """Images of any range to 0..255: [0, 1] floats scale up, other ranges are min-max scaled."""
    imgs = np.nan_to_num(images.astype(float))
    lo, hi = float(imgs.min()), float(imgs.max())
    if lo >= 0 and hi <= 1.0:
        imgs = imgs * 255
    elif lo < 0 or hi > 255:
        imgs = (imgs - lo) / (hi - lo or 1.0) * 255
    return np.clip(np.rint(imgs), 0, 255).astype(np.uint8)


def image_grid(
    x: Any,
    y: Any = None,
    n: int = 16,
    class_names: Sequence[str] | None = None,
    *,
    cols: int | None = None,
    title: str = "Sample images",
    uirevision: str = "bnviz",
    tile_px: int = 110,
) -> go.Figure:
    """The first `n` images as one montage (a single go.Image is light in the browser),
    each tile labeled with its class. Accepts (N, H, W), (N, H, W, 1) and (N, H, W, 3)."""
    arr = np.asarray(x) if x is not None else np.empty((0,))
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[0] == 0 or arr.shape[-1] not in (1, 3, 4) or n <= 0:
        return empty_figure(title, "needs (N, H, W[, C]) images", uirevision=uirevision)
    arr = _to_uint8(arr[:n])[..., :3]
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    count, h, w, _ = arr.shape
    cols = cols or min(count, max(1, math.ceil(math.sqrt(count))))
    rows = math.ceil(count / cols)
    gap, band = max(1, w // 14), max(6, h // 4)  # white gutter; room for the label above a tile
    cell_h, cell_w = h + band + gap, w + gap
    montage = np.full((rows * cell_h + gap, cols * cell_w + gap, 3), 255, dtype=np.uint8)
    labels = _labels(y, count)
    fig = go.Figure()
    for i in range(count):
        r, c = divmod(i, cols)
        top, left = r * cell_h + band + gap, c * cell_w + gap
        montage[top : top + h, left : left + w] = arr[i]
        if labels is not None:
            fig.add_annotation(x=left + w / 2, y=top - 1, text=_class_name(labels[i], class_names),
                               showarrow=False, yanchor="bottom", font={"size": 11})
    fig.add_trace(go.Image(z=montage, hoverinfo="skip", name="samples"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    height = 80 + rows * tile_px
    fig = _style(fig, title, uirevision=uirevision, height=height, showlegend=False)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig
