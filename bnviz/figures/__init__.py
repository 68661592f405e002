"""Plotly figures built from run records (`bnviz.run/1`, see docs/run-record.md).

Every function is pure: a record (plain dict, possibly partial while a run is still
training) goes in, a `go.Figure` comes out. Nothing here trains, reads files or imports
Streamlit, so the same figures serve the live dashboard and the static Markdown report.

The modules: `common` (palette, look, labels, record access), `curves` (training curves,
seed bands), `histograms` (before/after BN), `network` (percentiles, gradients, BN
parameters, train vs inference, saturation), `previews` (datasets), `gallery` (the
experiment gallery's figures), `boundary` (the decision boundary on 2-D data) and
`bn_steps` (one BN unit's arithmetic, from `bnviz.train.bn_steps.steps`). Everything else is
re-exported here: `figures.loss_curves(...)`; the last two are used as modules.
"""

from __future__ import annotations

from bnviz.figures.common import (
    BN_PARAM_TITLES,
    BN_PARAMS,
    HEIGHT,
    NO_DATA,
    PALETTE,
    POSITION_LABELS,
    TEMPLATE,
    block_label,
    block_names,
    empty_figure,
    find_position,
    find_probe,
    finite,
    hist_arrays,
    is_empty_figure,
    kind_color,
    metric_label,
    position_blocks,
    position_kinds,
    position_label,
    probe_epochs,
    probe_metric,
    probes,
    run_color,
)
from bnviz.figures.curves import (
    aggregate_band_figure,
    aggregate_series,
    compare_curves,
    initial_value,
    loss_curves,
    seed_band,
    steps_per_epoch,
    training_curves,
)
from bnviz.figures.gallery import (
    curves,
    history,
    layer_bars,
    percentile_panels,
    published_vs_ours,
    series_figure,
    sweep_figure,
)
from bnviz.figures.histograms import (
    bn_mode_overlay,
    compare_histograms,
    histogram_animation,
    histogram_overlay,
)
from bnviz.figures.network import (
    bn_layers,
    bn_parameters,
    gradient_norms,
    gradient_norms_over_time,
    percentile_bands,
    saturation,
    train_vs_inference,
)
from bnviz.figures.previews import (
    image_grid,
    scatter_2d,
)

__all__ = [
    "BN_PARAMS",
    "BN_PARAM_TITLES",
    "HEIGHT",
    "NO_DATA",
    "PALETTE",
    "POSITION_LABELS",
    "TEMPLATE",
    "aggregate_band_figure",
    "aggregate_series",
    "block_label",
    "block_names",
    "bn_layers",
    "bn_mode_overlay",
    "bn_parameters",
    "compare_curves",
    "compare_histograms",
    "curves",
    "empty_figure",
    "find_position",
    "find_probe",
    "finite",
    "gradient_norms",
    "gradient_norms_over_time",
    "hist_arrays",
    "histogram_animation",
    "histogram_overlay",
    "history",
    "image_grid",
    "initial_value",
    "is_empty_figure",
    "kind_color",
    "layer_bars",
    "loss_curves",
    "metric_label",
    "percentile_bands",
    "percentile_panels",
    "position_blocks",
    "position_kinds",
    "position_label",
    "probe_epochs",
    "probe_metric",
    "probes",
    "published_vs_ours",
    "run_color",
    "saturation",
    "scatter_2d",
    "seed_band",
    "series_figure",
    "steps_per_epoch",
    "sweep_figure",
    "train_vs_inference",
    "training_curves",
]
