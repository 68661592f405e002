"""Run: one run, live while it trains. Curves, and activations before and after normalization.

Every piece is a function of the run id: the fragments re-read the run each time they run,
so any number of viewers (the owner, a share link, a projector) follow it to its last epoch.
"""

from __future__ import annotations

import streamlit as st

from bnviz import figures
from bnviz.layer_plan import bn_label
from bnviz.report import readings
from bnviz.states import RunState, is_active
from bnviz.store import RunNotFound
from ui import access, common, routes, shell
from ui.audience import note_viewer, one_at_a_time, pace, paced, repace_due, session_fraction
from ui.bn_steps_view import bn_steps_panel
from ui.boundary_view import boundary_panel
from ui.epoch_picker import epoch_picker
from ui.explain import explain
from ui.live import RunView, at_epoch, forget, ordinal, progress_text, read_run, shared_epoch
from ui.run_model import SCRIPT_NOTE, model_summary, script_line
from ui.service import manager
from ui.tb_download import tensorboard_button

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
# Curves twice a second while a run trains: polled once a second, an epoch reached a classroom's
# charts 1.5 s after it ended (p90, 30 students); at 0.5 s, 1.0-1.1 s, training no slower.
CURVES_EVERY_S = 0.5
FIRST_POINT_EVERY_S = 0.25  # until the first point arrives: a click on Train shows it within a second
INSIDE_EVERY_S = 2.0
# A lecture hall (ui.audience): the curves, which a class follows epoch by epoch, at most 1.6x as
# slow (100 students: every 0.8 s, so an epoch reached 90% of them within 1.1-1.5 s); the views inside
# the network, which cost a few times more to send, slower from INSIDE_FULL viewers on, up to 5x,
# each session at a period of its own so 100 students' heavy redraws do not land in the same second.
CURVES_SLOWEST = 1.6
INSIDE_FULL, INSIDE_SLOWEST, INSIDE_SPREAD = 10, 5.0, 0.5


def page() -> None:
    """Entry: `?run=<id>` (and `&present=1` for a projector)."""
    common.apply_presenter_style()
    raw = st.query_params.get("run")
    if raw is None:
        st.title("Run")
        st.info("Open a run from the **Runs** page, or train one on the **Experiment** page.", icon=":material/info:")
        routes.page_link("runs", "See all runs")
        return
    run_id = common.run_id_from(raw)
    if run_id is None:
        return
    audience = note_viewer(run_id)  # first thing: a class arriving at once counts itself before it draws
    try:
        view = read_run(run_id)
    except RunNotFound:
        common.friendly_error("This run does not exist (any more).",
                              "It may have been deleted, or the link was copied incompletely.")
        return
    if common.presenting():
        show_presenter(view, audience)
    else:
        show_run(view, access.actor(), audience)


def _state_words(view: RunView) -> str:
    """How the header names the run's state: only once it ended. While it is queued or training, the
    live part below says so (its progress, its place in line), so a class watching does not redraw
    the whole page when a queued run starts."""
    return "" if is_active(view.status) else f"{common.STATE_ICONS.get(view.status, '')} **{view.status}** · "


def _header(view: RunView) -> None:
    st.title(common.plain(view.name or "Run"))
    if view.is_script:
        st.markdown(f"{_state_words(view)}{script_line(view.record)} · {_trained_on(view)}")
        return
    config = view.config
    model, training = config.model, config.training
    optimizer = common.OPTIMIZER_TITLES.get(training.optimizer, training.optimizer)
    st.markdown(
        f"{_state_words(view)}{config.dataset.name} · "
        f"{model.family} · {model.activation} · **{bn_label(model)}** · "
        f"optimizer {optimizer}, lr {training.learning_rate:g} · batch {training.batch_size} · "
        f"{training.epochs} epochs · seed {training.seed} · {_trained_on(view)}"
    )


def _notes(view: RunView) -> None:
    """The notes saved with Rename, as plain text (line breaks kept)."""
    notes = str(view.record.get("notes") or "").strip()
    if notes:
        st.markdown(":material/sticky_note_2: " + "  \n".join(common.plain(line) for line in notes.splitlines()))


