"""Runs: every run on this server. Filter, sort, open, compare, download; rename or delete your own.

Everyone sees every run; only the one who started a run (or a teacher with the admin key)
may rename or delete it (bnviz.access.can_change). A teacher may also stop everything one
person has queued or running in one click (a class sharing one queue), and sees the class view
(ui/class_view.py): every run grouped by person, and the queue, to reorder or cancel.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bnviz.record import is_script
from bnviz.states import is_active
from bnviz.store import RunNotFound
from bnviz.store.snapshots import RunSnapshot
from ui import access, common, live, routes, shell
from ui.class_view import class_view
from ui.record_download import record_button
from ui.run_model import model_summary, origin_title, script_line
from ui.service import manager, store
from ui.tb_download import tensorboard_button


def page() -> None:
    who = access.actor()
    st.title("Runs")
    access.admin_unlock()
    rows = store().list_runs(limit=2000)
    if not rows:
        st.info("No runs yet. Train one on the **Experiment** page or from a terminal with "
                "`python -m bnviz train --preset seed001-circles-after-fast`.", icon=":material/info:")
        routes.page_link("experiment", "New experiment")
        return
    picked = run_table(rows, who)
    if picked:
        actions(picked, who, {row["id"]: row.get("owner") for row in rows})
    if access.actor().is_admin:  # after an unlock in this run too
        class_view(rows)


def run_table(rows: list[dict], who: access.Actor) -> list[str]:
    frame = pd.DataFrame(rows)
    frame["created"] = pd.to_datetime(frame["created"], utc=True, errors="coerce")
    frame["yours"] = [who.owns(owner) for owner in frame["owner"]]
    frame["origin"] = [origin_title(o) for o in frame.get("origin", pd.Series(["config"] * len(frame)))]
    f1, f2, f3, f4, f5 = st.columns([2, 1, 1, 1, 1])
    text = f1.text_input("Search", placeholder="name, dataset, model…", max_chars=100)
    states = f2.multiselect("Status", sorted(frame["status"].unique()))
    datasets = f3.multiselect("Dataset", sorted(frame["dataset"].dropna().unique()))
    placements = f4.multiselect("BN", sorted(frame["bn"].dropna().unique()))
    mine = f5.toggle("Only mine", help="Runs started in this browser (or by you, signed in).")
    if text:
        haystack = (frame["name"].fillna("") + " " + frame["dataset"].fillna("") + " " + frame["family"].fillna("")
                    + " " + frame["activation"].fillna("") + " " + frame["origin"] + " " + frame["id"])
        frame = frame[haystack.str.contains(text, case=False, regex=False)]
    if states:
        frame = frame[frame["status"].isin(states)]
    if datasets:
        frame = frame[frame["dataset"].isin(datasets)]
    if placements:
        frame = frame[frame["bn"].isin(placements)]
    if mine:
        frame = frame[frame["yours"]]
    columns = ["name", "yours", "status", "origin", "dataset", "family", "activation", "bn", "test_accuracy",
               "val_accuracy", "epochs_completed", "epochs", "wall_time_s", "created", "id"]
    selection = st.dataframe(
        frame[columns], hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row", key="table",
        column_config={
            "name": st.column_config.TextColumn("Name", width="large"),
            "yours": st.column_config.CheckboxColumn("Yours", width="small"),
            "bn": st.column_config.TextColumn("BN"),
            "origin": st.column_config.TextColumn("Origin", help="From the form or the CLI, or recorded from a "
                                                  "script with bnviz.watch"),
            "test_accuracy": st.column_config.NumberColumn("Test acc.", format="%.4f"),
            "val_accuracy": st.column_config.NumberColumn("Val acc.", format="%.4f"),
            "epochs_completed": st.column_config.NumberColumn("Done"),
            "wall_time_s": st.column_config.NumberColumn("Time (s)", format="%.1f"),
            "created": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm"),
            "id": st.column_config.TextColumn("Run id"),
        },
    )
    st.caption(f"{len(frame)} of {len(rows)} runs · select rows to act on them (click the column headers to sort).")
    return [frame.iloc[i]["id"] for i in selection.selection.rows if i < len(frame)]


def actions(picked: list[str], who: access.Actor, owners: dict[str, str | None]) -> None:
    if len(picked) >= 2:
        routes.page_link("compare", f"Compare the {len(picked)} selected runs", runs=",".join(picked[:12]))
    run_id = picked[0]
    try:
        run = manager().snapshot(run_id)
    except RunNotFound:
        st.rerun()
    st.subheader(common.plain(run.name or run_id))
    allowed = [r for r in picked if who.can_change(owners.get(r))]
    a1, a2, a3 = st.columns([1, 1, 2])
    routes.page_link("run", "Open", where=a1, run=run_id)
    if who.can_change(run.owner):
        rename(a2, run_id, run)
    record = run.to_record()
    if is_script(record):
        st.markdown(script_line(record))
    model_summary(record)
    downloads(run_id, run, who)
    tensorboard_button(st, picked, key="runs_tb")
    if allowed:
        delete(a3, allowed, len(picked))
    if len(allowed) < len(picked):
        st.caption(f"{len(picked) - len(allowed)} of the selected runs are someone else's: {access.READ_ONLY}")
    if who.is_admin:
        cancel_owner(run.owner)


def cancel_owner(owner: str | None) -> None:
    """Teachers: cancel every queued or running run of the selected run's owner, in one action."""
    if not owner:
        return
    active = [r["id"] for r in store().list_runs(owner=owner, limit=None) if is_active(r["status"])]
    done = st.session_state.pop("_owner_cancelled", None)
    if done is not None:
        st.success(f"Cancelled {done} run(s) of that person.", icon=":material/block:")
    if not active:
        return
    with st.popover(f"Cancel all {len(active)} active runs of this person", icon=":material/block:"):
        st.caption("Started by:")
        st.text(owner)  # as text: a label is never Markdown
        st.write("Their queued runs never start; running ones stop within a batch, keeping what they recorded.")
        if st.button("Cancel them all", type="primary", key="cancel_owner"):
            st.session_state["_owner_cancelled"] = manager().cancel_owner(owner)
            for rid in active:
                live.forget(rid)
            st.rerun()


