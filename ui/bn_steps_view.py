"""BN step by step: pick a BN layer, a unit and an epoch; see the formula with the run's own numbers.

Self-contained so a page mounts it with one call: `bn_steps_panel(record, key=...)`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from bnviz.figures.bn_steps import bn_steps_figure
from bnviz.states import is_active
from bnviz.train import bn_steps
from ui.common import chart
from ui.epoch_picker import epoch_picker


def bn_steps_panel(record: dict[str, Any], *, key: str, wide: bool = False) -> None:
    """The chosen unit's μ_B, σ²_B, x̂, γ, β, outputs and moving statistics, as numbers, linked
    histograms and a worked explanation. `wide`: the histograms in one row (a full-width page)."""
    layers = bn_steps.step_layers(record)
    if not layers:
        st.info("BN step by step needs a run with BatchNormalization layers, recorded by a bnviz version "
                "that keeps BN's per-unit numbers (runs from before do not have them).", icon=":material/info:")
        return
    c1, c2, c3 = st.columns([1, 1, 2])
    layer = c1.selectbox("BN layer", layers, key=f"{key}_layer")
    units = bn_steps.unit_count(record, layer)
    unit = c2.number_input(f"Unit / channel (0–{units - 1})", 0, units - 1, 0, step=1, key=f"{key}_unit_{layer}")
    epoch = epoch_picker(c3, bn_steps.step_epochs(record), key=f"{key}_epoch", live=is_active(record.get("status")))
    try:
        s = bn_steps.steps(record, layer, int(unit), epoch)
    except bn_steps.BNStepsError as exc:
        st.warning(str(exc), icon=":material/warning:")
        return
    cols = st.columns(6 if wide else 3)
    for i, (label, value) in enumerate((("μ_B", s["mu_b"]), ("σ²_B", s["var_b"]), ("γ", s["gamma"]),
                                          ("β", s["beta"]), ("moving mean", s["moving_mean"]),
                                          ("moving variance", s["moving_variance"]))):
        cols[i % len(cols)].metric(label, f"{value:.4g}")
    chart(st, bn_steps_figure(s, columns=4 if wide else 2), f"{key}_fig")
    st.markdown(bn_steps.explanation(s))
    st.caption(f"The first {len(s['x'])} probe examples"
               + (f" at pixel {tuple(s['sample_pixel'])} of each feature map" if s["sample_pixel"] else "")
               + f", through every step (ε = {s['epsilon']:g}); they are the triangles in the histograms.")
    frame, columns = steps_table_columns(s)
    st.dataframe(frame, hide_index=True, width="stretch", column_config=columns)


def steps_table_columns(s: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The step table and its columns: every number to 4 decimals (a Styler's precision was not kept,
    and the table mixed 9- and 16-digit numbers; issue 23)."""
    frame = pd.DataFrame(bn_steps.steps_table(s))
    columns = {c: st.column_config.NumberColumn(c, format="%.4f") for c in frame.columns if c != "example"}
    return frame, columns
