"""The Experiment page's view of an uploaded file: what was read, before anything trains.

Shows `bnviz.data.uploads.inspect_upload` (shape, classes and their counts, where the test split
came from, what was adjusted, the first rows) or, for a bad file, its one-line error.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from bnviz.data.loading import DatasetError, inspect_upload
from bnviz.data.upload_limits import check_upload_size
from ui.common import plain

UPLOAD_HELP = {
    "npz": "np.savez(path, x=X, y=y), or x_train, y_train with optional x_test, y_test (and class_names). "
           "X: (N, features) or images (N, height, width[, channels]); y: class indices 0, 1, ... or text. "
           "Without x_test/y_test, 20% of each class is held out for testing (stratified, with the data seed).",
    "csv": "A header row, numeric feature columns and one label column (numbers or text, e.g. species names). "
           "20% of each class is held out for testing (stratified, with the data seed).",
}
_NAMES = "_upload_names"  # session state: stored path -> the name the file was uploaded under


def save_upload(upload, kind: str, folder: Path) -> str | None:
    """Store the bytes under their hash (the same file twice is one file); returns the path, or None
    (after saying why) for a file over the server's size limit, which is not stored."""
    try:
        check_upload_size(upload.name, upload.size)
    except DatasetError as exc:
        st.error(plain(str(exc)), icon=":material/error:")
        return None
    data = upload.getvalue()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{hashlib.sha256(data).hexdigest()[:24]}.{kind}"
    if not target.exists():
        target.write_bytes(data)
    st.session_state.setdefault(_NAMES, {})[str(target)] = upload.name
    return str(target)


def show_upload_summary(path: str, kind: str) -> bool:
    """Summary of the file the form points at; False (after saying why) when it cannot train."""
    state = st.session_state
    shown = state.get(_NAMES, {}).get(path) or Path(path).name
    try:
        summary = inspect_upload(path, kind, state.get("f:dataset.label_column") or "label",
                                 seed=int(state.get("f:dataset.seed") or 0),
                                 n_train=state.get("f:dataset.n_train"), n_test=state.get("f:dataset.n_test"))
    except DatasetError as exc:
        st.error(plain(str(exc).replace(path, shown)), icon=":material/error:")
        return False
    st.success(f"**{plain(shown)}**: {plain(summary.headline())}", icon=":material/check_circle:")
    st.caption(plain(f"Read {summary.layout}. {summary.split[0].upper()}{summary.split[1:]}."))
    if summary.notes:
        st.info("\n".join(f"- {plain(note)}" for note in summary.notes), icon=":material/info:")
    st.dataframe(summary.class_table(), hide_index=True, width="content")
    st.dataframe(list(summary.preview), hide_index=True, width="stretch")
    return True
