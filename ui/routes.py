"""The route table: the one place a page's file and URL path are written.

`app.py` builds the navigation from it, `page_link`/`switch` open pages through it, and
`url` writes the absolute links the app hands out (share links, the experiment's link), so
every link opens its page directly. The default page lives at the root URL: its link has no
path (Streamlit serves the default page at "/", not under its own name).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import streamlit as st


@dataclass(frozen=True)
class Route:
    file: str  # relative to app.py
    url_path: str
    title: str
    icon: str
    group: str
    default: bool = False

    @property
    def link_path(self) -> str:
        return "" if self.default else self.url_path


ROUTES: dict[str, Route] = {
    "experiment": Route("pages/experiment.py", "experiment", "Experiment", ":material/science:", "Explore",
                        default=True),
    "run": Route("pages/run.py", "run", "Run", ":material/monitoring:", "Explore"),
    "compare": Route("pages/compare.py", "compare", "Compare", ":material/compare_arrows:", "Explore"),
    "learn": Route("pages/learn.py", "learn", "Learn", ":material/school:", "Library"),
    "runs": Route("pages/runs.py", "runs", "Runs", ":material/list:", "Library"),
}


def navigation():
    """The app's st.navigation, grouped as in the sidebar."""
    groups: dict[str, list] = {}
    for route in ROUTES.values():
        groups.setdefault(route.group, []).append(
            st.Page(route.file, title=route.title, icon=route.icon, url_path=route.url_path,
                    default=route.default))
    return st.navigation(groups)


def file(name: str) -> str:
    return ROUTES[name].file


def page_link(name: str, label: str | None = None, *, where=st, icon: str | None = None,
              **params: str) -> None:
    """A link to one of the app's pages, with its query parameters."""
    route = ROUTES[name]
    where.page_link(route.file, label=label or route.title, icon=icon or route.icon,
                    query_params={k: v for k, v in params.items() if v} or None)


def switch(name: str, **params: str | None) -> None:
    """Open a page; parameters given as None are left out, empty ones are kept (`?run=`)."""
    st.switch_page(ROUTES[name].file, query_params={k: v for k, v in params.items() if v is not None} or None)


def base_url(current: str | None = None) -> str:
    """The app's address as the browser sees it (scheme, host and any base path), no page."""
    if current is None:
        current = getattr(st.context, "url", None) or ""
    if not current:
        return ""
    parts = urlsplit(current)
    path = parts.path.rstrip("/")
    for route in ROUTES.values():
        if route.url_path and path.endswith("/" + route.url_path):
            path = path[: -len(route.url_path) - 1]
            break
    return f"{parts.scheme}://{parts.netloc}{path}" if parts.netloc else path


def url(name: str, *, current: str | None = None, **params: str) -> str:
    """An absolute link to a page (relative if the app's address is unknown, as in tests)."""
    route = ROUTES[name]
    base = base_url(current)
    path = f"{base}/{route.link_path}" if route.link_path else f"{base}/"
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{path}?{query}" if query else path
