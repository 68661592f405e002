"""How much does watching a run cost? Poll latency, and training slowdown under 20 pollers.

    python bench/bench_polling.py [--epochs 6] [--pollers 20]

1. A 100-epoch run of a 10-block model (10 x 7 positions x 64 bins per probe, 101 probes)
   is written to a fresh store from synthetic events; then one poll (`snapshot`, as a page
   does) is timed while it is live (nothing new; one new epoch) and once it has finished, and
   the first read of it in a fresh process.
2. The same small-but-nontrivial config is trained by a worker process alone and with N
   threads (as N viewers of a web server) each polling it once a second.
Prints lines ready to paste into a note.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bnviz.config import ExperimentConfig
from bnviz.jobs import JobManager
from bnviz.jobs.supervisor import LocalWorkers
from bnviz.store import RunStore
from tests.fake_events import synthetic_events


def _ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"{statistics.median(values) * 1e3:.3f} ms median, {p95 * 1e3:.3f} ms p95"


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _timed(call, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return out


def bench_poll_cost(home: Path) -> None:
    events = list(synthetic_events(100, blocks=10, per_block=7, bins=64, steps=50, log_every=5))
    config = ExperimentConfig.from_dict({"model": {"hidden": [50] * 10, "norm": {"placement": "before"}},
                                         "training": {"epochs": 100}})
    store = RunStore(home)
    manager = JobManager(store)
    run_id = store.create_run(config, status="running")
    last_epoch = max(i for i, e in enumerate(events) if e["type"] == "epoch")
    t = time.perf_counter()
    for event in events[:last_epoch]:
        store.append_event(run_id, event)
    written = time.perf_counter() - t
    manager.snapshot(run_id)
    live_same = _timed(lambda: manager.snapshot(run_id), 300)
    new_epoch = []
    for event in events[last_epoch:-1]:  # the last epoch arrives: the next poll reads only its rows
        store.append_event(run_id, event)
        new_epoch += _timed(lambda: manager.snapshot(run_id), 1)
    store.append_event(run_id, events[-1])
    manager.snapshot(run_id)
    stored_snap = _timed(lambda: manager.snapshot(run_id), 300)

    store.checkpoint()
    size = sum(p.stat().st_size for p in home.glob("runs.db*"))
    reader = JobManager(RunStore(home))  # a fresh process's view: nothing cached
    t = time.perf_counter()
    reader.snapshot(run_id)
    first = time.perf_counter() - t
    record = _timed(lambda: reader.store.get_record(run_id), 3)

    print(f"stored 100-epoch run (10 blocks x 7 positions x 64 bins, 101 probes, 1000 batch points): "
          f"database file {size / 1e6:.2f} MB, written event by event in {written:.1f} s")
    print(f"  poll a live 100-epoch run: nothing new {_ms(live_same)}; "
          f"after each event of the last epoch {_ms(new_epoch)}")
    print(f"  poll a finished run: {_ms(stored_snap)}")
    print(f"  first read of a finished run in a process (decode all 101 probes): {first * 1e3:.0f} ms "
          f"(RunStore.get_record: {statistics.median(record) * 1e3:.0f} ms)")


def train_once(manager: JobManager, config: ExperimentConfig, pollers: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    done = threading.Event()
    run_id = manager.submit(config, fresh=True).run_id

    def poll() -> None:
        while not done.is_set():
            t = time.perf_counter()
            manager.snapshot(run_id)
            with lock:
                latencies.append(time.perf_counter() - t)
            done.wait(1.0)

    threads = [threading.Thread(target=poll, daemon=True) for _ in range(pollers)]
    for i, thread in enumerate(threads):
        thread.start()
        time.sleep(1.0 / max(1, pollers) * (i > 0))  # spread the pollers over the second
    status = manager.wait(run_id)
    done.set()
    for thread in threads:
        thread.join()
    assert status == "succeeded", status
    return manager.store.get_record(run_id)["summary"]["wall_time_s"], latencies


def bench_training(home: Path, epochs: int, pollers: int, repeats: int) -> None:
    config = ExperimentConfig.from_dict({
        "dataset": {"name": "circles", "n_train": 4000, "n_test": 1000},
        "model": {"hidden": [64, 64, 64], "norm": {"placement": "before"}},
        "training": {"optimizer": "adam", "batch_size": 32, "epochs": epochs},
        "instrument": {"probe_size": 256, "log_every": 5},
    })
    store = RunStore(home)
    workers = LocalWorkers(store, n=1).start()
    manager = JobManager(store)
    try:
        train_once(manager, config, 0)  # warm-up: start-up and first-run costs are not what we measure
        alone, polled, latencies = [], [], []
        for _ in range(repeats):  # interleaved, to even out drift
            alone.append(train_once(manager, config, 0)[0])
            wall, lat = train_once(manager, config, pollers)
            polled.append(wall)
            latencies += lat
    finally:
        workers.stop()
    a, p = statistics.median(alone), statistics.median(polled)
    print(f"training circles n=4000, MLP 3x64 BN-before, batch 32, {epochs} epochs ({epochs * 125} steps) "
          f"in a worker process, median of {repeats} interleaved runs:")
    print(f"  alone {a:.2f} s; with {pollers} pollers at 1 Hz {p:.2f} s; ratio {p / a:.3f} "
          f"(runs: alone {_list(alone)}; polled {_list(polled)})")
    print(f"  poll (snapshot) while training: {_ms(latencies)} over {len(latencies)} polls")
    print(f"  load average during the benchmark: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"(other processes on the machine add noise to the wall times)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(f"bnviz polling benchmark: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{platform.machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_poll_cost(Path(tmp) / "poll")
        bench_training(Path(tmp) / "train", args.epochs, args.pollers, args.repeats)


if __name__ == "__main__":
    main()
