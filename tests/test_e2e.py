"""End to end in a real browser: train a fast preset, watch it live, open its link elsewhere.

Needs Debian's Chromium (/usr/bin/chromium); Playwright drives it through executable_path
(it cannot download its own browsers here). In CI a missing Chromium fails the test.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import pytest

from tests.e2e_app import curve_points, histogram_title, streamlit_server, wait_for_app
from tests.waiting import wait_for
from ui import routes
from ui.access import ADMIN_COOKIE

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[1] / "assets" / "screenshots"


def _shot(page, name: str) -> None:
    """Keep README screenshots current when asked (BNVIZ_SCREENSHOTS=1)."""
    if os.environ.get("BNVIZ_SCREENSHOTS"):
        from PIL import Image

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False, type="png")
        Image.open(path).convert("RGB").quantize(colors=128).save(path, optimize=True)  # ~30 KB each


def _click(page, text: str) -> None:
    page.get_by_role("button", name=text, exact=True).click()


_wait_until = functools.partial(wait_for, every=0.2)  # each look evaluates JavaScript in the page


def test_train_a_fast_preset_watch_it_live_and_share_it(browser, tmp_path):
    with streamlit_server(tmp_path / "home", env={"BNVIZ_MAX_JOBS": "1"}) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(routes.url("experiment", current=url, preset="seed001-circles-after-fast"))
        wait_for_app(page)
        page.get_by_text("Your model").wait_for(timeout=60_000)
        page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)  # the data preview
        _shot(page, "experiment")

        _click(page, "Train")
        page.wait_for_url("**?run=*", timeout=60_000)
        run_id = page.url.split("run=")[1].split("&")[0]

        # The live curve gains points while the run trains.
        first = _wait_until(lambda: curve_points(page)["epochs"] >= 1 and curve_points(page), 120,
                            "the first epoch on the live chart")
        later = _wait_until(lambda: (p := curve_points(page))["epochs"] > first["epochs"] and p, 60,
                            "more epochs on the live chart")
        assert later["epochs"] > first["epochs"]
        assert page.get_by_text("Epoch", exact=False).first.is_visible()
        _shot(page, "run-live")

        # The decision boundary forms live: its epoch moves on while the run trains (issue 13).
        seen = _wait_until(lambda: _boundary_epoch(page), 60, "the live decision boundary")
        later_boundary = _wait_until(lambda: (e := _boundary_epoch(page)) > seen and e, 60, "a newer boundary")
        assert later_boundary > seen
        _scroll_to(page, "Decision boundary")
        _shot(page, "run-boundary")

        # A teammate opens the link in another browser context and sees the same run.
        other = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        other.goto(f"{url}/?run={run_id}")  # the root URL with ?run= (the old share link) still works
        wait_for_app(other)
        _wait_until(lambda: curve_points(other)["epochs"] >= 1, 60, "the shared run's chart")
        other.get_by_role("heading", name="circles mlp BN after").wait_for(state="visible", timeout=60_000)

        # Both see it finish.
        page.get_by_text("succeeded").first.wait_for(timeout=120_000)
        other.get_by_text("succeeded").first.wait_for(timeout=60_000)
        assert curve_points(other)["epochs"] == 30
        # ...and the teammate's histograms followed it to the last epoch too (issue 9).
        _wait_until(lambda: histogram_title(other).endswith("epoch 30"), 30, "the shared run's last histogram",
                    seen=lambda: f"it shows {histogram_title(other)!r}")
        _shot(page, "run-finished")

        # The before/after BN histograms render for the finished run.
        page.get_by_text("Before / after BN").first.wait_for()
        assert page.locator(".js-plotly-plot").count() >= 3

        # BN step by step: the formula with this run's numbers.
        page.get_by_text("BN step by step").first.click()
        page.get_by_text("μ_B", exact=False).first.wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
        _scroll_to(page, "Inside the network")
        _shot(page, "bn-steps")

        # A bad link gets a friendly message, not a traceback.
        other.goto(routes.url("run", current=url, run="../../etc/passwd"))
        wait_for_app(other)
        other.get_by_text("This link does not point to a run.").wait_for(timeout=30_000)
        assert other.get_by_text("Traceback").count() == 0

        # A gallery card runs all its arms and answers its question.
        page.goto(routes.url("learn", current=url, exp="tutorial-circles"))
        wait_for_app(page)
        page.get_by_role("button", name="Run it (3 runs)").first.click()
        page.get_by_text("Open these runs in Compare").first.wait_for(timeout=60_000)
        _wait_until(lambda: page.get_by_text("still training").count() == 0, 240, "all three arms to finish")
        page.get_by_text("Claim", exact=False).first.wait_for()
        assert page.locator(".js-plotly-plot").count() >= 1
        page.evaluate("document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
        page.wait_for_timeout(1500)
        _shot(page, "learn")

        # Its arms side by side in Compare.
        page.get_by_text("Open these runs in Compare").first.click()
        page.wait_for_url(f"**/{routes.ROUTES['compare'].url_path}?runs=*", timeout=30_000)
        wait_for_app(page)
        _wait_until(lambda: page.locator(".js-plotly-plot").count() >= 2, 60, "the comparison charts")
        assert len(page.url.split("runs=")[1].split("%2C")) == 3
        page.wait_for_timeout(1000)
        _shot(page, "compare")
        _wait_until(lambda: _boundary_epoch(page), 60, "the runs' boundaries side by side")
        _scroll_to(page, "Decision boundary")
        _shot(page, "compare-boundary")

        page.goto(routes.url("runs", current=url))
        wait_for_app(page)
        page.get_by_text(re.compile(r"\d+ of 3 runs")).first.wait_for(timeout=30_000)  # the card reused one
        _shot(page, "runs")
        context.close()


BOUNDARY_TITLE_JS = """
() => { const p = Array.from(document.querySelectorAll('.js-plotly-plot')).find(p => p.layout && p.layout.title &&
          String(p.layout.title.text || '').startsWith('Decision boundar'));
        return p ? String(p.layout.title.text) : ''; }
