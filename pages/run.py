"""Run: one run, live while it trains. Curves, and activations before and after normalization."""

from __future__ import annotations

import streamlit as st

from bnviz import figures
from bnviz.store import RunNotFound
from ui import common
from ui.bn_steps_view import bn_steps_panel
from ui.boundary_view import boundary_panel
from ui.explain import explain
from ui.live import ordinal, progress_text, read_run
from ui.service import manager
from ui.tb_download import tensorboard_button

common.apply_presenter_style()
run_id = common.run_id_from(st.query_params.get("run"))
if run_id is None:
    if "run" not in st.query_params:
        st.title("Run")
        st.info("Open a run from the **Runs** page, or train one on the **Experiment** page.", icon=":material/info:")
        st.page_link("pages/runs.py", label="See all runs", icon=":material/list:")
    st.stop()

try:
    view = read_run(run_id)
except RunNotFound:
    common.friendly_error("This run does not exist (any more).",
                          "It may have been deleted, or the link was copied incompletely.")
    st.stop()

record = view.record
config = record["config"]
live = view.status in common.LIVE_STATES
height = common.chart_height()

# --- header -------------------------------------------------------------------
st.title(record.get("name") or "Run")
norm = config["model"]["norm"]
placement = norm["placement"] if norm["placement"] != "none" or norm["per_layer"] or norm["on_input"] else "no BN"
st.markdown(
    f"{common.STATE_ICONS.get(view.status, '')} **{view.status}** · {config['dataset']['name']} · "
    f"{config['model']['family']} · {config['model']['activation']} · BN: **{placement}** · "
    f"{config['training']['optimizer']} lr {config['training']['learning_rate']:g} · "
    f"batch {config['training']['batch_size']} · {config['training']['epochs']} epochs · "
    f"seed {config['training']['seed']}"
)

if not common.presenting():
    a1, a2, a3, a4 = st.columns(4)
    if live and a1.button("Cancel run", icon=":material/stop_circle:", type="secondary"):
        manager().cancel(run_id)
        st.rerun()
    a2.page_link("pages/compare.py", label="Compare with…", icon=":material/compare_arrows:",
                 query_params={"runs": run_id})
    from bnviz.config import ExperimentConfig

    a3.page_link("pages/experiment.py", label="Edit a copy", icon=":material/edit:",
                 query_params={"cfg": ExperimentConfig.from_dict(config).encode()})
    a4.page_link("pages/run.py", label="Presenter mode", icon=":material/slideshow:",
                 query_params={"run": run_id, "present": "1"})
    with st.expander("Share this run", icon=":material/share:"):
        common.copy_link("Anyone with this link sees this run, live while it trains:", common.share_link(run=run_id))
    tensorboard_button(st, [run_id], key="run_tb")


def draw(where, key: str, view, build, *args, **kwargs) -> None:
    """A figure of this run, built once per run version for all viewers (see common.shared_figure)."""
    options = (args, tuple(sorted(kwargs.items())))
    figure = common.shared_figure(build.__name__, view.version, options, lambda: build(view.record, *args, **kwargs))
    common.chart(where, figure, key)


# --- live part: progress and curves ------------------------------------------------
def curves() -> None:
    current = read_run(run_id)
    if current.status in common.LIVE_STATES:
        if current.status == "queued":
            place = current.queue_position
            st.info(f"Waiting to start: {ordinal(place)} in line." if place else "Waiting to start…",
                    icon=":material/schedule:")
        else:
            p = current.progress or {}
            st.progress(min(max(float(p.get("fraction") or 0.0), 0.0), 1.0), text=progress_text(p))
    elif current.status != view.status:
        st.rerun()  # it just finished: redraw the page once without polling
    summary = current.record.get("summary") or {}
    if current.status == "failed":
        st.error(f"Training failed: {summary.get('error')}", icon=":material/error:")
    if current.status == "diverged":
        at = summary.get("diverged_at") or {}
        st.error(f"The loss became NaN/inf at epoch {at.get('epoch')}, batch {at.get('batch')}: the run was "
                 "stopped. Lower the learning rate, or add BN, which tolerates much higher rates.",
                 icon=":material/trending_up:")
    final = summary.get("final") or {}
    if final:
        cols = st.columns(4)
        for col, key in zip(cols, ("accuracy", "val_accuracy", "test_accuracy", "loss")):
            if isinstance(final.get(key), (int, float)):
                col.metric(figures.metric_label(key), f"{final[key]:.4f}")
    c1, c2 = st.columns(2)
    draw(c1, "loss", current, figures.loss_curves, "loss", height=height)
    draw(c2, "acc", current, figures.loss_curves, "accuracy", height=height)
    boundary_panel([current.record], key="run_boundary", large=common.presenting(), version=current.version)


