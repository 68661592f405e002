"""Inside the network over training: percentiles, gradient norms, BN parameters, modes, saturation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bnviz.figures.common import (
    BN_PARAM_TITLES,
    BN_PARAMS,
    HEIGHT,
    PALETTE,
    block_label,
    empty_figure,
    find_position,
    find_probe,
    finite,
    position_blocks,
    position_label,
    probe_metric,
    probes,
    run_color,
    style_figure,
)
from bnviz.figures.curves import seed_band

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
            out[k].append(finite(stats.get(k)))
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
        for trace in seed_band(s["p50"], s["p15"], s["p85"], block_label(block, record), x=s["epoch"],
                               color=run_color(i), hover="median"):
            fig.add_trace(trace)
    if not fig.data:
        return empty_figure(title, f"no {position_label(kind)} percentiles recorded",
                            uirevision=uirevision, height=height)
    return style_figure(fig, title, "epoch", "value", uirevision=uirevision, height=height)


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
    values = {str(k): finite(v) for k, v in grads.items()} if isinstance(grads, Mapping) else {}
    title = "Gradient norm per layer"
    if probe is None or not any(v is not None for v in values.values()):
        return empty_figure(title, "no gradients recorded", uirevision=uirevision, height=height)
    title += f" · epoch {probe['epoch']}"
    fig = go.Figure(go.Bar(
        x=list(values), y=list(values.values()), name="‖∇W‖₂", marker={"color": PALETTE["gradient"]},
        hovertemplate="%{x}<br>‖∇W‖₂ %{y:.3g}<extra></extra>",
    ))
    fig.update_yaxes(type="log")
    return style_figure(fig, title, "layer", "gradient L2 norm (log)", uirevision=uirevision, height=height)


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
        ys = [finite((p.get("gradients") or {}).get(layer)) for p in found]
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
    return style_figure(fig, title, "epoch", "gradient L2 norm (log)", uirevision=uirevision, height=height)


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
                if finite(entry.get("mean")) is None:
                    continue
                xs.append(int(p["epoch"]))
                mean.append(finite(entry.get("mean")))
                low.append(finite(entry.get("min")))
                high.append(finite(entry.get("max")))
            if not xs:
                continue
            band, line = seed_band(mean, low, high, layer, x=xs, color=run_color(i), hover=param)
            line.showlegend = not shown_legend
            shown_legend = True
            fig.add_trace(band, row=j // 2 + 1, col=j % 2 + 1)
            fig.add_trace(line, row=j // 2 + 1, col=j % 2 + 1)
    if not fig.data:
        return empty_figure(title, "BN parameters are all null", uirevision=uirevision, height=height)
    fig = style_figure(fig, title, uirevision=uirevision, height=height, subplots=True)
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
                v = probe_metric(p, mode, metric)
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
    fig = style_figure(fig, title, "epoch", uirevision=uirevision, height=height, subplots=True)
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
            name = f"{block_label(block, record)} – {key}"
            fig.add_trace(go.Scatter(
                x=s["epoch"], y=s[key], mode="lines+markers", name=name,
                line={"color": run_color(i), "width": 2, "dash": dash},
                hovertemplate="epoch %{x}<br>%{y:.1%} " + key + "<extra>%{fullData.name}</extra>",
            ))
    if not fig.data:
        detail = "not recorded for this activation" if probes(record) else "no probes recorded"
        return empty_figure(title, detail, uirevision=uirevision, height=height)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return style_figure(fig, title, "epoch", "share of units / values", uirevision=uirevision, height=height)
