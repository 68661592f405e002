"""Experiment: build a configuration (or start from a preset), preview it, train it.

The form's widgets hold any value the user types; the configuration is validated as a whole
and Train stays off, with a message naming the field and its allowed range, while anything is
invalid (a typed value or one from a `?cfg=` link). Nothing is silently replaced.
"""

from __future__ import annotations

import streamlit as st

from bnviz import figures, limits
from bnviz.config import (
    ACTIVATIONS,
    FAMILIES,
    INITIALIZERS,
    NORMALIZATIONS,
    OPTIMIZERS,
    ConfigError,
    ExperimentConfig,
    decode_config_data,
)
from bnviz.data.loading import DatasetError, load_dataset
from bnviz.jobs.api import check_limits
from bnviz.layer_plan import bn_label
from bnviz.presets import GROUPS, PRESETS
from bnviz.settings import BACKENDS
from bnviz.train import backends
from ui import access, common, routes, shell
from ui.dataset_fields import dataset_fields, dataset_title
from ui.experiment_form import (
    EPSILONS,
    FAMILY_TITLES,
    NORM_KIND_NAMES,
    PLACEMENT_HELP,
    WEIGHT_SCALES,
    collect_config,
    load_config_into_widgets,
    load_settings_into_widgets,
    with_bn,
    without_bn,
)
from ui.limits_view import budget_problems, counted_model_panel, show_limits
from ui.model_summary import model_summary_panel
from ui.service import manager

DEFAULT_PRESET = "seed001-circles-after-fast"
PRESET_ORDER = [n for g in GROUPS for n, p in PRESETS.items() if p.group == g]




def page() -> None:
    if "run" in st.query_params:  # the root URL with ?run=<id> is a run's link
        routes.switch("run", run=st.query_params.get("run"), present=st.query_params.get("present"))
    started = st.session_state.pop("_started", None)
    if started:  # a Train button queued runs (its callback): show them before drawing the form again
        where, ids = started
        routes.switch(where, **({"run": ids[0]} if where == "run" else {"runs": ",".join(ids)}))
    who = access.actor()
    st.title("Experiment")
    st.caption("Pick a dataset, a model and where batch normalization goes, then train it on the server.")
    load_start(st.query_params.get("cfg"), st.query_params.get("preset"))
    form, side = st.columns([3, 2], gap="large")
    with form:
        preset_picker()
        form_tabs()
    config, error = collect_config()
    if config is not None:
        # the address bar is a link too: no server folder in it; and it is not a new link to load
        st.session_state["_loaded_token"] = st.query_params["cfg"] = common.config_link_token(config)
        st.query_params.pop("preset", None)
    with side:
        train_panel(config, error, who)


# --- where the form starts: a shared link, a preset, or the defaults -------------

def load_start(token: str | None, preset: str | None) -> None:
    if token and st.session_state.get("_loaded_token") != token:
        st.session_state["_loaded_token"] = token
        try:
            data = decode_config_data(token)
        except ConfigError as exc:
            common.friendly_error("This link's experiment could not be opened.",
                                  f"{exc}. The form shows the defaults.")
            load_config_into_widgets(ExperimentConfig())
            return
        st.session_state["_link_problems"] = load_settings_into_widgets(data)
        st.session_state["preset"] = None
    elif preset and st.session_state.get("_loaded_preset") != preset:
        st.session_state["_loaded_preset"] = preset
        if preset in PRESETS:
            st.session_state["preset"] = preset
            load_config_into_widgets(_preset_config(preset))
        else:
            common.friendly_error(f"There is no preset called {preset[:60]!r}.",
                                  "Pick one from the list below; the Learn page explains each of them.")
    elif "f:dataset.name" not in st.session_state:
        load_config_into_widgets(_preset_config(DEFAULT_PRESET))
        st.session_state["preset"] = DEFAULT_PRESET
        st.session_state["_first_screen"] = True


def _preset_config(name: str) -> ExperimentConfig:
    """A preset on this server's default backend (BNVIZ_BACKEND; TensorFlow when unset)."""
    config = PRESETS[name].config
    backend = backends.default_backend()
    return config if config.training.backend == backend else config.with_updates({"training.backend": backend})


def _apply_preset() -> None:
    name = st.session_state.get("preset")
    if name in PRESETS:
        load_config_into_widgets(_preset_config(name))
        st.session_state.pop("_link_problems", None)