st.fragment(run_every=1.0 if live else None)(curves)()

# --- inside the network ---------------------------------------------------------
st.subheader("Inside the network")
VIEWS = {
    "histograms": "Before / after BN",
    "animation": "Over training ▶",
    "percentiles": "15/50/85th percentiles",
    "gradients": "Gradient norms",
    "bn_params": "γ, β, moving stats",
    "modes": "Batch vs moving stats",
    "saturation": "Saturation / dead units",
    "bn_steps": "BN step by step",
}
choice = st.segmented_control("View", list(VIEWS), format_func=VIEWS.get, default="histograms", key="view",
                              label_visibility="collapsed") or "histograms"


def inside() -> None:
    now = read_run(run_id)
    current = now.record
    epochs = figures.probe_epochs(current)
    if not epochs:
        st.info("The first probe is taken before the first update; it appears in a moment.",
                icon=":material/hourglass_top:")
        return
    blocks = [b for b in figures.position_blocks(current) if b > 0] or [0]
    chart, about = st.columns([3, 1])
    with about:
        explain(choice)
    with chart:
        if choice in ("histograms", "animation", "modes"):
            c1, c2 = st.columns([1, 2])
            block = c1.selectbox("Block", blocks, key="block", format_func=figures.block_label)
            kinds = figures.position_kinds(current, block)
            if choice == "modes":
                epoch = _epoch_slider(c2, epochs)
                draw(st, "modes_fig", now, figures.bn_mode_overlay, block, epoch, height=height)
                draw(st, "tvi", now, figures.train_vs_inference, height=height)
                return
            default = [k for k in ("bn_input", "bn_output") if k in kinds] or kinds[:2]
            shown = st.multiselect("Positions", kinds, default=default, key=f"kinds_{block}",
                                   format_func=figures.position_label)
            if choice == "histograms":
                epoch = _epoch_slider(c2, epochs)
                draw(st, "hist", now, figures.histogram_overlay, block, epoch, kinds=tuple(shown), height=height)
            else:
                draw(st, "anim", now, figures.histogram_animation, block, kinds=tuple(shown), height=height)
        elif choice == "percentiles":
            kind = st.radio("Position", ["pre_activation", "activation", "bn_output"], horizontal=True,
                            format_func=figures.position_label, key="pct_kind")
            draw(st, "pct", now, figures.percentile_bands, kind=kind, height=height)
        elif choice == "gradients":
            draw(st, "gradt", now, figures.gradient_norms_over_time, height=height)
            draw(st, "grad", now, figures.gradient_norms, height=height)
        elif choice == "bn_params":
            draw(st, "bnp", now, figures.bn_parameters)
        elif choice == "saturation":
            draw(st, "sat", now, figures.saturation, height=height)
        elif choice == "bn_steps":
            bn_steps_panel(current, key="steps")


def _epoch_slider(where, epochs: list[int]) -> int:
    """A slider over probed epochs; its range is the configured epochs so it keeps its place while live."""
    last = epochs[-1]
    top = max(int(config["training"]["epochs"]), last, 1)
    if st.session_state.get("epoch_follow", True):
        st.session_state["epoch"] = last
    value = where.slider("Epoch (0 = before training)", 0, top, key="epoch",
                         on_change=lambda: st.session_state.update(epoch_follow=False))
    if value > last:
        st.caption(f"Epoch {value} has not been reached yet; showing epoch {last}.")
        value = last
    return value


st.fragment(run_every=2.0 if live else None)(inside)()