def _trained_on(view: RunView) -> str:
    """Which backend and device trained it (the device is known once training started)."""
    device = view.summary.device
    return f"{view.backend} on **{device}**" if device else view.backend


def show_run(view: RunView, who: access.Actor, audience: int = 1) -> None:
    run_id = view.run_id
    _header(view)
    _notes(view)
    mine = who.can_change(view.owner)
    if not mine:
        st.caption(access.READ_ONLY)
    a1, a2, a3, a4 = st.columns(4)
    script = view.is_script
    if mine and is_active(view.status) and a1.button(
            "Stop recording" if script else "Cancel run", icon=":material/stop_circle:", type="secondary",
            help="The script's own training goes on; only its recording here stops." if script else None):
        manager().cancel(run_id)
        forget(run_id)
        st.rerun()
    routes.page_link("compare", "Compare with…", where=a2, runs=run_id)
    if view.is_script:
        a3.caption(SCRIPT_NOTE)
    else:
        routes.page_link("experiment", "Edit a copy", where=a3, icon=":material/edit:",
                         cfg=common.config_link_token(view.config))
    routes.page_link("run", "Presenter mode", where=a4, icon=":material/slideshow:", run=run_id, present="1")
    with st.expander("Share this run", icon=":material/share:"):
        common.copy_link("Anyone with this link sees this run, live while it trains:", routes.url("run", run=run_id))
    tensorboard_button(st, [run_id], key="run_tb")
    model_summary(view.record)
    access.admin_unlock()

    live = is_active(view.status)
    eager = mine and not _has_points(view)  # who just clicked Train: the first point as soon as it exists
    every = _curves_every(view, eager, audience)
    paced(curves, every)(run_id, view.status, not eager, every)
    inside_every = pace(INSIDE_EVERY_S, audience, full=INSIDE_FULL, slowest=INSIDE_SLOWEST,
                        spread=INSIDE_SPREAD) if live else None
    paced(boundary, inside_every)(run_id)
    st.subheader("Inside the network")
    choice = st.segmented_control("View", list(VIEWS), format_func=VIEWS.get, default="histograms", key="view",
                                  label_visibility="collapsed") or "histograms"
    paced(inside, inside_every)(run_id, choice)


def show_presenter(view: RunView, audience: int = 1) -> None:
    """Projector layout: curves and the before/after histograms side by side, all above the fold."""
    _header(view)
    every = _curves_every(view, audience=audience)
    paced(presenter_charts, every)(view.run_id, view.status, every)


# --- pieces that re-read the run every time they run ---------------------------------

def draw(where, key: str, view: RunView, build, *args, **kwargs) -> None:
    """A figure of this run, built once per run version for all viewers (see common.shared_figure)."""
    projector = common.presenting()
    options = (args, tuple(sorted(kwargs.items())), projector)

    def make():
        figure = build(view.record, *args, **kwargs)
        return common.projector_sized(figure) if projector else figure

    common.chart(where, common.shared_figure(build.__name__, view.version, options, make), key)


def _has_points(view: RunView) -> bool:
    return bool(view.record["batches"] or view.record["history"])


def _curves_every(view: RunView, eager: bool = False, audience: int = 1) -> float | None:
    """Every CURVES_EVERY_S while the run is active (slower for a large audience: ui.audience), not at
    all once it ended. `eager`: faster until the first point, for the one who just started the run only
    (a classroom of viewers polling 4x a second would slow the server down for everyone)."""
    if not is_active(view.status):
        return None
    return FIRST_POINT_EVERY_S if eager else pace(CURVES_EVERY_S, audience, slowest=CURVES_SLOWEST)