def preset_picker() -> None:
    """The preset box names a preset only while the form still matches it; otherwise "custom"."""
    chosen = st.session_state.get("preset")
    if chosen in PRESETS:
        current, _ = collect_config()
        if current != _preset_config(chosen):  # changed, or no longer valid: not the preset any more
            st.session_state["preset"] = None
    st.selectbox(
        "Start from a preset", options=PRESET_ORDER, key="preset", on_change=_apply_preset,
        format_func=lambda n: f"{PRESETS[n].group} · {PRESETS[n].title}", index=None,
        placeholder="custom settings",
        help="Tutorials: the four Keras tutorials, exactly, and a fast classroom size of each. Papers: "
             "the original paper's experiments. Choosing one fills in every field below.")
    name = st.session_state.get("preset")
    if name in PRESETS:
        st.caption(PRESETS[name].description)
    else:
        st.caption("Your own settings (they no longer match a preset).")
    if st.session_state.get("_first_screen"):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(":material/school: New here? **Learn** has ready-made experiments, each one click "
                        "from its answer.")
            routes.page_link("learn", "Open Learn")


def form_tabs() -> None:
    tab_data, tab_model, tab_norm, tab_train, tab_probe = st.tabs(
        ["Data", "Model", "Normalization", "Training", "Recording"], key="form_tabs")  # the browser keeps the open tab

    with tab_data:
        dataset_fields()

    with tab_model:
        st.selectbox("Architecture", FAMILIES, key="f:model.family", format_func=FAMILY_TITLES.get,
                     help="MLP and CNN are yours to size; the tutorial architectures are reproduced layer "
                          "for layer so parameter counts match the published summaries.")
        family = st.session_state["f:model.family"]
        if family in ("mlp", "cnn"):
            if family == "cnn":
                st.text_input("Conv filters per block", key="f:model.filters",
                              help="Comma-separated, e.g. 32, 64: one Conv2D (+ pooling) block per number.")
            st.text_input("Dense layer widths", key="f:model.hidden",
                          help="Comma-separated, e.g. 100, 100, 100: one Dense block per number.")
        c1, c2 = st.columns(2)
        c1.selectbox("Activation", ACTIVATIONS, key="f:model.activation",
                     help="Sigmoid and tanh saturate: without BN their inputs drift into the flat tails and "
                          "gradients vanish. BN keeps the inputs centred where the slope is large.")
        c2.selectbox("Weight initializer", INITIALIZERS, key="f:model.initializer",
                     help="he_* suits ReLU, glorot_* suits sigmoid/tanh. BN makes training far less "
                          "sensitive to this choice.")
        c1, c2 = st.columns(2)
        c1.slider("Dropout", 0.0, 0.9, step=0.05, key="f:model.dropout",
                  help="Dropout after each dense block (MLP/CNN). Its noise interacts with BN's batch statistics.")
        c2.select_slider("Initial weight scale", WEIGHT_SCALES, key="f:model.weight_scale",
                         help="Multiplies every initial kernel. BN output is invariant to this scale; "
                              "without BN a bad scale can stall or explode training.")

    with tab_norm:
        st.radio("Batch normalization", ["none", "before", "after"], key="f:model.norm.placement", horizontal=True,
                 format_func=PLACEMENT_HELP.get,
                 help="Before: BN normalizes the linear output and the activation sees a unit Gaussian (the "
                      "original paper). After: BN normalizes the activation's output for the next layer.")
        c1, c2 = st.columns(2)
        c1.radio("Normalization layer", NORMALIZATIONS, key="f:model.norm.kind", horizontal=True,
                 format_func=NORM_KIND_NAMES.get,
                 help="LayerNormalization normalizes each example over its units, so it does not depend on "
                      "the batch: a contrast for small batches. GroupNormalization (Wu & He 2018) does the "
                      "same within groups of units (channels); the number of groups must divide each width.")
        c2.toggle("Normalize the input too", key="f:model.norm.on_input",
                  help="A BN layer right after the input: standardizes raw features or pixels on the fly.")
        c1, c2 = st.columns(2)
        c1.number_input("GroupNorm groups", min_value=1, max_value=4096, step=1, key="f:model.norm.groups",
                        disabled=st.session_state.get("f:model.norm.kind") != "group",
                        help="GroupNormalization only: how many groups each layer's units (channels) are split "
                             "into. 1 = LayerNorm; one group per unit = InstanceNorm.")
        c2.number_input("Noisy BN (noise after each norm layer)", min_value=0.0, max_value=10.0, step=0.25,
                        format="%.2f", key="f:model.norm.noise",
                        help="Santurkar et al. 2018: after each normalization layer, shift every unit by "
                             "U(−n, n) and scale it by U(1, 1 + n), drawn afresh every training step; off in "
                             "inference. 0 = off.")
        c1, c2, c3, c4 = st.columns(4)
        c1.number_input("BN momentum (moving statistics)", step=0.001, format="%.4g", key="f:model.norm.momentum",
                        help="How much BN's moving mean/variance keep of their old value each batch (0 to 1). "
                             "High (0.99, 0.999) = slow to follow the data: early in training, inference-mode "
                             "outputs lag the batch statistics. Not the optimizer's momentum.")
        epsilon = st.session_state.get("f:model.norm.epsilon")  # a link's other value is offered too
        c2.selectbox("Epsilon", sorted({*EPSILONS, *([epsilon] if _number(epsilon) else [])}),
                     key="f:model.norm.epsilon", format_func=lambda e: f"{e:.0e}" if e >= 1e-9 else f"{e:g}",
                     help="Added to the variance before the square root, so tiny variances don't blow up. "
                          "Keras's default is 1e-3, PyTorch's 1e-5.")
        c3.toggle("Center (β)", key="f:model.norm.center",
                  help="Learn a shift β after normalizing. Off: outputs stay at mean 0.")
        c4.toggle("Scale (γ)", key="f:model.norm.scale",
                  help="Learn a scale γ after normalizing. Off: outputs stay at std 1.")
        with st.expander("Per-layer placement"):
            collect_config()  # the model's blocks as the form holds them now (a link loaded this run too)
            n_blocks = st.session_state.get("_n_blocks", 0)
            if not n_blocks:
                st.caption("Fix the model settings first.")
            for block in range(1, n_blocks + 1):
                st.selectbox(f"Block {block}", ["inherit", "none", "before", "after"], key=f"f:per_layer.{block}",
                             help="Override the placement above for this block only.")

    with tab_train:
        c1, c2 = st.columns(2)
        c1.selectbox("Optimizer", OPTIMIZERS, key="f:training.optimizer", format_func=common.OPTIMIZER_TITLES.get,
                     help="SGD + momentum: plain SGD with a velocity term. BN lets plain SGD use much larger "
                          "learning rates.")
        c2.number_input("Learning rate", format="%.4g", key="f:training.learning_rate",
                        help="Try raising it tenfold with and without BN: the network without BN diverges first.")
        if st.session_state["f:training.optimizer"] == "momentum":
            st.slider("SGD momentum (optimizer)", 0.0, 0.99, step=0.01, key="f:training.momentum",
                      help="The optimizer's velocity: how much of the last update carries into the next. "
                           "Not BN's momentum.")
        c1, c2, c3 = st.columns(3)
        c1.number_input("Batch size", step=1, key="f:training.batch_size",
                        help="1 to 65,536. BN estimates mean and variance from each batch: tiny batches give "
                             "noisy estimates.")
        c2.number_input("Epochs", step=1, key="f:training.epochs", help="1 to 10,000.")
        c3.number_input("Seed", step=1, key="f:training.seed",
                        help="Same config and seed = the same run, so identical requests reuse a finished run.")
        installed = backends.available_backends()
        current = st.session_state.get("f:training.backend")
        st.selectbox("Backend", installed + ((current,) if current and current not in installed else ()),
                     key="f:training.backend", format_func=BACKENDS.get,
                     help="The Keras backend that trains the run: same model, probes and record on each. JAX is "
                          "the fast one for small models; a different backend is a different run. Only backends "
                          "installed on this server are offered.")
        st.radio("Validate on", ["test", "split", "none"], key="f:training.validation", horizontal=True,
                 format_func={"test": "the test set", "split": "a split of the training set",
                              "none": "nothing"}.get)
        if st.session_state["f:training.validation"] == "split":
            st.slider("Validation split", 0.05, 0.5, step=0.05, key="f:training.validation_split")

    with tab_probe:
        st.caption("What the run records. None of it changes what the model learns.")
        c1, c2 = st.columns(2)
        c1.number_input("Probe batch size", step=8, key="f:instrument.probe_size",
                        help="8 to 4,096. Histograms and statistics come from this fixed batch, after every epoch.")
        c2.number_input("Log every N batches", step=1, key="f:instrument.log_every",
                        help="Training loss inside each epoch, for live curves of long epochs.")
        c1.slider("Histogram bins", 8, 256, key="f:instrument.bins")
        c2.toggle("Gradient norms", key="f:instrument.gradients")
        c1.toggle("Loss landscape", key="f:instrument.landscape",
                  help="With every probe, the loss and gradient a few steps along the gradient (Santurkar et al.'s "
                       "Fig. 4): a few more passes over the probe batch.")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- the resulting configuration ------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=16)
