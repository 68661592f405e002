"""Which epoch a view shows: the newest while a run trains, until the viewer picks one.

One picker for every view with an epoch (histograms, BN modes, the decision boundary, BN step by
step), so following a live run works the same everywhere.
"""

from __future__ import annotations

import streamlit as st

LABEL = "Epoch (0 = before training)"


def epoch_picker(where, epochs: list[int], *, key: str, live: bool, label: str = LABEL,
                 planned: int | None = None) -> int:
    """One of the recorded `epochs`. While the run trains (`live`) it follows the newest epoch
    until the viewer turns "Follow training" off. The code never writes a widget's state while
    following, so a browser sending back an older value (a rerun crossing an update) cannot stop
    another viewer from following.

    `planned` (the run's configured epochs, for views probed every epoch): a numeric slider that,
    while the run trains, spans the whole run so its scale does not jump as epochs arrive (an
    epoch not reached yet shows the newest). Without it, a slider over the recorded epochs.

    Each slider is made with the epoch it shows as its default: a browser that mounts it again (the
    page around it changed, e.g. when the run ended) starts from that default and sends it back, and
    with the widget's own default (epoch 0) a viewer who never touched it was moved to epoch 0."""
    last = epochs[-1]
    if live and where.toggle("Follow training", value=True, key=f"{key}_follow",
                             help="Show each new epoch as it arrives. Turn off to pick an epoch."):
        where.caption(f"Epoch {last} (the latest)")
        return last
    if len(epochs) == 1:
        where.caption(f"{label}: {last} (the only one recorded so far)")
        return last
    if planned is not None:  # every epoch was probed: a plain slider
        top = max(planned, last) if live else last
        value = where.slider(label, 0, top, value=min(st.session_state.get(key, last), top), key=key)
        if value > last:
            where.caption(f"Epoch {value} has not been reached yet; showing epoch {last}.")
            return last
        return value
    chosen = st.session_state.get(key, last)
    if chosen not in epochs:  # an epoch this run does not have: the newest, moving the browser's slider too
        st.session_state[key] = last
        return int(where.select_slider(label, epochs, key=key))
    return int(where.select_slider(label, epochs, value=chosen, key=key))
