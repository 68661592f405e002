"""Latency as a person sees it: click Train -> first point on the live chart, and an epoch's end
on the server -> its point in the browser. Real app, real training, headless Chromium.

    python bench/bench_browser_latency.py [--preset seed001-circles-after-fast] [--viewers 1]

Epoch ends are logged by the trainer (bench/timed_trainer.py) with the same clock the browser
poll uses (this machine's wall clock); the page is polled every 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e_app import CHROMIUM_ARGS, chromium_path, curve_points, streamlit_server, wait_for_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="seed001-circles-after-fast")
    parser.add_argument("--viewers", type=int, default=1, help="extra browser tabs watching the same run")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        home, log = Path(tmp) / "home", Path(tmp) / "epochs.log"
        env = {"BNVIZ_TRAINER": "bench.timed_trainer:train", "BNVIZ_EPOCH_LOG": str(log), "PYTHONPATH": str(ROOT)}
        with streamlit_server(home, env=env) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/?preset={args.preset}")
            wait_for_app(page)
            page.get_by_text("Your model").wait_for(timeout=60_000)
            page.wait_for_timeout(1000)
            clicked = time.time()
            page.get_by_role("button", name="Train", exact=True).click()
            page.wait_for_url("**?run=*", timeout=60_000)
            run_url = page.url
            for _ in range(args.viewers):
                browser.new_page().goto(run_url)
            first_point, seen, last = None, {}, 0
            deadline = time.time() + 600
            while time.time() < deadline:
                points = curve_points(page)
                now = time.time()
                if first_point is None and (points["batches"] > 0 or points["epochs"] > 0):
                    first_point = now
                for epoch in range(last + 1, points["epochs"] + 1):
                    seen[epoch] = now
                last = max(last, points["epochs"])
                if page.get_by_text("succeeded").count():
                    break
                page.wait_for_timeout(50)
            browser.close()
        ended = {int(e): float(t) for e, t in (line.split() for line in log.read_text().split("\n") if line)}

    lags = [seen[e] - ended[e] for e in sorted(seen) if e in ended]
    print(f"preset {args.preset}, {args.viewers} extra viewer(s)")
    print(f"click Train -> first point on the live chart: {first_point - clicked:.2f} s")
    if lags:
        print(f"epoch end -> point in the browser over {len(lags)} epochs: median {statistics.median(lags):.2f} s, "
              f"p90 {sorted(lags)[int(0.9 * (len(lags) - 1))]:.2f} s, max {max(lags):.2f} s")


if __name__ == "__main__":
    main()
