"""Figures of the experiment gallery: sweeps, per-layer bars, series, ours vs published, arm curves.

They take the gallery's plain values (points, per-layer dicts, rows, run records per arm), so
`bnviz.gallery` depends on them and not the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bnviz.figures.common import (
    HEIGHT,
    PALETTE,
    TEMPLATE,
    empty_figure,
    finite,
    is_empty_figure,
    metric_label,
    position_label,
    run_color,
)
from bnviz.figures.curves import aggregate_band_figure, compare_curves
from bnviz.figures.network import percentile_bands
from bnviz.states import MISSING, SKIPPED

Record = Mapping[str, Any]


def history(records: Sequence[Record], key: str) -> list[list[Any]]:
    """One list per record: its history of `key` (empty where missing)."""
    return [list((r.get("history") or {}).get(key) or []) for r in records]


def _finish(fig: go.Figure, title: str, xlabel: str, ylabel: str, *, height: int = HEIGHT) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title={"text": title, "x": 0.01, "xanchor": "left"}, height=height,
                      uirevision="bnviz",
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1.0},
                      margin={"l": 60, "r": 20, "t": 90, "b": 55})
    fig.update_xaxes(title_text=xlabel)
    fig.update_yaxes(title_text=ylabel)
    return fig


def sweep_figure(points: Sequence[Mapping[str, Any]], title: str, xlabel: str, ylabel: str = "test accuracy",
                 *, log_x: bool = True, accuracy: bool = True) -> go.Figure:
    """A final metric against a swept setting, one line per group, ± std error bars over seeds.
    Each point: group, x, mean, std (or None), status. Diverged/failed points (no mean) are
    drawn as red crosses on the x axis, so a reader sees where a setting broke."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for p in points:
        if finite(p.get("x")) is not None:
            groups.setdefault(str(p.get("group", "")), []).append(p)
    fig = go.Figure()
    broken_x, broken_text = [], []
    for i, (group, pts) in enumerate(groups.items()):
        pts = sorted(pts, key=lambda p: float(p["x"]))
        ok = [p for p in pts if finite(p.get("mean")) is not None]
        if ok:
            errors = [(finite(p.get("std")) or 0.0) for p in ok]
            fig.add_trace(go.Scatter(
                x=[float(p["x"]) for p in ok], y=[float(p["mean"]) for p in ok], mode="lines+markers", name=group,
                line={"color": run_color(i), "width": 2}, marker={"size": 8},
                error_y={"type": "data", "array": errors, "visible": any(e > 0 for e in errors)},
                hovertemplate=f"{xlabel} %{{x:g}}<br>{ylabel} %{{y:.3f}}<extra>{group}</extra>",
            ))
        for p in pts:
            if finite(p.get("mean")) is None and p.get("status") not in (MISSING, SKIPPED):
                broken_x.append(float(p["x"]))
                broken_text.append(f"{group}: {p.get('status') or 'no result'}")
    if broken_x:
        fig.add_trace(go.Scatter(
            x=broken_x, y=[0.0] * len(broken_x), mode="markers", name="diverged / failed",
            marker={"symbol": "x", "size": 13, "color": PALETTE["diverged"], "line": {"width": 2}},
            text=broken_text, hovertemplate="%{text}<br>" + xlabel + " %{x:g}<extra></extra>",
        ))
    if not fig.data:
        return empty_figure(title, "no finished arm yet")
    if log_x:
        fig.update_xaxes(type="log")
    if accuracy:
        fig.update_yaxes(range=[-0.03, 1.02], tickformat=".0%")
    return _finish(fig, title, xlabel, ylabel)


def layer_bars(values: Mapping[str, Mapping[str, float | None]], title: str, ylabel: str,
               *, log_y: bool = False, percent: bool = False) -> go.Figure:
    """Grouped bars, one group per layer and one color per arm (saturation, gradient norms)."""
    fig = go.Figure()
    for i, (arm, per_layer) in enumerate(values.items()):
        layers = [k for k, v in per_layer.items() if finite(v) is not None and (not log_y or float(v) > 0)]
        if not layers:
            continue
        fig.add_trace(go.Bar(
            x=layers, y=[float(per_layer[k]) for k in layers], name=arm, marker={"color": run_color(i)},
            hovertemplate="%{x}<br>%{y:.3g}<extra>" + arm + "</extra>",
        ))
    if not fig.data:
        return empty_figure(title, "nothing recorded")
    fig.update_layout(barmode="group")
    if log_y:
        fig.update_yaxes(type="log")
    if percent:
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _finish(fig, title, "layer", ylabel)


