"""Compare: two or more runs side by side: curves, the same layer's histograms, config differences.

The runs are the ids in `?runs=`; names are only labels (two runs may share one). The page
opens on the metric and the network position where the runs differ most.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bnviz import figures
from bnviz.ids import is_run_id
from bnviz.report import readings
from bnviz.states import is_active
from bnviz.store import RunNotFound
from ui import common, routes, shell
from ui.boundary_view import boundary_panel
from ui.compare_presenter import presenter_comparison
from ui.live import RunView, config_table, read_run, read_views, short_labels
from ui.run_model import script_line
from ui.service import store

MAX_RUNS = 12


def page() -> None:
    common.apply_presenter_style()
    st.title("Compare runs")
    requested = requested_runs(st.query_params.get("runs", ""))
    chosen = run_picker(requested)
    if len(chosen) < 2:
        st.info("Pick at least two runs to compare. **Train with and without BN** on the Experiment page "
                "makes a pair in one click.", icon=":material/compare_arrows:")
        return
    if not common.presenting():
        with st.expander("Share this comparison", icon=":material/share:"):
            common.copy_link("Anyone with this link sees these runs side by side:",
                             routes.url("compare", runs=",".join(chosen)))
    views = read_views(chosen)
    live = any(is_active(v.status) for v in views)
    if common.presenting():  # one screen: both losses, both boundaries or histograms, one shared epoch
        st.fragment(run_every=1.5 if live else None)(presenter_comparison)(tuple(chosen), live)
        return
    st.fragment(run_every=1.5 if live else None)(comparison)(tuple(chosen), live)
    configurations(views)


def requested_runs(param: str) -> list[str]:
    """The run ids of a `?runs=` link that are valid and still exist, in the link's order."""
    requested = [r for r in param.split(",") if r][:MAX_RUNS]
    bad = [r for r in requested if not is_run_id(r)]
    if bad:
        common.friendly_error("Some run ids in this link are not valid.",
                              f"Ignored {len(bad)} of {len(requested)}; the others are shown below.")
    valid = [r for r in dict.fromkeys(requested) if is_run_id(r)]
    existing = []
    for run_id in valid:
        try:
            read_run(run_id)
        except RunNotFound:
            continue
        existing.append(run_id)
    if len(existing) < len(valid):
        st.warning(f"{len(valid) - len(existing)} run(s) from this link no longer exist and were dropped.",
                   icon=":material/link_off:")
    return existing


def run_picker(requested: list[str]) -> list[str]:
    """The runs to compare, by id. The chips' labels hold the id, so two runs with one name (or a
    run whose state changes) can never be mistaken for each other; states are shown below."""
    listing = store().list_runs(limit=300)
    names = {row["id"]: row.get("name") or "" for row in listing}
    for run_id in requested:
        if run_id not in names:
            names[run_id] = read_run(run_id).name or ""
    if st.session_state.get("_cmp_from_url") != requested:
        st.session_state["cmp_runs"] = requested
        st.session_state["_cmp_from_url"] = requested
    options = list(dict.fromkeys([*requested, *names]))
    if common.presenting():
        chosen = list(st.session_state["cmp_runs"])
    else:
        chosen = st.multiselect(
            "Runs", options, key="cmp_runs", max_selections=MAX_RUNS,
            format_func=lambda r: f"{names[r] or 'run'} · {r}",
            placeholder="Pick two or more runs", help="The link in the address bar always holds this selection.")
    st.query_params["runs"] = ",".join(chosen)
    st.session_state["_cmp_from_url"] = list(chosen)
    return list(chosen)


def unique_labels(views: list[RunView]) -> list[str]:
    """Legend labels: the names without their shared words, with the id where names repeat."""
    labels = short_labels(views)
    if len(set(labels)) < len(labels):
        labels = [f"{label} ({v.run_id[:6]})" for label, v in zip(labels, views)]
    return labels


