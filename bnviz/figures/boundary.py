"""Plotly figures of the decision boundary recorded with each probe (see bnviz/train/boundary.py).

Pure functions: a run record (and, optionally, the data points to draw on top) in, a
`go.Figure` out. Each class has its palette color (class i = `run_color(i)`, as in the
dataset preview); a cell's shade says how sure the model is, from pale (a coin toss) to
full color (certain), so the boundary is where the colors meet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bnviz.data import registry
from bnviz.figures.common import HEIGHT, TEMPLATE, empty_figure, probe_metric, probes, run_color
from bnviz.train import boundary as bd

# points to draw: {"train": (x, y), "test": (x, y)}; x is (N, 2), y the class indices
Points = Mapping[str, tuple[Any, Any]]
_MARKERS = {"train": {"symbol": "circle", "size": 6}, "test": {"symbol": "diamond-open", "size": 7}}


def _mix(hex_color: str, share: float) -> str:
    """The color `share` of the way from white to `hex_color`."""
    h = hex_color.lstrip("#")
    rgb = [int(h[i: i + 2], 16) for i in (0, 2, 4)]
    r, g, b = (round(255 + (c - 255) * share) for c in rgb)
    return f"rgb({r},{g},{b})"


def class_count(record: Mapping[str, Any] | None, points: Points | None = None) -> int:
    """Classes to color: the config's (blobs), else what the grids and labels show, at least 2."""
    n = 2
    dataset = ((record or {}).get("config") or {}).get("dataset") or {}
    name = dataset.get("name")
    if name in registry.REGISTRY and "n_classes" in registry.get(name).options:
        n = max(n, int(dataset.get("n_classes") or 2))
    for probe in probes(record):
        b = probe.get("boundary")
        if bd.is_boundary(b):
            n = max(n, int(max(b["classes"])) + 1)
    for _, labels in (points or {}).values():
        if labels is not None and len(labels):
            n = max(n, int(np.max(labels)) + 1)
    return n


def _colorscale(n_classes: int) -> list[list]:
    """Class k owns [k/n, (k+1)/n] of the scale: pale at 1/n confidence, full color at 1."""
    scale = []
    for k in range(n_classes):
        color = run_color(k)
        scale.append([k / n_classes, _mix(color, 0.12)])
        scale.append([(k + 1) / n_classes - 1e-9 if k < n_classes - 1 else 1.0, _mix(color, 0.75)])
    return scale


def _z(b: Mapping[str, Any], n_classes: int) -> np.ndarray:
    """Class index plus how far its confidence is from chance to certain, in [0, 1)."""
    chance = 1.0 / n_classes
    share = np.clip((bd.confidence_grid(b) - chance) / (1.0 - chance), 0.0, 0.999)
    return bd.class_grid(b) + share


Z_STEPS = 1000  # z = class + confidence share, in steps of 1/Z_STEPS: integers travel in half the bytes


def _heatmap(b: Mapping[str, Any], n_classes: int, class_names: Sequence[str] | None,
             hover: bool = True) -> go.Heatmap:
    """The grid as one heatmap. Every viewer of a live run receives it again at each redraw (a
    classroom: 100 copies), so its arrays are the narrowest integers that draw the same picture:
    z in steps of 1/Z_STEPS of a class, the hover's class and confidence in whole percent.
    (hover: static views only)"""
    xs, ys = bd.axes(b)
    extra: dict[str, Any] = {"hoverinfo": "skip"}
    if hover:  # numbers only: numeric arrays travel as compact binary; 4,096 strings per viewer per second would not
        classes = np.clip(bd.class_grid(b), 0, n_classes - 1)
        percent = np.rint(100 * np.clip(bd.confidence_grid(b), 0.0, 1.0))
        key = ", ".join(f"{k} = {_name(k, class_names)}" for k in range(n_classes))
        extra = {"customdata": np.stack([classes, percent], axis=-1).astype(_narrowest(max(n_classes, 101))),
                 "hovertemplate": "x₁ %{x:.3g}, x₂ %{y:.3g}<br>predicted class %{customdata[0]} "
                                  f"(%{{customdata[1]}}%)<br><i>{key}</i><extra></extra>"}
    z = np.rint(_z(b, n_classes) * Z_STEPS).astype(_narrowest(n_classes * Z_STEPS))
    return go.Heatmap(x=np.round(xs, 4).astype(np.float32), y=np.round(ys, 4).astype(np.float32), z=z, zmin=0,
                      zmax=n_classes * Z_STEPS, colorscale=_colorscale(n_classes), showscale=False,
                      name="prediction", **extra)


