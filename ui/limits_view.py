"""The Experiment page's limits: who may train here, and a run over this server's per-run budgets.

The budgets are counted from the config (bnviz.limits), so a link asking for a huge model is refused
before anything is built: the model summary helper is never asked to build it, and Train stays off
(a teacher holding the admin key may train it anyway, and is told so).
"""

from __future__ import annotations

import streamlit as st

from bnviz import limits
from bnviz.config import ExperimentConfig
from ui import access


def budget_problems(config: ExperimentConfig | None) -> list[str]:
    """The per-run limits `config` exceeds, one line each (your own file is read for its shape)."""
    if config is None:
        return []
    return limits.problems(config, limits.data_shape(config, read_files=True))


def show_limits(refused: str | None, over: list[str], who: access.Actor) -> bool:
    """Say why Train is off (or that a teacher may go past the limits); True when Train must stay off."""
    if refused is not None:
        st.info(refused, icon=":material/visibility:")
    lines = "\n\n".join(f"- {line}" for line in over)
    if over and who.is_admin:
        st.warning(f"**Over this server's per-run limits:**\n\n{lines}\n\nYou hold the teacher key, so you may "
                   "train it anyway.", icon=":material/key:")
    elif over:
        st.error(f"**This run is too big for this server:**\n\n{lines}\n\nMake it smaller to train it (a teacher "
                 "with the admin key may train it as it is).", icon=":material/block:")
    if refused is not None or (over and not who.is_admin):
        access.admin_unlock()
    return refused is not None or (bool(over) and not who.is_admin)


def counted_model_panel(config: ExperimentConfig) -> None:
    """"Your model" for a config over the budgets: the count from the config, nothing built."""
    st.subheader("Your model")
    spent = limits.cost(config, limits.data_shape(config, read_files=True))
    c1, c2 = st.columns(2)
    if spent.params is not None:
        c1.metric("Parameters", f"{spent.params:,}")
    if spent.activation_mb is not None:
        c2.metric("Activations per batch", f"{spent.activation_mb:,.0f} MB",
                  help=f"float32 values of every layer for a batch of {spent.batch:,}")
    st.caption("Counted from the settings: a model over this server's limits is not built to show its layers.")