def _status(current: RunView) -> None:
    """Progress while it trains, and how it ended."""
    if is_active(current.status):
        if current.status == RunState.QUEUED:
            place = current.queue_position
            st.info(f"Waiting to start: {ordinal(place)} in line." if place else "Waiting to start…",
                    icon=":material/schedule:")
        else:
            p = current.progress or {}
            st.progress(min(max(float(p.get("fraction") or 0.0), 0.0), 1.0), text=progress_text(p))
    summary = current.summary
    if current.status == RunState.FAILED:
        st.error(f"Training failed: {summary.error}", icon=":material/error:")
    if current.status == RunState.CANCELLED and summary.error:  # stopped by the server: its time limit
        error = str(summary.error)
        st.warning(f"{error[:1].upper()}{error[1:]}; every epoch it finished is kept.", icon=":material/timer_off:")
    if current.status == RunState.DIVERGED:
        at = summary.diverged_at
        epoch, batch = (at.epoch, at.batch) if at else (None, None)
        st.error(f"The loss became NaN/inf at epoch {epoch}, batch {batch}: the run was "
                 "stopped. Lower the learning rate, or add BN, which tolerates much higher rates.",
                 icon=":material/trending_up:")


def _final_metrics(view: RunView) -> None:
    final = view.summary.final
    if not final:
        return
    same = readings.same_validation_and_test(view.record)
    shown = [("accuracy", "Training accuracy", None)]
    evaluated = "test_accuracy" in final or view.status == RunState.SUCCEEDED  # only a finished run is tested
    if same and evaluated:  # its last validation was the test set, with the final weights
        shown.append(("test_accuracy" if "test_accuracy" in final else "val_accuracy", "Test accuracy (= validation)",
                      "This run validated on its test set, so validation and test accuracy are one number."))
    elif same:  # ended early (cancelled, diverged): it never evaluated, like the Runs table says
        shown.append(("val_accuracy", "Validation accuracy",
                      "The last validation, on the test set; the run did not finish, so it has no test accuracy."))
    else:
        shown += [("val_accuracy", "Validation accuracy", None), ("test_accuracy", "Test accuracy", None)]
    shown.append(("loss", "Training loss", None))
    cols = st.columns(len(shown))
    for col, (key, label, help_text) in zip(cols, shown):
        if isinstance(final.get(key), (int, float)):
            col.metric(label, f"{final[key]:.4f}", help=help_text)


def _redraw_when_ended(current: RunView, shown_status: str) -> None:
    """Once the run ended, redraw the whole page (its polling stops) on the poll after the one that
    drew the new state: a full rerun drops what the server has not sent yet, and under a
    classroom's load the last epoch's charts would be dropped for most viewers. A queued run that
    starts changes nothing outside the fragments, so it redraws no page (100 students' pages at once
    held their charts back by seconds)."""
    key = f"bnviz_drawn_state:{current.run_id}"
    if is_active(current.status) == is_active(shown_status):
        st.session_state.pop(key, None)
        return
    # polls since the new state was drawn: every viewer draws the last epoch first (the poll after
    # it ended), then a class spreads its page redraws over 3 polls, clear of those last draws
    polls = st.session_state.get(key, 0)
    if polls >= 2 + int(3 * session_fraction()):
        del st.session_state[key]
        st.rerun()
    st.session_state[key] = polls + 1


def curves(run_id: str, shown_status: str, had_points: bool = True, every: float | None = None) -> None:
    with one_at_a_time():
        current = read_run(run_id)
        audience = note_viewer(run_id)
        _status(current)
        _curves(current, had_points)
    _redraw_when_ended(current, shown_status)
    _repace(current, every, audience)


def _repace(current: RunView, every: float | None, audience: int) -> None:
    """Redraw the page at the pace of the audience now, once it differs enough (ui.audience)."""
    if every is None or every == FIRST_POINT_EVERY_S or not is_active(current.status):
        return
    if repace_due(current.run_id, every, _curves_every(current, audience=audience)):
        st.rerun()


def _curves(current: RunView, had_points: bool) -> None:
    if not had_points and current.record["history"]:
        # Drawn fast since the first point; after the first whole epoch, redraw the page once to
        # poll at the normal pace (a full redraw right at the first point would delay showing it).
        st.rerun()
    _final_metrics(current)
    draw(st, "curves", current, figures.training_curves, height=common.chart_height())
    note = readings.warmup_note(current.record)
    if note:
        st.info(note, icon=":material/thermostat:")