def _preview(dataset_json: str):
    from bnviz.config import DatasetConfig

    data = load_dataset(DatasetConfig.model_validate_json(dataset_json))
    if data.is_image:
        return figures.image_grid(data.x_train[:16], data.y_train[:16], class_names=data.class_names)
    if data.input_shape == (2,):
        n = min(len(data.x_train), 1000)
        return figures.scatter_2d(data.x_train[:n], data.y_train[:n], class_names=data.class_names,
                                  title="Training data")
    return None


def _start(config: ExperimentConfig, name: str, who: access.Actor, pair: bool) -> None:
    """The Train buttons' callback: queue the run (with `pair`, the run with and without BN) at once,
    before the script draws the whole form again (a click reaches the worker a few hundred
    milliseconds sooner); `page` then opens them."""
    configs, names = [config], [name]
    if pair:
        configs, names = [with_bn(config), without_bn(config)], [f"{name} · with BN", f"{name} · without BN"]
    ids = []
    try:  # both runs of a pair fit, or neither is queued
        for config in configs:
            check_limits(config, signed_in=who.signed_in, teacher=who.is_admin, lift_limits=False)
    except ValueError as exc:
        st.session_state["_submit_error"] = f"{exc}."
        return
    for config, name in zip(configs, names):
        try:
            result = manager().submit(config, owner=who.owner, name=name, fresh=bool(st.session_state.get("fresh")),
                                      signed_in=who.signed_in, teacher=who.is_admin)
        except ValueError as exc:  # a UserError: the per-person queue limit, a bad config, this server's limits
            st.session_state["_submit_error"] = f"{exc}."
            return
        ids.append(result.run_id)
    st.session_state["_started"] = ("compare" if pair else "run", ids)


