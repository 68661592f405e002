"""What every figure shares: one palette, one look, labels, and safe access to run records.

Conventions shared by all figures:
* one palette (`PALETTE`): "before BN" is always blue, "after BN" always orange, so a
  reader learns the colors once; compared runs take `PALETTE["runs"]` in order;
* missing data never raises: the figure carries a centered "No data yet" note instead;
* `uirevision` is a stable string so Streamlit keeps the user's zoom across reruns.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from bnviz.record import ORIGIN_SCRIPT, origin_of

NO_DATA = "No data yet"
# Plotly's "plotly_white" look, its layout only: every trace here sets its own colours, and the
# per-trace defaults were two thirds of the cost of building a figure (30 -> 9 ms), which a live
# run pays several times a second.
TEMPLATE = "bnviz"
pio.templates[TEMPLATE] = go.layout.Template(layout=pio.templates["plotly_white"].layout)
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


def block_label(block: int, records: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None) -> str:
    """Human label for a block number (0 = input, -1 = output, as in the record). With the run record(s)
    it is drawn from, a script's run (bnviz.watch) names the block by its author's layer: the
    normalization layer, else the activation layer the block holds."""
    fixed = {0: "input", -1: "output"}.get(int(block))
    if fixed or records is None:
        return fixed or f"block {block}"
    names = []
    for record in [records] if isinstance(records, Mapping) else list(records):
        name = block_names(record).get(int(block)) or f"block {block}"
        if name not in names:
            names.append(name)
    return " / ".join(names) or f"block {block}"


def block_names(record: Mapping[str, Any] | None) -> dict[int, str]:
    """{block: layer name} of a script's run (its blocks are its normalization and activation layers);
    empty for a run built from a config, whose blocks are numbered."""
    if not isinstance(record, Mapping) or origin_of(record) != ORIGIN_SCRIPT:
        return {}
    names: dict[int, str] = {}
    found = probes(record)
    for pos in (found[-1].get("positions") or []) if found else []:
        if not isinstance(pos, Mapping) or finite(pos.get("block")) is None:
            continue
        block, kind = int(pos["block"]), pos.get("kind")
        if kind == "bn_output" or (kind == "activation" and block not in names):
            names[block] = str(pos.get("layer"))
    return names


def run_color(i: int) -> str:
    """The i-th distinct color, so run i has the same color in every compare view."""
    runs = PALETTE["runs"]
    return runs[i % len(runs)]


def kind_color(kind: str) -> str:
    """Fixed color of a position kind (before BN blue, after BN orange, ...)."""
    return PALETTE.get(kind, PALETTE["input"])


def rgba(hex_color: str, alpha: float) -> str:
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


def finite_list(values: Iterable[Any] | None) -> list[float | None]:
    """`finite` of each value: a stored series with its gaps."""
    return [finite(v) for v in (values or [])]


def format_number(value: Any, spec: str = ".3g") -> str:
    """A number for a hover or a legend; "n/a" for a gap."""
    v = finite(value)
    return "n/a" if v is None else format(v, spec)


def metric_label(metric: str) -> str:
    """'val_accuracy' -> 'Validation accuracy', for titles and axis labels."""
    prefixes = {"val_": "Validation ", "test_": "Test ", "train_": "Training "}
    for prefix, word in prefixes.items():
        if metric.startswith(prefix):
            return word + metric[len(prefix) :].replace("_", " ")
    text = metric.replace("_", " ")
    return text[:1].upper() + text[1:]


def style_figure(
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
    return style_figure(fig, title, uirevision=uirevision, height=height, showlegend=False)


def is_empty_figure(fig: go.Figure) -> bool:
    """True for figures made by `empty_figure`, so callers can choose to hide them."""
    return not fig.data and any(str(a.text).startswith(NO_DATA) for a in fig.layout.annotations)


# --------------------------------------------------------------------------- record access


def as_record(record: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The record, or an empty one when there is none yet."""
    return record if isinstance(record, Mapping) else {}


_SORTED_PROBES: OrderedDict[int, tuple[Any, int, Any, list[Mapping[str, Any]]]] = OrderedDict()
_SORTED_PROBES_LOCK = threading.Lock()


