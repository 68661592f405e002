"""bnviz dashboard entry: builds the navigation, nothing else.

    streamlit run app.py

`?run=<id>` on the root URL opens that run's live view; `?present=1` is projector mode.
"""

import streamlit as st

from ui.service import manager

st.set_page_config(
    page_title="bnviz · Batch Normalization Explorer",
    page_icon="assets/icon.png",
    layout="wide",
    initial_sidebar_state="collapsed" if st.query_params.get("present") == "1" else "auto",
)

run_link = "run" in st.query_params
pages = {
    "Explore": [
        st.Page("pages/experiment.py", title="Experiment", icon=":material/science:", default=not run_link),
        st.Page("pages/run.py", title="Run", icon=":material/monitoring:", default=run_link),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    ],
    "Library": [
        st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/list:"),
    ],
}
st.logo("assets/logo.png", icon_image="assets/icon.png")
manager()  # the first visit starts this server's warm training workers, before anyone clicks Train
st.navigation(pages).run()
