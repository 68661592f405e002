"""Writing Plotly figures to files: PNG through the static export, interactive HTML as the fallback.

Split from bnviz.report.reproduce because the export is its own problem: Kaleido needs a browser,
can hang or be missing, so it runs under a timeout and any failure falls back to HTML.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import plotly.graph_objects as go

FIGURE_WIDTH = 900
EXPORT_TIMEOUT_S = 180.0


def _export_png(figs: Sequence[go.Figure], paths: Sequence[Path]) -> None:
    """All figures in one Kaleido session (one browser start)."""
    import plotly.io as pio

    pio.write_images(list(figs), [str(p) for p in paths], format="png", width=FIGURE_WIDTH, scale=1)


def _with_timeout(fn: Callable[[], None], timeout: float) -> None:
    error: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="bnviz-export", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the static export took longer than {timeout:.0f}s")
    if error:
        raise error[0]


def export_figures(items: Sequence[tuple[str, go.Figure]], folder: Path, fmt: str = "auto") -> tuple[list[Path], str]:
    """Write figures named by `items` (stem, figure) into `folder`; returns the paths and a note on
    the format: PNG through Plotly's static export (Kaleido + Chromium), or, when that is
    unavailable or fails, interactive HTML (sharing one plotly.min.js)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in list(folder.glob("*.png")) + list(folder.glob("*.html")):
        old.unlink()
    if not items:
        return [], "no figures"
    reason = ""
    if fmt in ("auto", "png"):
        paths = [folder / f"{stem}.png" for stem, _ in items]
        try:
            _with_timeout(lambda: _export_png([fig for _, fig in items], paths),
                          EXPORT_TIMEOUT_S + 5 * len(items))
            if all(p.is_file() and p.stat().st_size > 0 for p in paths):
                return paths, f"PNG ({FIGURE_WIDTH} px wide, Plotly static export)"
            reason = "the static export wrote no files"
        except Exception as exc:  # any export problem means "fall back to HTML"
            reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        if fmt == "png":
            raise RuntimeError(f"PNG export failed: {reason}")
        for p in paths:
            p.unlink(missing_ok=True)
    paths = [folder / f"{stem}.html" for stem, _ in items]
    for path, (_, fig) in zip(paths, items):
        fig.write_html(str(path), include_plotlyjs="directory", full_html=True)
    note = "interactive HTML (open the links)"
    if reason:
        note += f"; PNG export was not possible here, so the report fell back to HTML ({reason})"
    return paths, note
