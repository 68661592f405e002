"""Experiment: build a configuration (or start from a tutorial preset), preview it, train it."""

from __future__ import annotations

import streamlit as st

from bnviz import figures
from bnviz.config import (
    ACTIVATIONS,
    FAMILIES,
    INITIALIZERS,
    OPTIMIZERS,
    ConfigError,
    ExperimentConfig,
    decode_config,
)
from bnviz.datasets import DATASET_INFO, DatasetError, load_dataset
from bnviz.presets import PRESETS
from bnviz.store import default_home
from ui import common
from ui.experiment_form import (
    FAMILY_TITLES,
    PLACEMENT_HELP,
    collect_config,
    load_config_into_widgets,
    with_bn,
    without_bn,
)
from ui.service import manager
from ui.upload_view import UPLOAD_HELP, save_upload, show_upload_summary

st.title("Experiment")
st.caption("Pick a dataset, a model and where batch normalization goes, then train it on the server.")

# --- where the form starts: a shared link, a preset, or the defaults -------------
token = st.query_params.get("cfg")
preset_param = st.query_params.get("preset")
if token and st.session_state.get("_loaded_token") != token:
    st.session_state["_loaded_token"] = token
    try:
        load_config_into_widgets(decode_config(token))
    except ConfigError as exc:
        common.friendly_error("This link's experiment could not be opened.", f"{exc}. The form shows the defaults.")
        load_config_into_widgets(ExperimentConfig())
elif preset_param and st.session_state.get("_loaded_preset") != preset_param:
    st.session_state["_loaded_preset"] = preset_param
    if preset_param in PRESETS:
        st.session_state["preset"] = preset_param
        load_config_into_widgets(PRESETS[preset_param].config)
    else:
        common.friendly_error(f"There is no preset called {preset_param[:60]!r}.",
                              "Pick one from the list below; the Learn page explains each of them.")
elif "f:dataset.name" not in st.session_state:
    load_config_into_widgets(PRESETS["seed001-circles-after-fast"].config)
    st.session_state["preset"] = "seed001-circles-after-fast"


def _apply_preset() -> None:
    name = st.session_state.get("preset")
    if name in PRESETS:
        load_config_into_widgets(PRESETS[name].config)


st.selectbox(
    "Start from a preset", options=list(PRESETS), key="preset", on_change=_apply_preset,
    format_func=lambda n: f"{n} — {PRESETS[n].description}", index=None, placeholder="(your own settings)",
    help="The four Keras tutorials, exactly, and a fast classroom variant of each (`-fast`). "
         "Choosing one fills in every field below; change anything afterwards.",
)

form, side = st.columns([3, 2], gap="large")

# --- the form -----------------------------------------------------------------
with form:
    tab_data, tab_model, tab_norm, tab_train, tab_probe = st.tabs(
        ["Data", "Model", "Normalization", "Training", "Recording"])

    with tab_data:
        st.selectbox("Dataset", list(DATASET_INFO), key="f:dataset.name",
                     format_func=lambda n: DATASET_INFO[n].title,
                     help="2-D toy sets train in seconds and show decision problems clearly; image sets "
                          "show BN in CNNs. MNIST, Fashion-MNIST and CIFAR-10 are downloaded once and cached.")
        name = st.session_state["f:dataset.name"]
        st.caption(DATASET_INFO[name].description)
        if name in ("npz", "csv"):
            upload = st.file_uploader(f"Your .{name} file", type=[name], help=UPLOAD_HELP[name])
            if upload is not None:
                st.session_state["f:dataset.path"] = save_upload(upload, name, default_home() / "uploads")
            if not str(st.session_state.get("f:dataset.path") or "").endswith(f".{name}"):
                st.session_state.pop("f:dataset.path", None)  # a file of the other kind, or none yet
            if name == "csv":
                st.text_input("Label column", key="f:dataset.label_column",
                              help="The column holding the classes; every other column is a feature.")
            if st.session_state.get("f:dataset.path"):
                show_upload_summary(st.session_state["f:dataset.path"], name)
        c1, c2 = st.columns(2)
        c1.number_input("Training examples", min_value=1, step=100, key="f:dataset.n_train",
                        placeholder=f"all ({DATASET_INFO[name].n_train or 'from the file'})",
                        help="The first N training examples. Empty = the dataset's whole training split. "
                             "Your own file: at most N; a larger N uses all of it (a note says so).")
        c2.number_input("Test examples", min_value=1, step=100, key="f:dataset.n_test",
                        placeholder=f"all ({DATASET_INFO[name].n_test or 'from the file'})",
                        help="The first N test examples. Empty = the whole test split. "
                             "Your own file: at most N; a larger N uses all of it (a note says so).")
        if DATASET_INFO[name].kind == "tabular" and name != "csv":
            st.slider("Noise", 0.0, 1.0, step=0.01, key="f:dataset.noise",
                      help="How much the 2-D points scatter: more noise = a harder boundary.")
            if name == "blobs":
                st.slider("Classes", 2, 10, key="f:dataset.n_classes")
        c1, c2 = st.columns(2)
        c1.selectbox("Preprocessing", ["auto", "unit", "standardize", "raw"], key="f:dataset.preprocessing",
                     help="auto scales images to [0, 1]. raw keeps 0-255 pixels as one tutorial does: "
                          "without BN the first layers then see huge inputs; BN rescales them.")
        c2.number_input("Data seed", min_value=0, step=1, key="f:dataset.seed",
                        help="Seed of the data generator and split.")
        if DATASET_INFO[name].kind == "image":
            st.selectbox("Augmentation", ["none", "shear_zoom_flip"], key="f:dataset.augmentation",
                         help="Random shear 0.2, zoom 0.2 and horizontal flips while training (CIFAR tutorial).")

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
        c2.select_slider("Initial weight scale", [0.01, 0.1, 0.5, 1.0, 2.0, 10.0], key="f:model.weight_scale",
                         help="Multiplies every initial kernel. BN output is invariant to this scale; "
                              "without BN a bad scale can stall or explode training.")

    with tab_norm:
        st.radio("Batch normalization", ["none", "before", "after"], key="f:model.norm.placement", horizontal=True,
                 format_func=PLACEMENT_HELP.get,
                 help="Before: BN normalizes the linear output and the activation sees a unit Gaussian (the "
                      "original paper). After: BN normalizes the activation's output for the next layer.")
        c1, c2 = st.columns(2)
        c1.radio("Normalization layer", ["batch", "layer"], key="f:model.norm.kind", horizontal=True,
                 help="LayerNormalization normalizes each example over its units, so it does not depend on "
                      "the batch: a contrast for small batches.")
        c2.toggle("Normalize the input too", key="f:model.norm.on_input",
                  help="A BN layer right after the input: standardizes raw features or pixels on the fly.")
        st.slider("Momentum", 0.0, 1.0, step=0.01, key="f:model.norm.momentum",
                  help="How much the moving mean/variance keep of their old value each batch. High (0.99) = slow "
                       "to follow the data: early in training, inference-mode outputs lag the batch statistics.")
        c1, c2, c3 = st.columns(3)
        c1.number_input("Epsilon", min_value=1e-9, max_value=1.0, format="%.0e", key="f:model.norm.epsilon",
                        help="Added to the variance before the square root, so tiny variances don't blow up.")
        c2.toggle("Center (β)", key="f:model.norm.center",
                  help="Learn a shift β after normalizing. Off: outputs stay at mean 0.")
        c3.toggle("Scale (γ)", key="f:model.norm.scale",
                  help="Learn a scale γ after normalizing. Off: outputs stay at std 1.")
        with st.expander("Per-layer placement"):
            n_blocks = st.session_state.get("_n_blocks", 0)
            if not n_blocks:
                st.caption("Fix the model settings first.")
            for block in range(1, n_blocks + 1):
                st.selectbox(f"Block {block}", ["inherit", "none", "before", "after"], key=f"f:per_layer.{block}",
                             help="Override the placement above for this block only.")

    with tab_train:
        c1, c2 = st.columns(2)
        c1.selectbox("Optimizer", OPTIMIZERS, key="f:training.optimizer",
                     help="momentum = SGD with momentum. BN lets plain SGD use much larger learning rates.")
        c2.number_input("Learning rate", min_value=1e-6, max_value=100.0, format="%.4g", key="f:training.learning_rate",
                        help="Try raising it tenfold with and without BN: the network without BN diverges first.")
        if st.session_state["f:training.optimizer"] == "momentum":
            st.slider("SGD momentum", 0.0, 0.99, step=0.01, key="f:training.momentum")
        c1, c2, c3 = st.columns(3)
        c1.number_input("Batch size", min_value=1, max_value=65536, step=1, key="f:training.batch_size",
                        help="BN estimates mean and variance from each batch: tiny batches give noisy estimates.")
        c2.number_input("Epochs", min_value=1, max_value=10000, step=1, key="f:training.epochs")
        c3.number_input("Seed", min_value=0, step=1, key="f:training.seed",
                        help="Same config and seed = the same run, so identical requests reuse a finished run.")
        st.radio("Validate on", ["test", "split", "none"], key="f:training.validation", horizontal=True,
                 format_func={"test": "the test set", "split": "a split of the training set",
                              "none": "nothing"}.get)
        if st.session_state["f:training.validation"] == "split":
            st.slider("Validation split", 0.05, 0.5, step=0.05, key="f:training.validation_split")

    with tab_probe:
        st.caption("What the run records. None of it changes what the model learns.")
        c1, c2 = st.columns(2)
        c1.number_input("Probe batch size", min_value=8, max_value=4096, key="f:instrument.probe_size",
                        help="Histograms and statistics come from this fixed batch, after every epoch.")
        c2.number_input("Log every N batches", min_value=1, key="f:instrument.log_every",
                        help="Training loss inside each epoch, for live curves of long epochs.")
        c1.slider("Histogram bins", 8, 256, key="f:instrument.bins")
        c2.toggle("Gradient norms", key="f:instrument.gradients")

# --- the resulting configuration ------------------------------------------------
config, error = collect_config()
if config is not None:
    st.session_state["_loaded_token"] = st.query_params["cfg"] = config.encode()  # not a new link to load
    st.query_params.pop("preset", None)



@st.cache_data(show_spinner=False, max_entries=64)
def _summary(config_json: str) -> dict:
    from bnviz.describe import model_summary_isolated

    return model_summary_isolated(ExperimentConfig.from_json(config_json))


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


def _submit(configs: list[ExperimentConfig], names: list[str]) -> list[str] | None:
    ids = []
    for config, name in zip(configs, names):
        try:
            result = manager().submit(config, owner=common.owner(), name=name, fresh=st.session_state.get("fresh"))
        except ValueError as exc:  # the queue limit, a bad config
            st.error(str(exc), icon=":material/hourglass_top:")
            return None
        ids.append(result.run_id)
    return ids


with side:
    if error:
        st.error(error, icon=":material/rule:")
        st.stop()

    st.subheader("Your data")
    try:
        preview = _preview(config.dataset.model_dump_json())
        if preview is not None:
            common.chart(st, preview, "preview")
    except DatasetError as exc:
        st.warning(str(exc), icon=":material/cloud_off:")

    st.subheader("Your model")
    try:
        summary = _summary(config.to_json())
    except (DatasetError, ValueError) as exc:
        st.error(str(exc), icon=":material/rule:")
        st.stop()
    params = summary["params"]
    c1, c2, c3 = st.columns(3)
    c1.metric("Parameters", f"{params['total']:,}")
    c2.metric("Trainable", f"{params['trainable']:,}")
    c3.metric("Non-trainable", f"{params['non_trainable']:,}", help="BN's moving mean and variance.")
    st.dataframe(
        [{"layer": r["name"], "type": r["type"], "output shape": str(tuple(r["output_shape"] or ())),
          "params": r["params"]} for r in summary["layers"]],
        hide_index=True, width="stretch", height=min(36 * (len(summary["layers"]) + 1) + 3, 420))
    st.caption(f"Loss: {summary['loss'].replace('_', ' ')} · input {tuple(summary['input_shape'])} · "
               f"{summary['n_classes']} classes")

    st.subheader("Train it")
    label = (config.model.norm.placement if config.model.norm.enabled else "no BN")
    name = st.text_input("Run name", value=f"{config.dataset.name} {config.model.family} {label}", max_chars=120)
    st.toggle("Fresh run", key="fresh",
              help="Train again even if an identical finished run exists (training is deterministic, "
                   "so normally the finished run is shown instead).")
    b1, b2 = st.columns(2)
    if b1.button("Train", type="primary", icon=":material/play_arrow:", width="stretch"):
        ids = _submit([config], [name])
        if ids:
            st.switch_page("pages/run.py", query_params={"run": ids[0]})
    if b2.button("Train with and without BN", icon=":material/compare_arrows:", width="stretch",
                 help="Two runs, identical except for normalization: the comparison every tutorial makes."):
        bn, plain = with_bn(config), without_bn(config)
        ids = _submit([bn, plain], [f"{name} · with BN", f"{name} · without BN"])
        if ids:
            st.switch_page("pages/compare.py", query_params={"runs": ",".join(ids)})

    common.copy_link("Link to this experiment (pre-fills the form):",
                     common.share_link("experiment", cfg=config.encode()))