def probes(record: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Probes sorted by epoch (shallow copies); a repeated epoch keeps its last probe (a resumed
    run). The order is found once per list of probes, which a live run's viewers share (a
    classroom's pages ask for it several times per view, per student)."""
    raw = as_record(record).get("probes") or []
    key = id(raw)
    with _SORTED_PROBES_LOCK:
        hit = _SORTED_PROBES.get(key)
    # the same list object, not grown or replaced since (the entry holds it, so its id is not reused)
    if hit is not None and hit[0] is raw and hit[1] == len(raw) and (not raw or hit[2] is raw[-1]):
        return [dict(p) for p in hit[3]]
    by_epoch: dict[int, Mapping[str, Any]] = {}
    for probe in raw:
        if isinstance(probe, Mapping) and finite(probe.get("epoch")) is not None:
            by_epoch[int(probe["epoch"])] = probe
    found = [by_epoch[e] for e in sorted(by_epoch)]
    with _SORTED_PROBES_LOCK:
        _SORTED_PROBES[key] = (raw, len(raw), raw[-1] if raw else None, found)
        while len(_SORTED_PROBES) > 32:
            _SORTED_PROBES.popitem(last=False)
    return [dict(p) for p in found]


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


def probe_metric(probe: Mapping[str, Any] | None, mode: str, metric: str) -> float | None:
    """The probe batch's `metric` ("loss", "accuracy") in `mode` ("train_mode": batch statistics,
    "inference_mode": moving statistics), None when the probe has no such number."""
    return finite((((probe or {}).get("probe_metrics") or {}).get(mode) or {}).get(metric))


def find_position(probe: Mapping[str, Any] | None, block: int, kind: str) -> dict[str, Any] | None:
    """The position of `kind` in `block` of a probe, or None when the run has none there."""
    for pos in (probe or {}).get("positions") or []:
        if isinstance(pos, Mapping) and pos.get("kind") == kind and finite(pos.get("block")) == block:
            return dict(pos)
    return None


def position_blocks(record: Mapping[str, Any] | None, kind: str | None = None) -> list[int]:
    """Block numbers that hold a position (of `kind`, when given), for block pickers."""
    blocks: set[int] = set()
    for probe in probes(record):
        for pos in probe.get("positions") or []:
            if isinstance(pos, Mapping) and (kind is None or pos.get("kind") == kind):
                b = finite(pos.get("block"))
                if b is not None:
                    blocks.add(int(b))
    # hidden blocks in order, then the output; the input first
    return sorted(blocks, key=lambda b: (b != 0, b == -1, b))


def position_kinds(record: Mapping[str, Any] | None, block: int) -> list[str]:
    """Kinds recorded for a block, in the documented order."""
    kinds: set[str] = set()
    for probe in probes(record):
        for pos in probe.get("positions") or []:
            if isinstance(pos, Mapping) and finite(pos.get("block")) == block and pos.get("kind"):
                kinds.add(str(pos["kind"]))
    order = list(POSITION_LABELS)
    return sorted(kinds, key=lambda k: (order.index(k) if k in order else len(order), k))


def hist_arrays(hist: Mapping[str, Any] | None, density: bool = True) -> tuple[list, list, list] | None:
    """(centers, widths, heights) of a stored histogram; densities divide by all values,
    including those outside the edges, so areas are comparable across positions and runs."""
    if not isinstance(hist, Mapping):
        return None
    edges = np.asarray(finite_list(hist.get("edges")), dtype=float)
    counts = np.asarray(finite_list(hist.get("counts")), dtype=float)
    if len(edges) < 2 or len(counts) != len(edges) - 1 or np.isnan(edges).any():
        return None
    counts = np.nan_to_num(counts)
    widths = np.diff(edges)
    if (widths <= 0).any():
        return None
    centers = edges[:-1] + widths / 2
    heights = counts
    if density:
        total = counts.sum() + (finite(hist.get("below")) or 0.0) + (finite(hist.get("above")) or 0.0)
        heights = counts / (total * widths) if total > 0 else np.zeros_like(counts)
    return centers.tolist(), widths.tolist(), heights.tolist()


def outside_share(hist: Mapping[str, Any]) -> float:
    """Share of a histogram's values beyond its edges."""
    counts = sum(v for v in finite_list(hist.get("counts")) if v is not None)
    outside = (finite(hist.get("below")) or 0.0) + (finite(hist.get("above")) or 0.0)
    total = counts + outside
    return outside / total if total > 0 else 0.0


def legend_below(fig: go.Figure) -> go.Figure:
    """Run names are long: a legend under the plot keeps them off the title and the data."""
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0.0},
                      margin={"t": 60, "b": 110})
    return fig
