"""Learn: ready-made experiments, each one click from the result it is about."""

import streamlit as st

from bnviz.presets import PRESETS

st.title("Learn")
st.caption("Each preset reproduces a well-known Keras tutorial. Open one in the Experiment page to run it.")
for name, preset in PRESETS.items():
    st.page_link("pages/experiment.py", label=f"{name} — {preset.description}", query_params={"preset": name})
