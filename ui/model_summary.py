"""The experiment page's "Your model" panel: parameter counts and the layer table of a config,
built in a subprocess once per config (Keras stays out of the web server) and cached."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from bnviz.config import ExperimentConfig
from bnviz.data.loading import DatasetError
from ui.common import plain


@st.cache_data(show_spinner=False, max_entries=64)
def _summary(config_json: str) -> dict:
    from bnviz.train.describe import model_summary_isolated

    return model_summary_isolated(ExperimentConfig.from_json(config_json))


def model_summary_panel(config: ExperimentConfig) -> None:
    st.subheader("Your model")
    try:
        summary = _summary(config.to_json())
    except (DatasetError, ValueError) as exc:  # never the server's folders: an upload by its file name
        path = config.dataset.path
        message = str(exc).replace(path, Path(path).name) if path else str(exc)
        st.error(plain(message), icon=":material/rule:")
        return
    params = summary["params"]
    c1, c2, c3 = st.columns(3)
    c1.metric("Parameters", f"{params['total']:,}")
    c2.metric("Trainable", f"{params['trainable']:,}")
    c3.metric("Non-trainable", f"{params['non_trainable']:,}", help="BN's moving mean and variance.")
    st.dataframe(
        [{"layer": r["name"], "type": r["type"], "output shape": str(tuple(r["output_shape"] or ())),
          "params": r["params"]} for r in summary["layers"]],
        hide_index=True, width="stretch", height=min(36 * (len(summary["layers"]) + 1) + 3, 420),
        column_config={"layer": st.column_config.TextColumn(width="small"),
                       "type": st.column_config.TextColumn(width="small"),
                       "output shape": st.column_config.TextColumn(width="small"),
                       "params": st.column_config.NumberColumn(width="small", format="%d")})
    st.caption(f"Loss: {summary['loss'].replace('_', ' ')} · input {tuple(summary['input_shape'])} · "
               f"{summary['n_classes']} classes")
