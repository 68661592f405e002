"""Santurkar et al.'s Fig. 4 from stored numbers: the loss landscape along the gradient over training.

Reads each probe's `landscape` field (docs/run-record.md, bnviz.train.landscape), so the figure and the
gallery's verdict see the same numbers; pure: run records in, a Plotly figure out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bnviz.figures.common import HEIGHT, TEMPLATE, empty_figure, finite, probes, rgba, run_color

Record = Mapping[str, Any]
SERIES = ("loss_min", "loss_max", "change_min", "change_max", "beta")
# Two short lines each, at PANEL_FONT px: a 900-px-wide export gives each panel about 250 px (one line overlapped).
PANELS = ("(a) loss along the gradient<br>min–max over η",
          "(b) gradient change<br>‖∇L(w) − ∇L(w − ηg)‖, min–max over η",
          "(c) effective β-smoothness<br>max over η of change / ‖ηg‖")
PANEL_FONT = 12


def _span(values: Any) -> tuple[float | None, float | None]:
    """(min, max) of a list of stored numbers; (None, None) when any is missing (the step blew up)."""
    found = [finite(v) for v in values or []]
    if not found or any(v is None for v in found):
        return None, None
    return min(found), max(found)


def landscape_series(record: Record | None) -> dict[str, list]:
    """Per probe with a `landscape` field: its epoch, the min and max loss and gradient change over
    the step sizes, and the effective β-smoothness (None where a number is missing)."""
    out: dict[str, list] = {"epoch": [], **{key: [] for key in SERIES}}
    for probe in probes(record):
        land = probe.get("landscape")
        if not isinstance(land, Mapping):
            continue
        out["epoch"].append(int(probe["epoch"]))
        for name, key in (("loss", "losses"), ("change", "grad_changes")):
            low, high = _span(land.get(key))
            out[f"{name}_min"].append(low)
            out[f"{name}_max"].append(high)
        out["beta"].append(finite(land.get("beta")))
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return sum(found) / len(found) if found else None


def mean_series(records: Sequence[Record]) -> dict[str, list]:
    """`landscape_series` averaged over seeds, epoch by epoch (the epochs every seed shares)."""
    each = [landscape_series(r) for r in records]
    each = [s for s in each if s["epoch"]]
    if not each:
        return {"epoch": [], **{key: [] for key in SERIES}}
    epochs = sorted(set.intersection(*(set(s["epoch"]) for s in each)))
    out: dict[str, list] = {"epoch": epochs}
    for key in SERIES:
        out[key] = [_mean([s[key][s["epoch"].index(e)] for s in each]) for e in epochs]
    return out


def landscape_figure(lists: Mapping[str, Sequence[Record]], labels: Sequence[str], title: str) -> go.Figure:
    """Three panels over epochs, one colour per arm (mean over its seeds): the band of loss values
    (a) and of gradient changes (b) over the step sizes, and the effective β-smoothness (c, log axis)."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=list(PANELS), horizontal_spacing=0.08)
    for i, label in enumerate(labels):
        series = mean_series(lists.get(label) or [])
        if not series["epoch"]:
            continue
        color, xs = run_color(i), series["epoch"]
        for col, (low, high) in ((1, ("loss_min", "loss_max")), (2, ("change_min", "change_max"))):
            fig.add_trace(go.Scatter(x=xs, y=series[high], mode="lines", line={"color": color, "width": 1},
                                     legendgroup=label, showlegend=False, name=label,
                                     hovertemplate=f"epoch %{{x}}<br>max %{{y:.3g}}<extra>{label}</extra>"),
                          row=1, col=col)
            fig.add_trace(go.Scatter(x=xs, y=series[low], mode="lines", line={"color": color, "width": 1},
                                     fill="tonexty", fillcolor=rgba(color, 0.3), legendgroup=label,
                                     showlegend=col == 1, name=label,
                                     hovertemplate=f"epoch %{{x}}<br>min %{{y:.3g}}<extra>{label}</extra>"),
                          row=1, col=col)
        fig.add_trace(go.Scatter(x=xs, y=series["beta"], mode="lines+markers", line={"color": color, "width": 2},
                                 marker={"size": 4}, legendgroup=label, showlegend=False, name=label,
                                 hovertemplate=f"epoch %{{x}}<br>β %{{y:.3g}}<extra>{label}</extra>"),
                      row=1, col=3)
    if not fig.data:
        return empty_figure(title, "no landscape measured yet (runs with instrument.landscape on)")
    fig.update_layout(template=TEMPLATE, title={"text": title, "x": 0.01, "xanchor": "left"}, height=HEIGHT,
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.12, "xanchor": "right", "x": 1.0},
                      margin={"l": 60, "r": 20, "t": 120, "b": 55})
    fig.update_annotations(font_size=PANEL_FONT)  # the subplot titles
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="loss", col=1)
    fig.update_yaxes(title_text="l2 change", type="log", col=2)
    fig.update_yaxes(title_text="β", type="log", col=3)
    return fig
