"""The decision boundary panel: one run (at an epoch, or animated) or several runs side by side.

Self-contained so a page mounts it with one call: `boundary_panel(views, key=...)`. It draws
nothing for runs without a recorded boundary (inputs that are not 2-D points), so a page can
call it for every run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial

import streamlit as st

from bnviz.figures import boundary as fb
from bnviz.train.boundary import points_for
from ui.common import PROJECTOR_FONT_PX, chart, projector_sized, shared_figure
from ui.epoch_picker import epoch_picker
from ui.live import RunView


@st.cache_resource(max_entries=32, show_spinner=False)
def _points(dataset_json: str):
    """Train/test points and class names of a 2-D dataset (None when it cannot be loaded here)."""
    return points_for({"dataset": json.loads(dataset_json)})


def _shared_points(views: Sequence[RunView]):
    if any(v.is_script for v in views):
        return None  # a script's data stays with the script: boundaries without the points
    datasets = {json.dumps(v.config.dataset.model_dump(mode="json"), sort_keys=True) for v in views}
    return _points(datasets.pop()) if len(datasets) == 1 else None


def boundaries_at(views: Sequence[RunView], labels: Sequence[str], epoch: int, *, height: int):
    """The runs' boundaries side by side at `epoch`, projector-sized (Compare's presenter view)."""
    loaded = _shared_points(views)
    points, names = loaded if loaded else (None, None)
    figure = projector_sized(fb.compare_boundaries([v.record for v in views], labels, epoch, points,
                                                   class_names=names, columns=len(views), height=height))
    return figure.update_traces(colorbar_tickfont_size=PROJECTOR_FONT_PX, colorbar_title_font_size=PROJECTOR_FONT_PX,
                                selector={"type": "heatmap"})


def boundary_panel(views: Sequence[RunView], *, key: str, labels: Sequence[str] | None = None,
                   large: bool = False, version: tuple | None = None, live: bool = False) -> None:
    """One run: the boundary at a chosen epoch or animated over training. Several: side by side
    at the same epoch (points drawn when the runs share their dataset). `large` for presenter mode;
    with `version` (the runs' RunView.version) each figure is built once for all viewers."""
    records = [v.record for v in views]
    shown = [(i, r) for i, r in enumerate(records) if fb.boundary_epochs(r)]
    if not shown:
        return
    labels = list(labels) if labels is not None else [str(v.name or v.run_id or "run") for v in views]
    loaded = _shared_points([views[i] for i, _ in shown])
    points, names = loaded if loaded else (None, None)
    st.subheader("Decision boundary")
    if len(shown) == 1:
        record = shown[0][1]
        c1, c2 = st.columns([2, 3])
        mode = c1.segmented_control("Boundary", ["epoch", "animation"], default="epoch", key=f"{key}_mode",
                                    format_func={"epoch": "At an epoch", "animation": "Over training ▶"}.get,
                                    label_visibility="collapsed") or "epoch"
        if mode == "animation":
            options: tuple = ("animation", large)
            build = partial(fb.boundary_animation, record, points, class_names=names, height=820 if large else 580)
        else:
            epochs = fb.boundary_epochs(record)
            epoch = epochs[-1] if large else epoch_picker(c2, epochs, key=f"{key}_epoch", live=live)
            options = ("epoch", epoch, large)
            build = partial(fb.boundary_figure, record, epoch, points, class_names=names,
                            height=760 if large else 520)
    else:
        epochs = sorted({e for _, r in shown for e in fb.boundary_epochs(r)})
        epoch = epochs[-1] if large else epoch_picker(st, epochs, key=f"{key}_epoch", live=live,
                                                      label="Epoch (the same for every run)")
        options = ("compare", epoch, large, tuple(labels))

        def build():
            figure = fb.compare_boundaries([r for _, r in shown], [labels[i] for i, _ in shown], epoch, points,
                                           class_names=names, columns=2 if large else 3)
            return figure.update_layout(height=figure.layout.height * 1.4) if large else figure
    if large:  # projector: every text at least PROJECTOR_FONT_PX, colour bars included
        plain_build = build

        def build():
            figure = projector_sized(plain_build())
            return figure.update_traces(colorbar_tickfont_size=PROJECTOR_FONT_PX,
                                        colorbar_title_font_size=PROJECTOR_FONT_PX, selector={"type": "heatmap"})
    figure = shared_figure("boundary_panel", version, options, build) if version is not None else build()
    chart(st, figure, f"{key}_fig")
    note = ("Each cell is the model's prediction there (inference mode, moving statistics); the paler, "
            "the less sure it is. Dots are training points, open diamonds test points.")
    if points is None:
        note += " The data points could not be loaded here, so only the prediction is shown."
    st.caption(note)