def rename(where, run_id: str, run: RunSnapshot) -> None:
    with where.popover("Rename", icon=":material/edit:"), st.form(f"rename_{run_id}"):
        name = st.text_input("Name", value=run.name or "", max_chars=120)
        notes = st.text_area("Notes", value=run.notes or "", max_chars=2000)
        if st.form_submit_button("Save"):
            try:
                store().rename(run_id, name, notes)
                live.forget(run_id)
            except ValueError as exc:
                st.error(str(exc))
            else:
                st.rerun()


def downloads(run_id: str, run: RunSnapshot, who: access.Actor) -> None:
    d1, d2, d3 = st.columns(3)
    d1.download_button("Metrics (CSV)", lambda: store().export_csv(run_id), file_name=f"bnviz-{run_id}-metrics.csv",
                       mime="text/csv", icon=":material/table:")
    record_button(d2, run_id, who.owner, who.is_admin)  # built when clicked: no identity, no server path
    model_file = store().model_path(run_id)
    if model_file is not None:
        d3.download_button("Model (.keras)", model_file.read_bytes, file_name=f"bnviz-{run_id}.keras",
                           mime="application/octet-stream", icon=":material/download:")
    elif is_script({"config": run.config}):
        d3.caption("No saved model: a script's model stays with the script (`model.save`).")
    else:
        d3.caption("No saved model (the run did not finish).")


def delete(where, run_ids: list[str], selected: int) -> None:
    with where.popover("Delete", icon=":material/delete:"):
        others = f" ({selected - len(run_ids)} selected runs are not yours and stay)" if selected > len(run_ids) else ""
        st.write(f"Delete **{len(run_ids)}** run(s){others}? This cannot be undone.")
        st.caption("Running or queued runs are cancelled first.")
        if st.button("Delete for good", type="primary"):
            for rid in run_ids:
                manager().delete(rid)  # cancels a queued or running job first, and drops it from the cache
                live.forget(rid)
            st.rerun()


shell.show(page)
