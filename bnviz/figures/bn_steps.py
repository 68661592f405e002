"""Plotly figure of BN's steps for one unit: input, x̂, output (batch stats), output (moving stats).

Pure: takes the dict `bnviz.train.bn_steps.steps()` returns. The four panels are linked: they show
the same histogram (x̂ and both outputs are affine in x, so each bar keeps its count and only
moves), and the sample examples carry the same color in every panel, so a reader can follow
one value through the formula.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bnviz.figures.common import PALETTE, TEMPLATE, run_color

PANELS = (
    ("edges", "x", "1. x entering BN", PALETTE["bn_input"]),
    ("edges_x_hat", "x_hat", "2. x̂ = (x − μ_B)/√(σ²_B+ε)", PALETTE["pre_activation"]),
    ("edges_y", "y", "3. y = γ·x̂ + β (training)", PALETTE["bn_output"]),
    ("edges_y_inference", "y_inference", "4. y, moving stats (inference)", PALETTE["bn_output_inference"]),
)


def bn_steps_figure(s: Mapping[str, Any], *, columns: int = 2, uirevision: str = "bnviz",
                    height: int | None = None) -> go.Figure:
    """Four small linked histograms of one unit's values through BN, the sample examples marked.
    `columns` 2 gives a 2x2 grid for a narrow column, 4 a single row."""
    rows = -(-len(PANELS) // columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[p[2] for p in PANELS], horizontal_spacing=0.06,
                        vertical_spacing=0.2)
    counts = np.asarray(s["counts"], dtype=float)
    share = counts / max(counts.sum(), 1.0)
    top = float(share.max()) if share.size else 1.0
    where = [(i // columns + 1, i % columns + 1) for i in range(len(PANELS))]
    for (row, col), (edge_key, value_key, label, color) in zip(where, PANELS):
        edges = np.asarray(s[edge_key], dtype=float)
        lo, hi = np.minimum(edges[:-1], edges[1:]), np.maximum(edges[:-1], edges[1:])  # γ < 0 flips the axis
        fig.add_trace(go.Bar(
            x=(lo + hi) / 2, y=share, width=hi - lo, marker={"color": color, "line": {"width": 0}}, opacity=0.6,
            name=label, showlegend=False,
            hovertemplate="%{x:.3g}<br>share of the batch's values %{y:.1%}<extra>" + label + "</extra>",
        ), row=row, col=col)
        values = np.asarray(s[value_key], dtype=float)
        fig.add_trace(go.Scatter(
            x=values, y=np.full(len(values), -0.06 * top), mode="markers", showlegend=(row, col) == (1, 1),
            name="sample examples", legendgroup="sample",
            marker={"color": [run_color(i) for i in range(len(values))], "size": 9, "symbol": "triangle-up",
                    "line": {"width": 0.5, "color": "white"}},
            customdata=np.arange(1, len(values) + 1),
            hovertemplate="example %{customdata}: %{x:.4g}<extra></extra>",
        ), row=row, col=col)
    # reference lines, labelled inside the plot: μ_B and the moving mean on the input, 0 on x̂, β on y
    marks = ((0, float(s["mu_b"]), "μ_B", "#333", "dash", 1.12), (0, float(s["moving_mean"]), "moving mean",
             PALETTE["bn_output_inference"], "dot", 0.97), (1, 0.0, "0", "#333", "dash", 1.12),
             (2, float(s["beta"]), "β", "#333", "dash", 1.12))
    for panel, x, text, color, dash, height_share in marks:
        row, col = where[panel]
        fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=top * 1.05, line={"color": color, "dash": dash, "width": 1.5},
                      row=row, col=col)
        fig.add_annotation(x=x, y=top * height_share, text=text, showarrow=False, xanchor="left",
                           font={"size": 11, "color": color}, row=row, col=col)
    fig.update_yaxes(range=[-0.12 * top, top * 1.22], showticklabels=False)
    fig.update_layout(
        template=TEMPLATE, height=height or 130 + 230 * rows, uirevision=uirevision, bargap=0,
        title={"text": f"{s['layer']} · unit {s['unit']} · epoch {s['epoch']}", "x": 0.01, "xanchor": "left"},
        margin={"l": 20, "r": 20, "t": 80, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.04 + 0.08 / rows, "xanchor": "right", "x": 1.0},
    )
    return fig
