"""Job dispatch overhead, local worker processes against Ray, on this machine.

    python bench/bench_dispatch.py [--repeats 5] [--browser [--clicks 3]] [--job-cost]

For each executor (BNVIZ_EXECUTOR=local, then ray with a local Ray instance of 2 CPUs) a
warm-up run trains first (Keras imported in the process that will train), then `--repeats`
tiny runs (circles, 2 epochs) are submitted one after another. Printed per executor, median
and max over the repeats: submit -> the trainer's start event in the store (the store's own
clocks: runs.created and runs.started), and submit -> first batch readable in the store
(polled every 10 ms). `--browser` also measures what a person sees, in headless Chromium on a
real `streamlit run` server: click Train -> first point on the live chart, `--clicks` times
after one warm-up run through the same page. SQLite under a temporary BNVIZ_HOME, or
BNVIZ_DATABASE_URL when set. `--job-cost` measures what one classroom run costs, the basis of
the capacity table in docs/deploy.md: `python -m bnviz train --preset seed001-circles-after`
per backend, alone and two at once (wall time including the process start and imports; peak
memory of one training process, VmHWM).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server_process import config  # noqa: E402

RAY_INIT = {"num_cpus": 2, "object_store_memory": 80 * 1024 * 1024}


def _executor(name: str, store):
    if name == "local":
        from bnviz.jobs.supervisor import LocalWorkers

        return LocalWorkers(store, n=1)
    from bnviz.jobs.ray_executor import RayExecutor

    return RayExecutor(store, n=1, init=RAY_INIT)


def dispatch(name: str, repeats: int) -> dict:
    from bnviz.jobs import JobManager
    from bnviz.store import RunStore

    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        started = time.perf_counter()
        manager = JobManager(store, _executor(name, store)).start()
        warm = manager.submit(config(2, seed=1000), fresh=True)
        assert manager.wait(warm.run_id, timeout=600) == "succeeded"
        ready_s = time.perf_counter() - started
        to_start, to_batch = [], []
        for i in range(repeats):
            submitted = time.time()
            run = manager.submit(config(2, seed=2000 + i), fresh=True)
            while True:
                with store.read_transaction() as con:
                    n = con.execute("SELECT n_batches FROM runs WHERE id=?", (run.run_id,)).fetchone()[0]
                if n:
                    to_batch.append(time.time() - submitted)
                    break
                time.sleep(0.01)
            assert manager.wait(run.run_id, timeout=600) == "succeeded"
            with store.read_transaction() as con:
                created, began = con.execute("SELECT created, started FROM runs WHERE id=?",
                                             (run.run_id,)).fetchone()
            to_start.append(began - created)
        manager.shutdown()
        store.close()
    return {"executor": name, "repeats": repeats, "start_to_first_run_done_s": round(ready_s, 2),
            "submit_to_start_event_s": _stats(to_start), "submit_to_first_batch_s": _stats(to_batch)}


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def browser(name: str, clicks: int = 3) -> dict:
    from playwright.sync_api import sync_playwright

    from bnviz.presets import PRESETS
    from tests.e2e_app import CHROMIUM_ARGS, chromium_path, curve_points, streamlit_server, wait_for_app
    from ui import routes

    base = PRESETS["seed001-circles-after-fast"].config
    with tempfile.TemporaryDirectory() as tmp, \
            streamlit_server(Path(tmp) / "home", env={"BNVIZ_EXECUTOR": name, "PYTHONPATH": str(ROOT)}) as url, \
            sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        result: dict[str, list] = {"warm-up": [], "measured": []}
        for i in range(clicks + 1):
            label, seed = ("warm-up" if i == 0 else "measured"), 101 + i
            page.goto(routes.url("experiment", current=url, cfg=base.with_updates({"training.seed": seed}).encode()))
            wait_for_app(page)
            page.get_by_text("Your model").wait_for(timeout=120_000)
            clicked = time.time()
            page.get_by_role("button", name="Train", exact=True).click()
            page.wait_for_url("**?run=*", timeout=120_000)
            first = None
            while time.time() - clicked < 600:
                points = curve_points(page)
                if first is None and (points["batches"] > 0 or points["epochs"] > 0):
                    first = time.time() - clicked
                if page.get_by_text("succeeded").count():
                    break
                page.wait_for_timeout(50)
            result[label].append(round(first, 2) if first is not None else None)
        chromium.close()
    return {"executor": name, "click_to_first_point_s": result["measured"], "first_click_cold_s": result["warm-up"][0]}


def job_cost(backend: str, preset: str = "seed001-circles-after") -> dict:
    import os
    import subprocess

    def peak_mb(pid: int) -> float:
        try:
            with open(f"/proc/{pid}/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
        except (OSError, StopIteration):
            return 0.0

    def train(n: int) -> tuple[float, float]:
        started, peak = time.perf_counter(), 0.0
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "BNVIZ_HOME": tmp, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
            cmd = [sys.executable, "-m", "bnviz", "train", "--preset", preset, "--set", f"training.backend={backend}",
                   "--quiet", "--no-store"]
            procs = [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL) for _ in range(n)]
            while any(proc.poll() is None for proc in procs):
                peak = max([peak, *(peak_mb(proc.pid) for proc in procs)])
                time.sleep(0.2)
            assert all(proc.returncode == 0 for proc in procs)
        return time.perf_counter() - started, peak

    alone, rss = train(1)
    together, _ = train(2)
    return {"backend": backend, "preset": preset, "cores": os.cpu_count(), "one_run_s": round(alone, 1),
            "two_at_once_s": round(together, 1), "peak_rss_mb": round(rss)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--browser", action="store_true", help="also click Train in Chromium (slower)")
    parser.add_argument("--clicks", type=int, default=3, help="measured clicks per executor with --browser")
    parser.add_argument("--job-cost", action="store_true", help="only: what one classroom run costs, per backend")
    args = parser.parse_args()
    if args.job_cost:
        for backend in ("jax", "tensorflow"):
            print(json.dumps(job_cost(backend)), flush=True)
        return
    for name in ("local", "ray"):
        print(json.dumps(dispatch(name, args.repeats)), flush=True)
    if args.browser:
        for name in ("local", "ray"):
            print(json.dumps(browser(name, args.clicks)), flush=True)


if __name__ == "__main__":
    main()
