"""Activation histograms before and after BN: overlays, train vs inference mode, animation, comparison.

Histograms are precomputed in the record and drawn as bars, never re-binned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from bnviz.figures.common import (
    HEIGHT,
    block_label,
    empty_figure,
    find_position,
    find_probe,
    format_number,
    hist_arrays,
    kind_color,
    legend_below,
    outside_share,
    position_label,
    probes,
    run_color,
    style_figure,
)

# --------------------------------------------------------------------------- histograms


def _hist_bar(pos: Mapping[str, Any], name: str, color: str, opacity: float = 0.55) -> go.Bar | None:
    """One stored histogram as density bars; stats go in the legend and the hover."""
    hist = pos.get("hist") or {}
    arrays = hist_arrays(hist)
    if arrays is None:
        return None
    centers, widths, heights = arrays
    stats = pos.get("stats") or {}
    mean, std = format_number(stats.get("mean")), format_number(stats.get("std"))
    outside = outside_share(hist)
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
    return style_figure(fig, title, "value", ylabel, uirevision=uirevision, height=height)


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
    where = f"{block_label(layer_block, record)}"
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
    title = f"BN output in training vs inference mode · {block_label(layer_block, record)} · epoch {shown}"
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
    where = block_label(layer_block, record)
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
    title = f"{position_label(kind)} · {block_label(layer_block, records)} · epoch {epoch}: run comparison"
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
    return legend_below(_hist_layout(fig, title, "density", uirevision, height))