def series_figure(series: Mapping[str, tuple[Sequence[float], Sequence[float | None]]], title: str,
                  xlabel: str, ylabel: str, *, percent: bool = False, zero_line: bool = False) -> go.Figure:
    """One line per label from (x, y) pairs, e.g. the train-vs-inference gap per momentum."""
    fig = go.Figure()
    for i, (label, (xs, ys)) in enumerate(series.items()):
        if not any(finite(y) is not None for y in ys):
            continue
        fig.add_trace(go.Scatter(
            x=list(xs), y=[finite(y) for y in ys], mode="lines+markers", name=label,
            line={"color": run_color(i), "width": 2}, marker={"size": 4},
            hovertemplate=f"{xlabel} %{{x}}<br>{ylabel} %{{y:.3g}}<extra>{label}</extra>",
        ))
    if not fig.data:
        return empty_figure(title, "nothing recorded")
    if percent:
        fig.update_yaxes(tickformat=".0%")
    if zero_line:
        fig.add_hline(y=0, line={"color": "#999", "width": 1})
    return _finish(fig, title, xlabel, ylabel)


def published_vs_ours(rows: Sequence[Any], title: str) -> go.Figure:
    """Our final metric per arm (bars, ± std over seeds) with the published number as a marker.
    `rows` are gallery Rows: arm, ours, ours_text, std, n, published."""
    shown = [r for r in rows if r.ours is not None or r.published is not None]
    if not shown:
        return empty_figure(title, "no finished arm yet")
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=[r.arm for r in shown], y=[r.ours for r in shown], name="ours", marker={"color": run_color(0)},
        error_y={"type": "data", "array": [r.std or 0.0 for r in shown], "visible": any(r.n > 1 for r in shown)},
        text=[r.ours_text for r in shown], textposition="inside", insidetextanchor="middle",
        textfont={"color": "white"},  # inside the bar: the published marker sits at its top
        hovertemplate="%{x}<br>ours %{y:.3f}<extra></extra>",
    ))
    pub = [r for r in shown if r.published is not None]
    if pub:
        fig.add_trace(go.Scatter(
            x=[r.arm for r in pub], y=[r.published for r in pub], mode="markers", name="published",
            marker={"symbol": "diamond", "size": 14, "color": run_color(1),
                    "line": {"width": 1, "color": "#333"}},
            hovertemplate="%{x}<br>published %{y:.3f}<extra></extra>",
        ))
    fig.update_yaxes(range=[0, 1.08], tickformat=".0%")
    return _finish(fig, title, "arm", "test accuracy")


def curves(lists: Mapping[str, Sequence[Record]], metric: str, title: str) -> go.Figure:
    """Per arm, a history metric over epochs; with several seeds, the mean with a ± std band."""
    usable = {label: recs for label, recs in lists.items()
              if any((r.get("history") or {}).get(metric) for r in recs)}
    if any(len(recs) > 1 for recs in usable.values()):
        fig = aggregate_band_figure({label: history(recs, metric) for label, recs in usable.items()},
                                      metric_label(metric))
    else:
        fig = compare_curves([recs[0] for recs in usable.values()], list(usable), metric)
    if is_empty_figure(fig):
        return fig
    if metric.endswith("accuracy"):
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    fig.update_layout(title_text=title)
    return fig


def percentile_panels(records: Sequence[Record | None], labels: Sequence[str], block: int,
                      kind: str = "pre_activation", title: str | None = None) -> go.Figure:
    """Ioffe & Szegedy's Fig. 1(b, c): one panel per run with the median and 15–85th
    percentiles of one position over training, on a shared y axis."""
    title = title or f"{position_label(kind)} of block {block}: median and 15–85th percentiles over training"
    fig = make_subplots(rows=1, cols=max(1, len(records)), subplot_titles=list(labels), shared_yaxes=True,
                        horizontal_spacing=0.06)
    for i, rec in enumerate(records):
        panel = percentile_bands(rec, kind, blocks=[block])
        if is_empty_figure(panel):
            continue
        for trace in panel.data:
            trace.showlegend = i == 0 and trace.showlegend is not False
            trace.name = "median (band: 15th–85th percentile)" if trace.showlegend else trace.name
            fig.add_trace(trace, row=1, col=i + 1)
    if not fig.data:
        return empty_figure(title, f"no {position_label(kind)} percentiles recorded")
    fig.update_layout(template=TEMPLATE, title={"text": title, "x": 0.01, "xanchor": "left"}, height=HEIGHT,
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.1, "xanchor": "right", "x": 1.0},
                      margin={"l": 60, "r": 20, "t": 110, "b": 55})
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="value", col=1)
    return fig



def curves_and_drift(metric: str, curve: tuple[str, str], panels: tuple[str, str]):
    """A card's `draw`: its `metric` curves per arm and the 15/50/85th percentiles of hidden layer 3's
    sigmoid input (the first seed of each arm: the drift Ioffe & Szegedy's Figure 1 shows). `curve`
    and `panels` are each (caption, chart title)."""

    def draw(exp, lists: Mapping[str, Sequence[Record]]) -> list[tuple[str, go.Figure]]:
        shown = [label for label in exp.labels(lists) if lists.get(label)]
        seed_note = " (first seed)" if any(len(lists[label]) > 1 for label in shown) else ""
        return [
            (curve[0], curves(lists, metric, curve[1])),
            (panels[0], percentile_panels([lists[label][0] for label in shown], shown, 3, "pre_activation",
                                          f"{panels[1]}{seed_note}")),
        ]

    return draw