def _data_preview(config: ExperimentConfig):
    """The data preview figure, or the loader's message when this server cannot load the data."""
    try:
        return _preview(config.dataset.model_dump_json()), None
    except DatasetError as exc:
        return None, str(exc)


def _missing_data_message(config: ExperimentConfig, detail: str) -> None:
    title = dataset_title(config.dataset.name)
    st.warning(f"**This server has no copy of {title}.** Pick another dataset (Circles, Moons or Digits "
               "train in seconds), or ask whoever runs this server to add it.", icon=":material/cloud_off:")
    with st.expander("Details for whoever runs the server"):
        st.caption(detail)


def train_panel(config: ExperimentConfig | None, error: str | None, who: access.Actor) -> None:
    """Train first (above the fold), then what will be trained: the model and the data."""
    st.subheader("Train it")
    if config is not None:
        try:
            backends.require(config.training.backend)
        except backends.BackendError as exc:
            error = f"{error}\n\n{exc}" if error else f"Backend: {exc}"
            config = None
    problems = st.session_state.get("_link_problems") or []
    if problems:
        st.error("**This link's experiment has settings the form cannot show:**\n\n"
                 + "\n\n".join(f"- {p}" for p in problems)
                 + "\n\nThose fields show their defaults instead. Check them before training.",
                 icon=":material/rule:")
        if st.button("Train with the form's values", key="accept_link_defaults"):
            st.session_state.pop("_link_problems", None)
            st.rerun()
    if error:
        st.error(f"**Fix this before training:**\n\n{error}", icon=":material/rule:")
    over = budget_problems(config)  # counted from the config: nothing is built for a run over the limits
    limited = show_limits(limits.refusal(signed_in=who.signed_in, teacher=who.is_admin), over, who)
    preview, data_problem = _data_preview(config) if config is not None else (None, None)
    own_file = config is not None and config.dataset.path is not None
    if data_problem and own_file:  # your file's own problem, said beside it in the Data tab; no server path
        st.warning("Train stays off until your file can be read: see the message under it on the **Data** tab.",
                   icon=":material/rule:")
    elif data_problem:
        _missing_data_message(config, data_problem)
    default_name = f"{config.dataset.name} {config.model.family} {bn_label(config.model)}" if config is not None else ""
    name = st.text_input("Run name", value=default_name, max_chars=120)
    blocked = config is None or bool(problems) or data_problem is not None or limited
    st.button("Train", type="primary", icon=":material/play_arrow:", width="stretch", disabled=blocked,
              on_click=_start, args=(config, name, who, False))
    st.button("Train with and without BN", icon=":material/compare_arrows:", width="stretch", disabled=blocked,
              help="Two runs, identical except for normalization: the comparison every tutorial makes.",
              on_click=_start, args=(config, name, who, True))
    refused = st.session_state.pop("_submit_error", None)
    if refused:
        st.error(refused, icon=":material/hourglass_top:")
        routes.page_link("runs", "See your runs (cancel one to free a place)")
    st.toggle("Fresh run", key="fresh",
              help="Train again even if an identical finished run exists (training is deterministic, "
                   "so normally the finished run is shown instead).")
    if config is None or (data_problem and own_file):  # no model to describe without the file's shape
        return
    if over:
        counted_model_panel(config)
    else:
        model_summary_panel(config)
    if preview is not None:
        st.subheader("Your data")
        common.chart(st, preview, "preview")
    common.copy_link("Link to this experiment (opens this form, filled in):",
                     routes.url("experiment", cfg=common.config_link_token(config)))


shell.show(page)
