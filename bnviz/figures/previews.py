"""Dataset previews: 2-D points by class and a grid of example images."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from bnviz.figures.common import empty_figure, run_color, style_figure

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
    return style_figure(fig, title, "x₁", "x₂", uirevision=uirevision, height=height)


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
    fig = style_figure(fig, title, uirevision=uirevision, height=height, showlegend=False)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig
