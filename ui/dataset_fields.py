"""The Experiment form's Data tab: the dataset, and only the settings its registry entry uses.

Every choice comes from `bnviz.data.registry`: the list of datasets, their titles and
descriptions, whether one is your own file (an upload), and which of noise, classes and
label column it reads.
"""

from __future__ import annotations

import streamlit as st

from bnviz.data import registry
from bnviz.data.offered import uploads_dir
from bnviz.settings import settings
from ui.experiment_form import dataset_entry
from ui.upload_view import UPLOAD_HELP, save_upload, show_upload_summary


def dataset_title(name: str) -> str:
    """What the form calls a dataset: its entry's title (the bare name if it is not registered)."""
    entry = dataset_entry(name)
    return entry.title if entry is not None else name


def dataset_fields() -> None:
    """Draw the Data tab's widgets (inside the tab); they write `f:dataset.*` session state."""
    downloads = [e.title for e in registry.entries() if e.downloadable]
    st.selectbox("Dataset", registry.names(), key="f:dataset.name", format_func=dataset_title,
                 help="2-D toy sets train in seconds and show decision problems clearly; image sets "
                      f"show BN in CNNs. {_words(downloads)} are downloaded once and cached.")
    name = st.session_state["f:dataset.name"]
    entry = dataset_entry(name)
    if entry is None:  # no longer registered: validation says which names are allowed
        return
    st.caption(entry.description)
    if entry.is_file:  # your own file: its type is the dataset's name
        upload = st.file_uploader(f"Your .{name} file", type=[name], help=UPLOAD_HELP.get(name, entry.description),
                                  max_upload_size=settings().max_upload_mb)
        if upload is not None:
            st.session_state["f:dataset.path"] = save_upload(upload, name, uploads_dir(settings().home))
        if not str(st.session_state.get("f:dataset.path") or "").endswith(f".{name}"):
            st.session_state.pop("f:dataset.path", None)  # a file of the other kind, or none yet
        if "label_column" in entry.options:
            st.text_input("Label column", key="f:dataset.label_column",
                          help="The column holding the classes; every other column is a feature.")
        if st.session_state.get("f:dataset.path"):
            show_upload_summary(st.session_state["f:dataset.path"], name)
    c1, c2 = st.columns(2)
    c1.number_input("Training examples", step=100, key="f:dataset.n_train",
                    placeholder=f"all ({entry.n_train or 'from the file'})",
                    help="The first N training examples. Empty = the dataset's whole training split. "
                         "Your own file: at most N; a larger N uses all of it (a note says so).")
    c2.number_input("Test examples", step=100, key="f:dataset.n_test",
                    placeholder=f"all ({entry.n_test or 'from the file'})",
                    help="The first N test examples. Empty = the whole test split. "
                         "Your own file: at most N; a larger N uses all of it (a note says so).")
    if "noise" in entry.options:
        st.slider("Noise", 0.0, 1.0, step=0.01, key="f:dataset.noise",
                  help="How much the 2-D points scatter: more noise = a harder boundary.")
    if "n_classes" in entry.options:
        st.slider("Classes", 2, 10, key="f:dataset.n_classes")
    c1, c2 = st.columns(2)
    c1.selectbox("Preprocessing", ["auto", "unit", "standardize", "raw"], key="f:dataset.preprocessing",
                 help="auto scales images to [0, 1]. raw keeps 0-255 pixels as one tutorial does: "
                      "without BN the first layers then see huge inputs; BN rescales them.")
    c2.number_input("Data seed", step=1, key="f:dataset.seed",
                    help="Seed of the data generator and split.")
    if entry.kind == "image":
        st.selectbox("Augmentation", ["none", "shear_zoom_flip"], key="f:dataset.augmentation",
                     help="Random shear 0.2, zoom 0.2 and horizontal flips while training (CIFAR tutorial).")


def _words(items: list[str]) -> str:
    return " and ".join(items) if len(items) < 3 else f"{', '.join(items[:-1])} and {items[-1]}"
