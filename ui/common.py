"""Small pieces every page uses: who is asking, friendly errors, shareable links, presenter mode."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

import streamlit as st

from bnviz.ids import InvalidRunId, validate_run_id
from bnviz.states import ACTIVE

STATE_ICONS = {
    "queued": ":material/schedule:", "running": ":material/autorenew:", "succeeded": ":material/check_circle:",
    "failed": ":material/error:", "cancelled": ":material/cancel:", "diverged": ":material/trending_up:",
    "interrupted": ":material/power_off:",
}
LIVE_STATES = ACTIVE


def owner() -> str:
    """A label for this browser session, for the per-person queue limit."""
    if "owner" not in st.session_state:
        st.session_state["owner"] = "web-" + secrets.token_hex(4)
    return st.session_state["owner"]


def presenting() -> bool:
    """?present=1 hides the configuration side and enlarges charts, for a projector."""
    return st.query_params.get("present", "") in ("1", "true", "yes")


def chart_height(normal: int = 420) -> int:
    return int(normal * 1.45) if presenting() else normal


def friendly_error(title: str, detail: str | None = None) -> None:
    """A message and a way back, instead of a traceback."""
    st.error(f"**{title}**" + (f"\n\n{detail}" if detail else ""), icon=":material/link_off:")
    st.page_link("pages/runs.py", label="See all runs", icon=":material/list:")
    st.page_link("pages/experiment.py", label="Start a new experiment", icon=":material/science:")


def run_id_from(value: str | None) -> str | None:
    """A validated run id from the URL, or None after showing why it is not usable."""
    if not value:
        return None
    try:
        return validate_run_id(value)
    except InvalidRunId as exc:
        friendly_error("This link does not point to a run.", str(exc))
        return None


def base_url() -> str:
    """The address this app is served at, as the browser sees it."""
    url = getattr(st.context, "url", None) or ""
    return url.split("?", 1)[0].rstrip("/") if url else ""


def share_link(path: str = "", **params: str) -> str:
    base = base_url()
    if path and base:
        for suffix in ("/experiment", "/run", "/compare", "/runs", "/learn"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        base = f"{base}/{path}"
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{base}?{query}" if query else base or "/"


def copy_link(label: str, link: str) -> None:
    """A link with a copy button (st.code has one built in)."""
    st.caption(label)
    st.code(link, language=None, wrap_lines=True)


def apply_presenter_style() -> None:
    if presenting():
        st.html("<style>html, .stMarkdown, .stCaption {font-size: 1.2rem;} h1 {font-size: 3rem !important;}</style>")


@st.cache_resource(max_entries=512, show_spinner=False)
def shared_figure(name: str, version: tuple, options: tuple, _build):
    """Build a figure once per run version and options, for every session that shows it.

    A classroom watching one run would otherwise rebuild the same Plotly figures (30-160 ms
    of GIL each) once per student per second, starving the training thread."""
    return _build()


def chart(where, figure, key: str) -> None:
    """Draw a bnviz figure as designed (its own template, so it matches the report's PNGs)."""
    where.plotly_chart(figure, key=key, width="stretch", theme=None,
                       config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]})
