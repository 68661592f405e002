"""The app's frame around every page: page config, logo, this server's workers, the navigation.

`app.py` calls `main`; every page file ends with `show(page)`. On a fresh server a deep link
(`/runs` as the first request) does not go through app.py: because `pages/` sits beside it,
Streamlit starts in its old multipage mode and runs the page's file on its own, under a raw
listing of `pages/` (app, compare, ...), until `st.navigation` is called once in the process.
`show` notices that and runs `main` there, which calls the app's `st.navigation` (switching the
server over for good) and runs the same page through it, with its query and widget state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import streamlit as st

from ui import routes
from ui.service import manager

_this_run = threading.local()  # via_app: main's navigation is running a page in this script thread


def main() -> None:
    """The whole app: the frame, then the requested page through the app's navigation."""
    st.set_page_config(
        page_title="bnviz · Batch Normalization Explorer",
        page_icon="assets/icon.png",
        layout="wide",
        initial_sidebar_state="collapsed" if st.query_params.get("present") == "1" else "auto",
    )
    st.logo("assets/logo.png", icon_image="assets/icon.png")
    manager()  # the first visit starts this server's warm training workers, before anyone clicks Train
    _this_run.via_app = True
    try:
        routes.navigation().run()
    finally:
        _this_run.via_app = False


def show(page: Callable[[], None]) -> None:
    """Draw a page; run alone by Streamlit's old multipage mode, go through `main` instead."""
    if getattr(_this_run, "via_app", False):
        page()
    else:
        main()  # runs this page's file again, now inside the app's navigation