def _narrowest(top: int) -> type:
    """The narrowest unsigned integer type that holds 0..top (Plotly sends it as binary as it is)."""
    return np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.uint32


def _name(k: int, class_names: Sequence[str] | None) -> str:
    return str(class_names[k]) if class_names is not None and 0 <= k < len(class_names) else f"class {k}"


def _point_traces(points: Points | None, class_names: Sequence[str] | None, n_classes: int,
                  legend: bool = True, max_points: int = 1000) -> list[go.Scatter]:
    traces = []
    for split, (x, y) in (points or {}).items():
        x = np.asarray(x, dtype=float).reshape(-1, 2)
        y = np.asarray(y).reshape(-1)[: len(x)]
        if len(x) > max_points:
            keep = np.linspace(0, len(x) - 1, max_points).astype(int)
            x, y = x[keep], y[keep]
        style = _MARKERS.get(split, {"symbol": "circle", "size": 6})
        for k in range(n_classes):
            rows = y == k
            if not rows.any():
                continue
            traces.append(go.Scatter(
                x=x[rows, 0].astype(np.float32), y=x[rows, 1].astype(np.float32), mode="markers",
                name=f"{split}: {_name(k, class_names)}",
                legendgroup=f"{split}{k}", showlegend=legend,
                marker={**style, "color": run_color(k), "line": {"width": 1, "color": "white"}
                        if "open" not in style["symbol"] else {"width": 1.5, "color": run_color(k)}},
                hovertemplate=f"{split} point, true class {_name(k, class_names)}<br>"
                              "x₁ %{x:.3g}, x₂ %{y:.3g}<extra></extra>",
            ))
    return traces


def _layout(fig: go.Figure, title: str, uirevision: str, height: int, legend_below: bool = False) -> go.Figure:
    legend = ({"orientation": "h", "yanchor": "top", "y": -0.08, "xanchor": "left", "x": 0.0} if legend_below else
              {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1.0})
    fig.update_layout(template=TEMPLATE, title={"text": title, "x": 0.01, "xanchor": "left"}, height=height,
                      uirevision=uirevision, margin={"l": 60, "r": 20, "t": 90, "b": 90 if legend_below else 55},
                      legend=legend)
    return fig


def _probe_with_boundary(record: Mapping[str, Any] | None, epoch: int | None) -> dict[str, Any] | None:
    """The probe at `epoch` (or the closest earlier one) that has a boundary; the last one for None."""
    found = [p for p in probes(record) if bd.is_boundary(p.get("boundary"))]
    if epoch is not None:
        found = [p for p in found if int(p["epoch"]) <= int(epoch)]
    return found[-1] if found else None


def boundary_epochs(record: Mapping[str, Any] | None) -> list[int]:
    """Probe epochs that carry a decision boundary."""
    return [int(p["epoch"]) for p in probes(record) if bd.is_boundary(p.get("boundary"))]


def _accuracy(probe: Mapping[str, Any]) -> str:
    acc = probe_metric(probe, "inference_mode", "accuracy")
    return f" · probe accuracy {acc:.0%}" if acc is not None else ""


def boundary_figure(record: Mapping[str, Any] | None, epoch: int | None = None, points: Points | None = None,
                    *, class_names: Sequence[str] | None = None, title: str | None = None,
                    uirevision: str = "bnviz", height: int = 520) -> go.Figure:
    """The model's predicted class over the input plane at one epoch, the data points on top."""
    probe = _probe_with_boundary(record, epoch)
    if probe is None:
        why = ("this run's inputs are not 2-D points, or it was recorded before boundaries were"
               if not probes(record) or not boundary_epochs(record) else f"no boundary at or before epoch {epoch}")
        return empty_figure(title or "Decision boundary", why, uirevision=uirevision, height=height)
    n = class_count(record, points)
    shown = int(probe["epoch"])
    at = f"epoch {shown}" if epoch is None or shown == int(epoch) else f"epoch {shown} (closest to {epoch})"
    fig = go.Figure([_heatmap(probe["boundary"], n, class_names),
                     *_point_traces(points, class_names, n)])
    fig.update_xaxes(title_text="x₁", range=list(probe["boundary"]["x_range"]), constrain="domain")
    fig.update_yaxes(title_text="x₂", range=list(probe["boundary"]["y_range"]), scaleanchor="x", scaleratio=1)
    return _layout(fig, title or f"Decision boundary · {at}{_accuracy(probe)}", uirevision, height)


