"""Compare: two or more runs side by side: curves, the same layer's histograms, config differences."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bnviz import figures
from bnviz.ids import is_run_id
from bnviz.store import RunNotFound
from ui import common
from ui.boundary_view import boundary_panel
from ui.live import config_table, read_run, short_labels
from ui.service import store

common.apply_presenter_style()
st.title("Compare runs")

# --- which runs: the URL carries them, the picker edits them --------------------------
requested = [r for r in st.query_params.get("runs", "").split(",") if r][:12]
bad = [r for r in requested if not is_run_id(r)]
if bad:
    common.friendly_error("Some run ids in this link are not valid.",
                          f"Ignored {len(bad)} of {len(requested)}; the others are shown below.")
requested = [r for r in requested if is_run_id(r)]

listing = store().list_runs(limit=300)
known = {row["id"]: row for row in listing}
missing = [r for r in requested if r not in known]
if missing:
    st.warning(f"{len(missing)} run(s) from this link no longer exist and were dropped.", icon=":material/link_off:")
requested = [r for r in requested if r in known]

if "cmp_runs" not in st.session_state or st.session_state.get("_cmp_from_url") != requested:
    st.session_state["cmp_runs"] = requested
    st.session_state["_cmp_from_url"] = requested

if not common.presenting():
    chosen = st.multiselect(
        "Runs", list(known), key="cmp_runs", max_selections=12,
        format_func=lambda r: f"{known[r]['name'] or r} · {known[r]['status']}",
        placeholder="Pick two or more runs", help="The link in the address bar always holds this selection.")
else:
    chosen = st.session_state["cmp_runs"]
st.query_params["runs"] = ",".join(chosen)
st.session_state["_cmp_from_url"] = list(chosen)

if len(chosen) < 2:
    st.info("Pick at least two runs to compare. **Train with and without BN** on the Experiment page "
            "makes a pair in one click.", icon=":material/compare_arrows:")
    st.stop()

if not common.presenting():
    with st.expander("Share this comparison", icon=":material/share:"):
        common.copy_link("Anyone with this link sees these runs side by side:",
                         common.share_link("compare", runs=",".join(chosen)))


def _views():
    views = []
    for run_id in chosen:
        try:
            views.append(read_run(run_id))
        except RunNotFound:
            continue
    return views


height = common.chart_height()
initial = _views()
live = any(v.status in common.LIVE_STATES for v in initial)


def curves() -> None:
    views = _views()
    records = [v.record for v in views]
    labels = short_labels([v.record for v in views])
    states = ", ".join(f"{label}: {v.status}" for label, v in zip(labels, views) if v.status in common.LIVE_STATES)
    if states:
        st.caption(f"Still training: {states}. Curves update by themselves.")
    elif live:
        st.rerun()
    metrics = sorted({m for r in records for m in r["history"]}) or ["val_accuracy"]
    default = "val_accuracy" if "val_accuracy" in metrics else metrics[0]
    c1, c2 = st.columns(2)
    with c1:
        metric = st.selectbox("Metric", metrics, index=metrics.index(default), key="cmp_metric",
                              format_func=figures.metric_label)
        common.chart(st, figures.compare_curves(records, labels, metric=metric, height=height), "cmp_curves")
    with c2:
        blocks = sorted({b for r in records for b in figures.position_blocks(r) if b > 0}) or [0]
        k1, k2, k3 = st.columns(3)
        block = k1.selectbox("Block", blocks, key="cmp_block", format_func=figures.block_label)
        kinds = sorted({k for r in records for k in figures.position_kinds(r, block)})
        if not kinds:
            st.info("The runs have not recorded a probe yet; histograms appear once they start.",
                    icon=":material/hourglass_top:")
        else:
            preferred = next((k for k in ("pre_activation", "bn_output", "activation") if k in kinds), kinds[0])
            kind = k2.selectbox("Position", kinds, index=kinds.index(preferred), key="cmp_kind",
                                format_func=figures.position_label)
            last = max((figures.probe_epochs(r)[-1] for r in records if figures.probe_epochs(r)), default=0)
            epoch = k3.number_input("Epoch", 0, max(last, 0), value=last, key="cmp_epoch")
            common.chart(st, figures.compare_histograms(records, labels, block, int(epoch), kind=kind,
                                                       height=height), "cmp_hist")
    boundary_panel(records, key="cmp_boundary", labels=labels, large=common.presenting(),
                   version=tuple(v.version for v in views))

    st.subheader("Final metrics")
    rows = []
    for view, label in zip(views, labels):
        final = (view.record.get("summary") or {}).get("final") or {}
        rows.append({"run": label, "status": view.status,
                     **{k: final.get(k) for k in ("accuracy", "val_accuracy", "test_accuracy", "loss", "val_loss")},
                     "epochs": len(view.record["history"].get("loss", [])),
                     "time (s)": (view.record.get("summary") or {}).get("wall_time_s")})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


st.fragment(run_every=1.5 if live else None)(curves)()

st.subheader("Configurations")
table = config_table([v.record for v in initial])
only_diff = st.toggle("Only the settings that differ", value=True)
if only_diff:
    table = table[table["differs"]]
shown = table.drop(columns="differs")
st.dataframe(
    shown.style.apply(lambda row: ["background-color: #FFF1E0" if table.loc[row.name, "differs"] else ""] * len(row),
                      axis=1),
    width="stretch",
)
