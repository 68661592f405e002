"""Do viewers who follow a live run see its last histograms when it ends? Real app, headless Chromium.

Each trial writes a run (the fast fake trainer, in this process) while `--viewers` tabs follow it on
the run page, then reads which epoch each tab's histogram names once the page says the run ended.
A tab that stays on another epoch for 20 s is a failure. Run it with the cores busy (e.g. two
`python -c "while True: ..."` loops) to find the races a loaded CI machine finds:

    python bench/follow_to_end.py [--trials 16] [--viewers 3] [--epochs 20] [--epoch-s 0.25]

Session 10 found with it that a slider mounted again by the browser as the run ended started at
epoch 0 (3 of 84 tabs before the fix in ui/epoch_picker.py, 0 of 80 after).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e_app import (  # noqa: E402
    CHROMIUM_ARGS,
    chromium_path,
    histogram_title,
    streamlit_server,
    wait_for_app,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--viewers", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--epoch-s", type=float, default=0.25, help="seconds per fake epoch")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bnviz-follow-"))
    os.environ["BNVIZ_HOME"] = str(home)  # this process writes the runs the server shows
    os.environ["BNVIZ_FAKE_EPOCH_S"] = str(args.epoch_s)
    from playwright.sync_api import sync_playwright

    from bnviz.presets import PRESETS
    from bnviz.store import RunStore
    from tests.fake_trainer import train as fake_train
    from ui import routes

    config = PRESETS["seed001-circles-after-fast"].config.with_updates({"training.epochs": args.epochs})
    wanted = f"epoch {args.epochs}"
    failed = 0
    with streamlit_server(home, env={"BNVIZ_EXECUTOR": "none"}) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for trial in range(args.trials):
            with RunStore() as store:
                run_id = store.create_run(config, owner="bench", name=f"trial {trial}", status="running")
                writer = _write_in_background(fake_train, store, run_id, config)
                tabs = [browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                        for _ in range(args.viewers)]
                for tab in tabs:
                    tab.goto(routes.url("run", current=url, run=run_id))
                for tab in tabs:
                    wait_for_app(tab)
                writer.join()
                seen = [_last_histogram(tab, wanted) for tab in tabs]
                for tab in tabs:
                    tab.context.close()
            bad = [t for t in seen if not t.endswith(wanted)]
            failed += len(bad)
            print(f"trial {trial}: {'ok' if not bad else 'FAILED'} {seen}", flush=True)
    print(f"{failed} of {args.trials * args.viewers} tabs did not reach {wanted}; server log: {home / 'streamlit.log'}")


def _write_in_background(trainer, store, run_id: str, config) -> threading.Thread:
    """The run's events, written as a worker would, on a thread of this process."""
    thread = threading.Thread(target=trainer, args=(config,),
                              kwargs={"sink": lambda e: store.append_event(run_id, e), "run_id": run_id})
    thread.start()
    return thread


def _last_histogram(tab, wanted: str, timeout: float = 20) -> str:
    """The histogram title a tab settles on once its page says the run ended ("" if none)."""
    tab.get_by_text("succeeded").first.wait_for(timeout=60_000)
    deadline = time.monotonic() + timeout
    while True:
        title = histogram_title(tab)
        if title.endswith(wanted) or time.monotonic() > deadline:
            return title
        time.sleep(0.3)


if __name__ == "__main__":
    main()
