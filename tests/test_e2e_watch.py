"""End to end in a real browser: a user's own script, started while the dashboard is open, records its
fit() with `bnviz.watch`; the run appears on the Runs page and its Run page follows it live."""

from __future__ import annotations

import functools
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e_app import curve_points, histogram_title, streamlit_server, wait_for_app
from tests.waiting import wait_for
from ui import routes

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[1]
_wait_until = functools.partial(wait_for, every=0.3)

# A user's script in a folder of its own. It trains until the test drops a STOP file, so the browser
# sees it live however fast or slow this machine is.
SCRIPT = '''
import sys, time
from pathlib import Path

import keras
import numpy as np

import bnviz

STOP = Path(sys.argv[1])


class Pace(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        time.sleep(0.3)
        if STOP.exists():
            self.model.stop_training = True


keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, name="hidden"),
                          keras.layers.BatchNormalization(name="script_bn"), keras.layers.Activation("relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
x = np.random.default_rng(0).normal(size=(256, 2)).astype("float32")
y = (np.hypot(x[:, 0], x[:, 1]) < 1).astype("float32")
model.fit(x, y, epochs=2000, batch_size=32, validation_split=0.2, verbose=0,
          callbacks=[bnviz.watch(name="e2e script", probe=(x[:64], y[:64]), probe_every=1), Pace()])
print("done", flush=True)
'''



def _lines(proc: subprocess.Popen) -> queue.Queue:
    """The script's stdout, line by line, without blocking the test."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_a_script_started_while_the_dashboard_is_open_appears_and_is_followed_live(browser, tmp_path):
    home, folder = tmp_path / "home", tmp_path / "my-project"
    folder.mkdir()
    (folder / "train.py").write_text(SCRIPT)
    stop = folder / "STOP"
    with streamlit_server(home, env={"BNVIZ_EXECUTOR": "none"}) as url:
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(routes.url("runs", current=url))
        wait_for_app(page)
        page.get_by_text("No runs yet").wait_for(timeout=30_000)

        env = {**os.environ, "BNVIZ_HOME": str(home), "BNVIZ_DASHBOARD_URL": url, "PYTHONPATH": str(REPO),
               "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, "train.py", str(stop)], cwd=folder, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            lines = _lines(proc)
            link = _wait_until(lambda: _watching_line(lines), 180, "the script's link")
            run_id = re.search(r"\?run=([\w-]+)", link).group(1)
            assert link.strip() == f"bnviz: watching run {run_id} at {url}/?run={run_id}"

            # The Runs page lists it, from a script.
            def listed() -> bool:
                page.reload()
                wait_for_app(page)
                page.get_by_text(re.compile(r"No runs yet|\d+ of \d+ runs")).first.wait_for(timeout=30_000)
                return page.get_by_text(re.compile(r"1 of 1 runs")).count() > 0
            _wait_until(listed, 60, "the script's run on the Runs page")
            page.locator("[role='gridcell']", has_text="from a script").first.wait_for(state="attached",
                                                                                       timeout=30_000)  # Origin
            _select_first_row(page)
            page.locator("[data-testid='stMarkdown']", has_text="from a script").first.wait_for(timeout=30_000)

            # Its Run page, from the printed link, follows it live.
            run = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            run.goto(f"{url}/?run={run_id}")
            wait_for_app(run)
            run.get_by_role("heading", name="e2e script").wait_for(timeout=30_000)
            run.locator("[data-testid='stMarkdown']", has_text="from a script").first.wait_for(timeout=30_000)
            first = _wait_until(lambda: (p := curve_points(run))["epochs"] >= 1 and p, 120, "the first epoch")
            _wait_until(lambda: curve_points(run)["epochs"] > first["epochs"], 120, "more epochs, live")
            _wait_until(lambda: "script_bn" in histogram_title(run), 60, "the histograms of script_bn")

            stop.write_text("enough")
            assert proc.wait(180) == 0
            run.get_by_text("succeeded").first.wait_for(timeout=60_000)
        finally:
            if proc.poll() is None:
                proc.kill()


def _watching_line(lines: queue.Queue) -> str | None:
    try:
        line = lines.get_nowait()
    except queue.Empty:
        return None
    return line if line.startswith("bnviz: watching run") else None


def _select_first_row(page) -> None:
    """Tick the first row's checkbox in the Runs table (a canvas grid: click where it is drawn)."""
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
