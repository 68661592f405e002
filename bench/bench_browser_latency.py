"""Latency as a person sees it: click Train -> first point on the live chart, and an epoch's end
on the server -> its point in the browser. Real app, real training, headless Chromium.

The first point is where the loss curve starts (the epoch-0 probe, taken before any update);
the first trained point is the first logged batch after it. Both are printed, with a timeline
of what happened in between (the run queued, claimed, its first batch stored, the page's
progress bar showing).

    python bench/bench_browser_latency.py [--preset seed001-circles-after-fast] [--viewers 0]

The dashboard trains in its own warm worker processes; the click happens once a worker says
it is idle. Epoch ends are taken from the run store (polled every 20 ms, the moment the
epoch becomes visible to every reader) with the same clock the browser poll uses; the page is
polled every 50 ms. `--viewers N` opens N more tabs on the run as it starts: each Chromium tab
then renders on the same two cores as the server and the worker (in a class the students'
browsers run on their own machines; bench/classroom.py measures what viewers cost
the server).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e_app import CHROMIUM_ARGS, chromium_path, curve_points, streamlit_server, wait_for_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="seed001-circles-after-fast")
    parser.add_argument("--viewers", type=int, default=0, help="extra browser tabs watching the same run")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        ended: dict[int, float] = {}
        marks: dict[str, float] = {}
        stop = threading.Event()
        with streamlit_server(home, env={"PYTHONPATH": str(ROOT)}) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/?preset={args.preset}")
            wait_for_app(page)
            page.get_by_text("Your model").wait_for(timeout=60_000)
            _wait_for_idle_worker(home / "runs.db")
            clicked = time.time()
            page.get_by_role("button", name="Train", exact=True).click()
            page.wait_for_url("**?run=*", timeout=60_000)
            run_url = page.url
            marks["run page"] = time.time()
            watcher = threading.Thread(target=_watch_epochs, args=(home / "runs.db", run_url.split("run=")[1], ended,
                                                                  stop, marks), daemon=True)
            watcher.start()
            for _ in range(args.viewers):
                browser.new_page().goto(run_url)
            first_point, first_trained, seen, last = None, None, {}, 0
            deadline = time.time() + 600
            while time.time() < deadline:
                points = curve_points(page)
                now = time.time()
                if first_point is None and (points["batches"] > 0 or points["epochs"] > 0):
                    first_point = now
                if first_trained is None and (points["batches"] > 1 or points["epochs"] > 0):
                    first_trained = now  # the start point, then a batch (the preset probes before training)
                if points["batches"] >= 0:
                    marks.setdefault("chart drawn", now)
                for epoch in range(last + 1, points["epochs"] + 1):
                    seen[epoch] = now
                last = max(last, points["epochs"])
                if page.get_by_text("succeeded").count():
                    break
                page.wait_for_timeout(50)
            stop.set()
            browser.close()

    lags = [seen[e] - ended[e] for e in sorted(seen) if e in ended]
    print("  timeline after the click: " + ", ".join(
        f"{name} {at - clicked:.2f} s" for name, at in sorted(marks.items(), key=lambda kv: kv[1])))
    print(f"preset {args.preset}, {args.viewers} extra viewer(s)")
    print(f"click Train -> first point on the live chart: {first_point - clicked:.2f} s; "
          f"first trained batch on it: {first_trained - clicked:.2f} s")
    if lags:
        print(f"epoch end -> point in the browser over {len(lags)} epochs: median {statistics.median(lags):.2f} s, "
              f"p90 {sorted(lags)[int(0.9 * (len(lags) - 1))]:.2f} s, max {max(lags):.2f} s")


def _wait_for_idle_worker(db: Path, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                if con.execute("SELECT 1 FROM workers WHERE state='idle'").fetchone():
                    return
        except sqlite3.Error:
            pass
        time.sleep(0.2)
    raise TimeoutError("no worker became idle")


def _watch_epochs(db: Path, run_id: str, ended: dict[int, float], stop: threading.Event,
                  marks: dict[str, float]) -> None:
    """When each epoch of the run became visible in the store (any reader could show it from then on)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    while not stop.is_set():
        row = con.execute("SELECT n_epochs, created, started, n_batches FROM runs WHERE id=?", (run_id,)).fetchone()
        now = time.time()
        if row:
            marks.setdefault("queued", row[1])
            if row[2]:
                marks.setdefault("claimed", row[2])
            if row[3]:
                marks.setdefault("first batch stored", now)
        for epoch in range(1, (row[0] if row else 0) + 1):
            ended.setdefault(epoch, now)
        time.sleep(0.02)
    con.close()


if __name__ == "__main__":
    main()
