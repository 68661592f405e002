"""Issue 23 in a real browser: a deep link as a fresh server's very first request shows the app's
navigation, not Streamlit's raw listing of `pages/` (app, compare, experiment, ...).

Each test starts its own server, because the bug lived only until the server process first ran
`st.navigation` (ui/shell.py says why); the first visit must be the deep link itself.
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import unquote

import pytest

from tests.apptest_helpers import stored_run
from tests.e2e_app import streamlit_server, wait_for_app
from ui import routes

pytestmark = pytest.mark.e2e
TITLES = [route.title for route in routes.ROUTES.values()]  # Experiment, Run, Compare, Learn, Runs


def nav_items(page) -> list[str]:
    """The sidebar's page links as the visitor reads them (each link's last line: its icon's name comes first)."""
    page.locator("[data-testid='stSidebarNavLink']").first.wait_for(timeout=60_000)
    return [text.strip().splitlines()[-1] for text in
            page.locator("[data-testid='stSidebarNavLink']").all_inner_texts()]


@contextlib.contextmanager
def first_request(browser, tmp_path, path: str):
    """Two runs in a new store, a fresh server on it, and `path` as its first page request: (page, run ids)."""
    ids = [stored_run("with BN"), stored_run("without BN", **{"model.norm.placement": "none"})]
    with streamlit_server(tmp_path / "home", env={"BNVIZ_EXECUTOR": "none"}) as url:  # stored_run's home
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            page = context.new_page()
            page.goto(url + path.format(a=ids[0], b=ids[1]))
            wait_for_app(page)
            yield page, ids
        finally:
            context.close()


def test_a_compare_link_as_the_first_request_shows_the_apps_navigation(browser, tmp_path):
    with first_request(browser, tmp_path, "/compare?runs={a},{b}") as (page, ids):
        page.get_by_role("heading", name="Compare runs").wait_for(timeout=60_000)
        items = nav_items(page)
        assert items == TITLES and "app" not in items, items
        assert unquote(page.url).endswith(f"/compare?runs={ids[0]},{ids[1]}"), page.url  # same page and query
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)  # the two runs, compared
        assert page.get_by_text("Traceback").count() == 0


def test_a_runs_link_as_the_first_request_shows_the_apps_navigation(browser, tmp_path):
    with first_request(browser, tmp_path, "/runs") as (page, _):
        page.get_by_role("heading", name="Runs").wait_for(timeout=60_000)
        items = nav_items(page)
        assert items == TITLES and "app" not in items, items
        page.get_by_text(re.compile(r"\d+ of 2 runs")).first.wait_for(timeout=30_000)
        assert page.url.endswith("/runs"), page.url