def boundary_animation(record: Mapping[str, Any] | None, points: Points | None = None, *,
                       class_names: Sequence[str] | None = None, frame_ms: int = 500, max_frames: int = 60,
                       uirevision: str = "bnviz", height: int = 580) -> go.Figure:
    """The boundary over the probed epochs (at most `max_frames`), with a slider and ▶; the points stay fixed."""
    found = [p for p in probes(record) if bd.is_boundary(p.get("boundary"))]
    if not found:
        return empty_figure("Decision boundary over training", "no boundary recorded",
                            uirevision=uirevision, height=height)
    if len(found) > max_frames:  # evenly spread epochs, always the first and the last
        found = [found[i] for i in sorted(set(np.linspace(0, len(found) - 1, max_frames).round().astype(int)))]
    n = class_count(record, points)
    fig = boundary_figure(record, int(found[0]["epoch"]), points, class_names=class_names,
                          title="Decision boundary over training", uirevision=uirevision, height=height)
    # frames replace only the heatmap (trace 0); the points do not move
    fig.data[0].update(hoverinfo="skip", customdata=None, hovertemplate=None)
    frames = [go.Frame(data=[_heatmap(p["boundary"], n, class_names, hover=False)], traces=[0],
                       name=str(p["epoch"])) for p in found]
    fig.frames = frames
    step_args = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
    fig.update_layout(
        sliders=[{"active": 0, "currentvalue": {"prefix": "epoch "}, "pad": {"t": 45},
                  "steps": [{"label": fr.name, "method": "animate", "args": [[fr.name], step_args]}
                            for fr in frames]}],
        updatemenus=[{"type": "buttons", "direction": "left", "showactive": False,
                      "x": 0.0, "y": -0.12, "xanchor": "right", "yanchor": "top", "pad": {"t": 45, "r": 10},
                      "buttons": [
                          {"label": "▶ Play", "method": "animate", "args": [None, {
                              "frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True,
                              "transition": {"duration": 0}}]},
                          {"label": "❚❚ Pause", "method": "animate", "args": [[None], step_args]}]}],
        margin={"b": 130},
    )
    return fig


def compare_boundaries(records: Sequence[Mapping[str, Any] | None], labels: Sequence[str], epoch: int,
                       points: Points | None = None, *, class_names: Sequence[str] | None = None,
                       columns: int = 3, uirevision: str = "bnviz", height: int | None = None) -> go.Figure:
    """Several runs' boundaries at the same epoch, side by side on the same axes (e.g. with and without BN)."""
    title = f"Decision boundaries at epoch {epoch}"
    shown = [(i, _probe_with_boundary(r, epoch)) for i, r in enumerate(records)]
    shown = [(i, p) for i, p in shown if p is not None]
    if not shown:
        return empty_figure(title, "no run has a decision boundary yet", uirevision=uirevision, height=height or HEIGHT)
    cols = max(1, min(columns, len(shown)))
    rows = -(-len(shown) // cols)
    names = []
    for i, p in shown:
        label = labels[i] if i < len(labels) else f"run {i + 1}"
        label = label if len(label) <= 32 else label[:31] + "…"  # side-by-side titles must not overlap
        late = "" if int(p["epoch"]) == int(epoch) else f" (epoch {p['epoch']})"
        accuracy = _accuracy(p).lstrip(" ·")
        names.append(f"{label}{late}<br>{accuracy}" if accuracy else f"{label}{late}")
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, horizontal_spacing=0.04,
                        vertical_spacing=0.12)
    n = max(class_count(records[i], points) for i, _ in shown)
    for j, (_, p) in enumerate(shown):
        r, c = divmod(j, cols)
        fig.add_trace(_heatmap(p["boundary"], n, class_names), row=r + 1, col=c + 1)
        for trace in _point_traces(points, class_names, n, legend=j == 0, max_points=400):
            fig.add_trace(trace, row=r + 1, col=c + 1)
        axis = "" if j == 0 else str(j + 1)
        fig.update_xaxes(range=list(p["boundary"]["x_range"]), row=r + 1, col=c + 1, constrain="domain")
        fig.update_yaxes(range=list(p["boundary"]["y_range"]), row=r + 1, col=c + 1,
                         scaleanchor=f"x{axis}", scaleratio=1)
    return _layout(fig, title, uirevision, height or 160 + 380 * rows, legend_below=True)
