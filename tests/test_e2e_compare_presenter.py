"""Issue 23 in a real browser: the pair presenter view `/compare?runs=a,b&present=1` on a 1920×1080
projector. Two runs on 2-D data (circles) train while it is open: both loss curves and both decision
boundaries are on the first screen without scrolling, every chart names the epoch of the large
counter, and chart text is at least 18 px.

The runs are written by the fast fake trainer (tests/fake_trainer.py) in threads of this test, with a
decision boundary added to each probe, into the store the server reads (BNVIZ_HOME). Nothing here
depends on speed: every look waits with a generous timeout, and no count depends on timing.
"""

from __future__ import annotations

import re
import threading

import pytest

from tests.e2e_app import streamlit_server, wait_for_app
from tests.fake_trainer import train as fake_train
from tests.test_e2e import PROJECTOR_FONTS_JS
from tests.waiting import wait_for
from ui import routes

pytestmark = pytest.mark.e2e
EPOCHS = 400  # far more than the test watches: the runs are still training when it looks
SCREEN = {"width": 1920, "height": 1080}

SCREEN_JS = """
() => {
  const counter = document.querySelector('.bnviz-epoch');
  const plots = Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => {
    const r = p.getBoundingClientRect();
    const title = p.querySelector('.gtitle');
    const lines = (p.data || []).filter(d => String(d.mode || '').includes('lines'));
    const xs = lines.flatMap(d => Array.from(d.x || []).map(Number));
    return {title: title ? title.textContent : '', top: r.top, bottom: r.bottom, left: r.left, right: r.right,
            lines: lines.length, last_x: xs.length ? Math.max(...xs) : null,
            heatmaps: (p.data || []).filter(d => d.type === 'heatmap').length};
  });
  const main = document.querySelector('[data-testid="stMain"]');
  return {counter: counter ? counter.textContent : '', plots,
          scroll: main ? main.scrollTop : 0, scroll_height: main ? main.scrollHeight : 0};
}
"""


def _boundary(epoch: int, size: int = 16) -> dict:
    classes = [int((((i % size) - size / 2) ** 2 + ((i // size) - size / 2) ** 2) < (size / 3 + epoch % 3) ** 2)
               for i in range(size * size)]
    return {"size": size, "x_range": [-1.5, 1.5], "y_range": [-1.5, 1.5], "classes": classes,
            "confidence": [80] * (size * size)}


def _train_in_background(config, name: str, stop: threading.Event) -> tuple[str, threading.Thread]:
    """A running run whose events a thread writes as a worker would, each probe with a boundary."""
    from bnviz.store import RunStore

    store = RunStore()
    run_id = store.create_run(config, owner="test", name=name, status="running")

    def sink(event: dict) -> None:
        if event["type"] == "probe":
            event = {**event, "probe": {**event["probe"], "boundary": _boundary(int(event["probe"]["epoch"]))}}
        store.append_event(run_id, event)

    def work() -> None:
        try:
            fake_train(config, sink=sink, stop_event=stop, run_id=run_id)
        finally:
            store.close()

    thread = threading.Thread(target=work, name=f"fake-{name}", daemon=True)
    thread.start()
    return run_id, thread


def _epochs(screen: dict) -> dict:
    """The epoch the counter names, and the one each chart names in its title."""
    counter = re.search(r"Epoch (\d+) of (\d+)", screen["counter"])
    named = {p["title"]: re.search(r"epoch (\d+)", p["title"]) for p in screen["plots"]}
    return {"counter": int(counter.group(1)) if counter else None, "total": int(counter.group(2)) if counter else None,
            **{title: int(m.group(1)) if m else None for title, m in named.items()}}


def _agreeing(page) -> tuple[dict, dict] | None:
    """A look at the screen in which the counter and both charts name one epoch (None: not yet, e.g.
    a chart still being redrawn)."""
    screen = page.evaluate(SCREEN_JS)
    epochs = _epochs(screen)
    named = [v for k, v in epochs.items() if k != "total"]
    if len(screen["plots"]) != 2 or None in named or len(set(named)) != 1:
        return None
    return screen, epochs


def test_the_pair_presenter_view_fits_a_projector_and_names_one_epoch(browser, tmp_path, monkeypatch):
    from bnviz.presets import PRESETS

    home = tmp_path / "home"
    monkeypatch.setenv("BNVIZ_HOME", str(home))  # this process writes the runs the server shows
    monkeypatch.setenv("BNVIZ_FAKE_EPOCH_S", "0.6")
    base = PRESETS["seed001-circles-after-fast"].config.with_updates({"training.epochs": EPOCHS})
    stop = threading.Event()
    runs = [_train_in_background(base, "circles with BN", stop),
            _train_in_background(base.with_updates({"model.norm.placement": "none", "training.seed": 4}),
                                 "circles without BN", stop)]
    try:
        with streamlit_server(home, env={"BNVIZ_EXECUTOR": "none"}) as url:
            context = browser.new_context(viewport=SCREEN)
            page = context.new_page()
            page.goto(routes.url("compare", current=url, runs=",".join(r for r, _ in runs), present="1"))
            wait_for_app(page)
            page.locator(".bnviz-epoch").wait_for(timeout=120_000)
            first = wait_for(lambda: (seen := _agreeing(page)) and seen[1]["counter"] >= 1 and seen, 120,
                             "the counter and both charts at one epoch", every=0.3)
            screen, epochs = first
            assert epochs["total"] == EPOCHS and epochs["counter"] < EPOCHS  # still training
            titles = [p["title"] for p in screen["plots"]]
            loss = next(p for p in screen["plots"] if p["title"].startswith("Loss"))
            boundary = next(p for p in screen["plots"] if p["title"].startswith("Decision boundaries"))
            assert loss["lines"] == 2 and loss["last_x"] == epochs["counter"], (loss, epochs)  # both curves
            assert boundary["heatmaps"] == 2, titles  # both runs' boundaries
            # The whole view on one screen: nothing scrolled, every chart inside 1920×1080.
            assert screen["scroll"] == 0
            assert all(p["top"] >= 0 and p["bottom"] <= SCREEN["height"] and p["right"] <= SCREEN["width"]
                       for p in screen["plots"]), screen["plots"]
            sizes = page.evaluate(PROJECTOR_FONTS_JS)
            assert sizes and min(sizes) >= 18, sorted(sizes)[:5]

            # Later, still training: the charts moved on together.
            later = wait_for(lambda: (seen := _agreeing(page)) and seen[1]["counter"] > epochs["counter"] and seen,
                             120, "a later epoch on the counter and both charts", every=0.3)
            assert later[1]["counter"] < EPOCHS
            assert all(p["bottom"] <= SCREEN["height"] for p in later[0]["plots"]), later[0]["plots"]
            assert page.get_by_text("Traceback").count() == 0
            context.close()
    finally:
        stop.set()
        for _, thread in runs:
            thread.join(60)