def comparison(run_ids: tuple[str, ...], was_live: bool) -> None:
    views = read_views(run_ids)
    records = [v.record for v in views]
    labels = unique_labels(views)
    live = any(is_active(v.status) for v in views)
    if was_live and not live:
        st.rerun()  # all finished: redraw once without polling
    run_states(views, labels)
    height = common.chart_height()
    metrics = sorted({m for r in records for m in r["history"]}) or ["val_accuracy"]
    default = readings.most_different_metric(records, metrics) or (
        "val_accuracy" if "val_accuracy" in metrics else metrics[0])
    c1, c2 = st.columns(2)
    with c1:
        metric = st.selectbox("Metric", metrics, index=metrics.index(default), key="cmp_metric",
                              format_func=figures.metric_label,
                              help="Opens on the metric whose final values differ most between the runs.")
        common.chart(st, figures.compare_curves(records, labels, metric=metric, height=height), "cmp_curves")
    with c2:
        histograms(records, labels, height)
    boundary_panel(views, key="cmp_boundary", labels=labels, large=common.presenting(),
                   version=tuple(v.version for v in views), live=live)
    final_metrics(views, labels)


def run_states(views: list[RunView], labels: list[str]) -> None:
    """One line per run: its label, id and state, updated while any of them trains."""
    parts = []
    for view, label in zip(views, labels):
        origin = " · from a script" if view.is_script else ""
        parts.append(f"{common.STATE_ICONS.get(view.status, '')} **{label}** · {view.status}{origin} · "
                     f"{view.epochs_recorded}/{view.epochs_planned} epochs · `{view.run_id}`")
    st.markdown("  \n".join(parts))
    if any(is_active(v.status) for v in views):
        st.caption("Still training: curves update by themselves.")


def histograms(records: list[dict], labels: list[str], height: int) -> None:
    blocks = sorted({b for r in records for b in figures.position_blocks(r) if b > 0}) or [0]
    k1, k2, k3 = st.columns(3)
    block = k1.selectbox("Block", blocks, key="cmp_block", format_func=lambda b: figures.block_label(b, records))
    kinds = sorted({k for r in records for k in figures.position_kinds(r, block)})
    if not kinds:
        st.info("The runs have not recorded a probe yet; histograms appear once they start.",
                icon=":material/hourglass_top:")
        return
    preferred = readings.most_different_position(records, block, kinds) or kinds[0]
    kind = k2.selectbox("Position", kinds, index=kinds.index(preferred), key=f"cmp_kind_{block}",
                        format_func=figures.position_label,
                        help="Opens on the position whose distributions differ most between the runs.")
    last = max((figures.probe_epochs(r)[-1] for r in records if figures.probe_epochs(r)), default=0)
    choice = k3.selectbox("Epoch", ["latest", *range(last + 1)], key="cmp_epoch",
                          format_func=lambda e: f"latest ({last})" if e == "latest" else str(e))
    epoch = last if choice == "latest" else int(choice)
    common.chart(st, figures.compare_histograms(records, labels, block, epoch, kind=kind, height=height),
                 "cmp_hist")


def final_metrics(views: list[RunView], labels: list[str]) -> None:
    st.subheader("Final metrics")
    rows = []
    for view, label in zip(views, labels):
        final = view.summary.final
        rows.append({"run": label, "id": view.run_id, "status": str(view.status),
                     **{k: final.get(k) for k in ("accuracy", "val_accuracy", "test_accuracy", "loss", "val_loss")},
                     "epochs": view.epochs_recorded, "time (s)": view.summary.wall_time_s})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    same = [label for view, label in zip(views, labels) if readings.same_validation_and_test(view.record)]
    if same:
        st.caption(f"{', '.join(same)}: validated on the test set, so validation and test accuracy are the same "
                   "split (and the same number).")


def configurations(views: list[RunView]) -> None:
    st.subheader("Configurations")
    scripts = [v for v in views if v.is_script]
    for view in scripts:
        st.markdown(f"`{view.run_id}`: " + script_line(view.record))
    if scripts:
        st.caption("A run recorded from a script has no form config: its rows hold what its fit() used, and "
                   "its blocks are its own normalization layers, named as in the script.")
    table = config_table(views)
    if st.toggle("Only the settings that differ", value=True):
        table = table[table["differs"]]
    shown = table.drop(columns="differs")
    st.dataframe(
        shown.style.apply(lambda row: ["background-color: #FFF1E0" if table.loc[row.name, "differs"] else ""]
                          * len(row), axis=1),
        width="stretch",
    )


shell.show(page)
