"""Small pieces every page uses: friendly errors, shareable links, presenter mode, charts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from bnviz.config import ExperimentConfig
from bnviz.data.offered import shareable_path
from bnviz.ids import InvalidRunId, validate_run_id
from bnviz.settings import settings
from bnviz.states import RunState
from ui import routes

STATE_ICONS = {
    RunState.QUEUED: ":material/schedule:", RunState.RUNNING: ":material/autorenew:",
    RunState.SUCCEEDED: ":material/check_circle:", RunState.FAILED: ":material/error:",
    RunState.CANCELLED: ":material/cancel:", RunState.DIVERGED: ":material/trending_up:",
    RunState.INTERRUPTED: ":material/power_off:",
}
OPTIMIZER_TITLES = {"sgd": "SGD", "momentum": "SGD + momentum", "adam": "Adam", "rmsprop": "RMSprop"}
PROJECTOR_FONT_PX = 18  # the smallest chart text in presenter mode (ticks, legends, axis titles)


def plain(text: object) -> str:
    """`text` as literal characters wherever Streamlit renders Markdown (titles, captions, messages).

    A visitor's run name, file name or column name is text: `![p](http://host/pixel.png)` must not make
    every viewer's browser fetch an image, `:red[...]` must not colour the page. Every ASCII punctuation
    character is backslash-escaped (CommonMark allows it for all of them), and `<` `>` become entities
    so no HTML tag survives either."""
    escaped = re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", str(text))
    return escaped.replace("\\<", "&lt;").replace("\\>", "&gt;")


def presenting() -> bool:
    """?present=1 hides the controls and enlarges charts and text, for a projector."""
    return st.query_params.get("present", "") in ("1", "true", "yes")


def chart_height(normal: int = 420) -> int:
    return 600 if presenting() else normal


def friendly_error(title: str, detail: str | None = None) -> None:
    """A message and a way back, instead of a traceback."""
    st.error(f"**{title}**" + (f"\n\n{detail}" if detail else ""), icon=":material/link_off:")
    routes.page_link("runs", "See all runs")
    routes.page_link("experiment", "Start a new experiment")


def run_id_from(value: str | None) -> str | None:
    """A validated run id from the URL, or None after showing why it is not usable."""
    if value is None:
        return None
    if not value.strip():
        friendly_error("This link has no run id.", "It ends in `run=` with nothing after it: it was probably "
                                                   "copied incompletely.")
        return None
    try:
        return validate_run_id(value)
    except InvalidRunId as exc:
        friendly_error("This link does not point to a run.", str(exc))
        return None


def config_link_token(config: ExperimentConfig | Mapping[str, Any]) -> str:
    """A `?cfg=` token for a link anyone may receive: the dataset path without the server's folders
    (`uploads/<content id>.csv`; the form resolves it back on this server)."""
    cfg = config if isinstance(config, ExperimentConfig) else ExperimentConfig.from_dict(config)
    if cfg.dataset.path:
        cfg = cfg.with_updates({"dataset.path": shareable_path(cfg.dataset.path, data_dir=settings().data_dir)})
    return cfg.encode()


def copy_link(label: str, link: str) -> None:
    """A link with a copy button (st.code has one built in)."""
    st.caption(label)
    st.code(link, language=None, wrap_lines=True)


# Streamlit sizes its text in px of its own: the header line, captions and messages are set here, every
# one at least PROJECTOR_FONT_PX (a rule on `html` alone left them body-size; issue 23).
PRESENTER_CSS = (
    "<style>[data-testid='stMarkdownContainer'] p, [data-testid='stMarkdownContainer'] li, "
    "[data-testid='stAlertContentInfo'] p {font-size: 26px !important; line-height: 1.4 !important;} "
    "[data-testid='stCaptionContainer'], [data-testid='stCaptionContainer'] p {font-size: 22px !important;} "
    "h1 {font-size: 44px !important; padding-top: 0 !important;} "
    ".bnviz-epoch {font-size: 56px !important; font-weight: 700; line-height: 1.1;} "
    "[data-testid='stMainBlockContainer'] {padding-top: 3.5rem !important;}</style>")


def apply_presenter_style() -> None:
    """Projector text: larger body text, a title that leaves room for the charts."""
    if presenting():
        st.html(PRESENTER_CSS)


def projector_sized(figure: go.Figure, size: int = PROJECTOR_FONT_PX) -> go.Figure:
    """A copy of `figure` whose every text (ticks, legend, axis and subplot titles) is at least
    `size` px, readable from the back of a classroom."""
    fig = go.Figure(figure)
    fig.update_layout(font={"size": size}, title_font_size=size + 6, hoverlabel_font_size=size,
                      legend={"font": {"size": size}, "orientation": "h", "yanchor": "top", "y": -0.2,
                              "xanchor": "left", "x": 0.0},  # below the plot, clear of the title
                      margin={"l": 80, "r": 20, "t": 60, "b": 150})
    fig.update_xaxes(tickfont_size=size, title_font_size=size)
    fig.update_yaxes(tickfont_size=size, title_font_size=size)
    fig.update_annotations(font_size=size)
    return fig


class SharedFigure(go.Figure):
    """A figure many sessions draw and none changes: its dict is made once, not once per draw.

    `st.plotly_chart` turns a figure into a dict (a deep copy) on every call; for a classroom
    that is 30 copies of each chart a second. Treat a SharedFigure as read-only."""

    def to_dict(self) -> dict:
        frozen = self.__dict__.get("_bnviz_dict")
        if frozen is None:
            frozen = self.__dict__["_bnviz_dict"] = super().to_dict()
        return frozen


@st.cache_resource(max_entries=512, show_spinner=False)
def shared_figure(name: str, version: tuple, options: tuple, _build):
    """Build a figure once per run version and options, for every session that shows it.

    A classroom watching one run would otherwise rebuild the same Plotly figures (30-160 ms
    of GIL each) once per student per second, starving the training thread."""
    figure = _build()
    figure.__class__ = SharedFigure  # the same object, now keeping its dict (a copy would be validated again)
    return figure


def chart(where, figure, key: str) -> None:
    """Draw a bnviz figure as designed (its own template, so it matches the report's PNGs)."""
    where.plotly_chart(figure, key=key, width="stretch", theme=None,
                       config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]})