def boundary(run_id: str) -> None:
    """The decision boundary on 2-D data (nothing otherwise), on the slower cadence of the views below."""
    with one_at_a_time():
        current = read_run(run_id)
        boundary_panel([current], key="run_boundary", version=current.version, live=is_active(current.status))


def inside(run_id: str, choice: str) -> None:
    with one_at_a_time():
        _inside(run_id, choice)


def _inside(run_id: str, choice: str) -> None:
    now = read_run(run_id)
    record = now.record
    epochs = figures.probe_epochs(record)
    if not epochs:
        if is_active(now.status):
            st.info("The first probe is taken before the first update; it appears in a moment.",
                    icon=":material/hourglass_top:")
        else:
            st.info(f"This run ended ({now.status}) before its first probe, so there is nothing to show inside "
                    "the network.", icon=":material/info:")
        return
    live = is_active(now.status)
    configured = now.epochs_planned
    every = now.probe_every
    epoch_key = f"epoch:{run_id}:{'live' if live else 'done'}"  # a finished run starts again at its last epoch

    def pick_epoch(where) -> int:
        return epoch_picker(where, epochs, key=epoch_key, live=live, planned=configured if every == 1 else None)

    height = common.chart_height()
    has_bn = readings.has_batch_norm(now.config_dict)
    blocks = [b for b in figures.position_blocks(record) if b > 0] or [0]
    chart, about = st.columns([3, 1])
    with about:
        explain(choice, has_bn)
    with chart:
        if choice in ("histograms", "animation", "modes"):
            c1, c2 = st.columns([1, 2])
            block = c1.selectbox("Block", blocks, key="block", format_func=lambda b: figures.block_label(b, record))
            kinds = figures.position_kinds(record, block)
            if choice == "modes":
                epoch = pick_epoch(c2)
                draw(st, "modes_fig", now, figures.bn_mode_overlay, block, epoch, height=height)
                draw(st, "tvi", now, figures.train_vs_inference, height=height)
                return
            default = [k for k in ("bn_input", "bn_output") if k in kinds] or kinds[:2]
            shown = st.multiselect("Positions", kinds, default=default, key=f"kinds_{block}",
                                   format_func=figures.position_label)
            if choice == "histograms":
                epoch = pick_epoch(c2)
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
            bn_steps_panel(record, key="steps")


def presenter_charts(run_id: str, shown_status: str, every: float | None = None) -> None:
    """One snapshot, cut at one epoch, for every chart: they always name the same epoch (issue 23)."""
    with one_at_a_time():
        current = read_run(run_id)
        audience = note_viewer(run_id)
        _status(current)
        _presenter_charts(current)
    _redraw_when_ended(current, shown_status)
    _repace(current, every, audience)


def _presenter_charts(current: RunView) -> None:
    epoch = shared_epoch(current)
    current = at_epoch(current, epoch)
    st.markdown(f"<div class='bnviz-epoch'>Epoch {epoch} of {current.epochs_planned}</div>",
                unsafe_allow_html=True)
    record = current.record
    height = common.chart_height()
    c1, c2, c3 = st.columns(3)
    draw(c1, "p_loss", current, figures.loss_curves, "loss", height=height)
    draw(c2, "p_acc", current, figures.loss_curves, "accuracy", height=height)
    epochs = figures.probe_epochs(record)
    if not epochs:
        c3.info("The first histograms appear in a moment.", icon=":material/hourglass_top:")
        return
    blocks = [b for b in figures.position_blocks(record) if b > 0] or [0]
    block = blocks[0]
    kinds = figures.position_kinds(record, block)
    shown = tuple(k for k in ("bn_input", "bn_output") if k in kinds) or tuple(kinds[:2])
    draw(c3, "p_hist", current, figures.histogram_overlay, block, epochs[-1], kinds=shown, height=height)
    note = readings.warmup_note(record)
    if note:
        st.info(note, icon=":material/thermostat:")
    boundary_panel([current], key="p_boundary", large=True, version=current.version)


shell.show(page)
