"""bnviz dashboard entry: builds the navigation, nothing else (the pages are in ui/routes.py).

    streamlit run app.py

`/?run=<id>` on the root URL opens that run's live view; `&present=1` is projector mode.
"""

import streamlit as st

from ui import routes
from ui.service import manager


def main() -> None:
    st.set_page_config(
        page_title="bnviz · Batch Normalization Explorer",
        page_icon="assets/icon.png",
        layout="wide",
        initial_sidebar_state="collapsed" if st.query_params.get("present") == "1" else "auto",
    )
    st.logo("assets/logo.png", icon_image="assets/icon.png")
    manager()  # the first visit starts this server's warm training workers, before anyone clicks Train
    routes.navigation().run()


if __name__ != "__mp_main__":  # a helper process (bnviz/train/describe.py, spawn) re-imports this file: no app there
    main()
