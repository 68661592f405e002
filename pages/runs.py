"""Runs: every run on this server. Filter, sort, open, compare, rename, delete, download."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from bnviz.store import RunNotFound
from ui import common
from ui.service import manager, store
from ui.tb_download import tensorboard_button

st.title("Runs")

rows = store().list_runs(limit=2000)
if not rows:
    st.info("No runs yet. Train one on the **Experiment** page or from a terminal with "
            "`python -m bnviz train --preset seed001-circles-after-fast`.", icon=":material/info:")
    st.page_link("pages/experiment.py", label="New experiment", icon=":material/science:")
    st.stop()

frame = pd.DataFrame(rows)
frame["created"] = pd.to_datetime(frame["created"], utc=True, errors="coerce")

# --- filters ----------------------------------------------------------------------
f1, f2, f3, f4 = st.columns([2, 1, 1, 1])
text = f1.text_input("Search", placeholder="name, dataset, model…", max_chars=100)
states = f2.multiselect("Status", sorted(frame["status"].unique()))
datasets = f3.multiselect("Dataset", sorted(frame["dataset"].dropna().unique()))
placements = f4.multiselect("BN placement", sorted(frame["placement"].dropna().unique()))
if text:
    haystack = (frame["name"].fillna("") + " " + frame["dataset"].fillna("") + " " + frame["family"].fillna("")
                + " " + frame["activation"].fillna("") + " " + frame["id"])
    frame = frame[haystack.str.contains(text, case=False, regex=False)]
if states:
    frame = frame[frame["status"].isin(states)]
if datasets:
    frame = frame[frame["dataset"].isin(datasets)]
if placements:
    frame = frame[frame["placement"].isin(placements)]

columns = ["name", "status", "dataset", "family", "activation", "placement", "test_accuracy", "val_accuracy",
           "epochs_completed", "epochs", "wall_time_s", "created", "id"]
selection = st.dataframe(
    frame[columns], hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row", key="table",
    column_config={
        "name": st.column_config.TextColumn("Name", width="medium"),
        "test_accuracy": st.column_config.NumberColumn("Test acc.", format="%.4f"),
        "val_accuracy": st.column_config.NumberColumn("Val acc.", format="%.4f"),
        "epochs_completed": st.column_config.NumberColumn("Done"),
        "wall_time_s": st.column_config.NumberColumn("Time (s)", format="%.1f"),
        "created": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm"),
        "id": st.column_config.TextColumn("Run id"),
    },
)
picked = [frame.iloc[i]["id"] for i in selection.selection.rows if i < len(frame)]
st.caption(f"{len(frame)} of {len(rows)} runs · select rows to act on them (click the column headers to sort).")

if not picked:
    st.stop()

# --- actions on the selection -----------------------------------------------------
if len(picked) >= 2:
    st.page_link("pages/compare.py", label=f"Compare the {len(picked)} selected runs", icon=":material/compare_arrows:",
                 query_params={"runs": ",".join(picked[:12])})

run_id = picked[0]
try:
    record = manager().snapshot(run_id).to_record()
except RunNotFound:
    st.rerun()
st.subheader(record.get("name") or run_id)
a1, a2 = st.columns([1, 2])
a1.page_link("pages/run.py", label="Open", icon=":material/monitoring:", query_params={"run": run_id})

with a2.popover("Rename", icon=":material/edit:"), st.form(f"rename_{run_id}"):
    name = st.text_input("Name", value=record.get("name") or "", max_chars=120)
    notes = st.text_area("Notes", value=record.get("notes") or "", max_chars=2000)
    if st.form_submit_button("Save"):
        try:
            store().rename(run_id, name, notes)
        except ValueError as exc:
            st.error(str(exc))
        else:
            st.rerun()

d1, d2, d3, d4 = st.columns(4)
d1.download_button("Metrics (CSV)", lambda: store().export_csv(run_id), file_name=f"bnviz-{run_id}-metrics.csv",
                   mime="text/csv", icon=":material/table:")
d2.download_button("Run record (JSON)", lambda: json.dumps(record), file_name=f"bnviz-{run_id}.json",
                   mime="application/json", icon=":material/data_object:",
                   help="Everything: config, history, every probe's histograms and statistics.")
model_file = store().model_path(run_id)
if model_file is not None:
    d3.download_button("Model (.keras)", model_file.read_bytes, file_name=f"bnviz-{run_id}.keras",
                       mime="application/octet-stream", icon=":material/download:")
else:
    d3.caption("No saved model (the run did not finish).")

live = record["status"] in common.LIVE_STATES
with d4.popover("Delete", icon=":material/delete:"):
    st.write(f"Delete **{len(picked)}** run(s)? This cannot be undone.")
    if live:
        st.caption("Running or queued runs are cancelled first.")
    if st.button("Delete for good", type="primary"):
        for rid in picked:
            manager().delete(rid)  # cancels a queued or running job first, and drops it from the cache
        st.rerun()

tensorboard_button(st, picked, key="runs_tb")
