"""What a run's model is, for the Run, Runs and Compare pages: its summary, and for a run recorded from a
script (`bnviz.watch`) a one-line description, since it has no form config to show."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from bnviz.record import is_script

ORIGIN_TITLES = {"script": "from a script", "config": "form / CLI"}
SCRIPT_NOTE = ("Recorded from a script with `bnviz.watch`: the model is the script's own, so there is no "
               "form to edit a copy in, and no with/without-BN pair to train from here.")


def origin_title(record_or_origin: Any) -> str:
    """ "from a script" or "form / CLI", for a record or an origin value."""
    if isinstance(record_or_origin, dict):
        return ORIGIN_TITLES["script" if is_script(record_or_origin) else "config"]
    return ORIGIN_TITLES.get(str(record_or_origin), str(record_or_origin))


def script_line(record: dict[str, Any]) -> str:
    """One line about a script's run: its model, normalization layers and training, as recorded."""
    config, summary = record.get("config") or {}, record.get("summary") or {}
    model, training = config.get("model") or {}, config.get("training") or {}
    norms = [n.get("name") for n in (model.get("norm") or {}).get("layers") or []]
    params = (summary.get("params") or {}).get("total")
    parts = ["**from a script**", f"model `{model.get('name')}` ({model.get('class')}"
             + (f", {params:,} parameters)" if isinstance(params, int) else ")")]
    parts.append(f"normalization: {', '.join(f'`{n}`' for n in norms)}" if norms else "no normalization layer")
    if training.get("optimizer"):
        rate = training.get("learning_rate")
        parts.append(f"optimizer {training['optimizer']}" + (f", lr {rate:g}" if isinstance(rate, float) else ""))
    parts.append(f"{training.get('epochs')} epochs")
    return " · ".join(parts)


def model_summary(record: dict[str, Any], *, expanded: bool = False) -> None:
    """The model's layers and parameter counts as the run recorded them (an expander)."""
    summary = record.get("summary") or {}
    layers, params = summary.get("layers") or [], summary.get("params") or {}
    if not layers:
        return
    with st.expander(f"Model: {len(layers)} layers, {params.get('total', 0):,} parameters", expanded=expanded,
                     icon=":material/account_tree:"):
        if is_script(record):
            st.caption(SCRIPT_NOTE)
        frame = pd.DataFrame([{"layer": row.get("name"), "type": row.get("type"),
                               "output shape": str(tuple(row["output_shape"])) if row.get("output_shape") else "",
                               "params": row.get("params")} for row in layers])
        st.dataframe(frame, hide_index=True, width="stretch")
        st.caption(f"{params.get('trainable', 0):,} trainable, {params.get('non_trainable', 0):,} non-trainable "
                   "(e.g. BN's moving statistics).")