"""


def _boundary_epoch(page) -> int:
    """The epoch the decision boundary chart shows (0 while there is none)."""
    found = re.search(r"epoch (\d+)", page.evaluate(BOUNDARY_TITLE_JS))
    return int(found.group(1)) if found else 0


def _scroll_to(page, heading: str) -> None:
    page.get_by_text(heading, exact=False).first.scroll_into_view_if_needed()
    page.wait_for_timeout(800)


def _run_link_from_page(page) -> str:
    page.get_by_text("Share this run").first.click()
    return page.locator("[data-testid='stCode'] code").last.inner_text().strip()


def _select_first_table_row(page) -> None:
    """Tick the first row's checkbox in the Runs table (a canvas grid: click where it is drawn)."""
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)  # the grid draws its canvas after the element appears
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)


PROJECTOR_FONTS_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot .xtick text, .js-plotly-plot .ytick text, '
                                           + '.js-plotly-plot .legendtext'))
        .map(t => parseFloat(getComputedStyle(t).fontSize))
"""
PLOTS_IN_VIEW_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => {
  const r = p.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, title: String((p.layout && p.layout.title && p.layout.title.text) || '')};
})
"""


def test_owners_links_admin_key_and_projector(browser, tmp_path):
    """Issue 11 in a browser: the first screen, the experiment link, who may cancel/delete a run
    (surviving a reload), the admin key, and presenter mode at 1920x1080."""
    from bnviz.presets import PRESETS

    long_run = PRESETS["seed001-circles-after-fast"].config.with_updates({"training.epochs": 2000})
    with streamlit_server(tmp_path / "home", env={"BNVIZ_MAX_JOBS": "1", "BNVIZ_ADMIN_KEY": "teacher-key"}) as url:
        owner_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = owner_ctx.new_page()
        page.goto(routes.url("experiment", current=url, cfg=long_run.encode()))
        wait_for_app(page)
        train = page.get_by_role("button", name="Train", exact=True)
        train.wait_for(timeout=60_000)
        page.get_by_text("Your model").wait_for(timeout=60_000)
        assert train.bounding_box()["y"] + train.bounding_box()["height"] <= 1000, "Train is above the fold"
        pair = page.get_by_role("button", name="Train with and without BN")
        assert pair.evaluate("b => { const p = b.querySelector('p') || b; return p.scrollWidth <= p.clientWidth; }")

        # The experiment's link opens the form itself, not "Page not found".
        link = page.locator("[data-testid='stCode'] code").filter(has_text="cfg=").first.inner_text().strip()
        assert link == routes.url("experiment", current=url, cfg=long_run.encode()), link
        check = owner_ctx.new_page()
        check.goto(link)
        wait_for_app(check)
        check.get_by_role("heading", name="Experiment").wait_for(timeout=30_000)
        assert check.get_by_text("Page not found").count() == 0
        check.close()

        _click(page, "Train")
        page.wait_for_url(f"**/{routes.ROUTES['run'].url_path}?run=*", timeout=60_000)
        run_id = page.url.split("run=")[1].split("&")[0]
        page.get_by_role("button", name="Cancel run").wait_for(timeout=60_000)
        page.reload()  # ownership is kept by the browser, not the session
        wait_for_app(page)
        page.get_by_role("button", name="Cancel run").wait_for(timeout=60_000)
        share = _run_link_from_page(page)
        assert share == routes.url("run", current=url, run=run_id), share

        # Someone else with the share link: the run, live, read-only.
        other_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        other = other_ctx.new_page()
        other.goto(share)
        wait_for_app(other)
        _wait_until(lambda: curve_points(other)["epochs"] >= 1, 120, "the shared run's chart")
        other.get_by_text("read-only", exact=False).first.wait_for(timeout=30_000)
        assert other.get_by_role("button", name="Cancel run").count() == 0
        assert other.get_by_role("button", name="Delete").count() == 0

        # Their attempt through the Runs page is refused: no Rename, no Delete for this run.
        other.goto(routes.url("runs", current=url))
        wait_for_app(other)
        other.locator("[data-testid='stDataFrame']").first.wait_for(timeout=30_000)
        _select_first_table_row(other)
        other.get_by_text("someone else's", exact=False).first.wait_for(timeout=30_000)
        assert other.get_by_role("button", name="Delete").count() == 0
        assert other.get_by_role("button", name="Rename").count() == 0

        # With the teacher's key the same browser may act on every run, and keeps that after a reload.
        other.get_by_text("Teacher access").first.click()
        other.locator("input[aria-label='Admin key']").fill("teacher-key")
        other.get_by_role("button", name="Unlock").click()
        wait_for_app(other)
        other.get_by_text("Teacher access").first.wait_for(state="hidden", timeout=30_000)  # the key was taken
        other.get_by_text("Teacher mode").first.wait_for(timeout=30_000)  # and the browser says so
        # the page writes the session's token as a cookie in the rerun after Unlock: reload once it is there
        _wait_until(lambda: any(c["name"] == ADMIN_COOKIE for c in other.context.cookies()), 30, "the admin cookie")
        token = next(c["value"] for c in other.context.cookies() if c["name"] == ADMIN_COOKIE)
        assert "teacher-key" not in token  # a random session token, nothing derived from the key
        other.reload()
        wait_for_app(other)
        other.get_by_text("Teacher mode").first.wait_for(timeout=30_000)
        other.locator("[data-testid='stDataFrame']").first.wait_for(timeout=30_000)
        _select_first_table_row(other)
        other.get_by_role("button", name="Delete").first.wait_for(timeout=30_000)
        other.goto(share)
        wait_for_app(other)
        other.get_by_role("button", name="Cancel run").click()
        other.get_by_text("cancelled").first.wait_for(timeout=60_000)
        other.get_by_role("button", name="Lock").click()  # one click ends teacher mode in this browser
        other.get_by_text("Teacher access").first.wait_for(timeout=30_000)
        _wait_until(lambda: all(c["name"] != ADMIN_COOKIE for c in other.context.cookies()), 30, "the cookie gone")

        # Presenter mode on a projector: curves and histograms on one screen, chart text >= 18 px.
        projector = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
        projector.goto(routes.url("run", current=url, run=run_id, present="1"))
        wait_for_app(projector)
        _wait_until(lambda: projector.locator(".js-plotly-plot").count() >= 3, 60, "three charts")
        projector.wait_for_timeout(1500)
        sizes = projector.evaluate(PROJECTOR_FONTS_JS)
        assert sizes and min(sizes) >= 18, sorted(sizes)[:5]
        plots = projector.evaluate(PLOTS_IN_VIEW_JS)
        assert any(p["title"].startswith("Loss") for p in plots)
        assert any(p["title"].startswith("Distributions") for p in plots)
        first_screen = [p for p in plots if not p["title"].startswith("Decision boundary")]  # the boundary: below
        assert len(first_screen) == 3 and all(p["top"] >= 0 and p["bottom"] <= 1080 for p in first_screen), plots
        _shot(projector, "run-presenter")
        owner_ctx.close()
        other_ctx.close()
