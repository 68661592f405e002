"""How much does watching a run cost? Poll latency, and training slowdown under 20 pollers.

    python bench/bench_polling.py [--epochs 6] [--pollers 20]

1. A 100-epoch run of a 10-block model (10 x 7 positions x 64 bins per probe, 101 probes)
   is written to a fresh store from synthetic events; then one poll (`snapshot` and
   `changes`) is timed for it as a finished run (read from the store, cached) and as a
   live run (in memory).
2. The same small-but-nontrivial config is trained through a JobManager alone and with
   N threads each polling it once a second (snapshot + changes, as a page does).
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
    gate = threading.Event()

    def replay(cfg, *, sink, stop_event=None, run_id=None, **_):
        for event in events[:-1]:
            sink(event)
        gate.wait()  # stays "running" with 100 epochs in memory until released
        sink(events[-1])
        return {"status": "succeeded", "summary": events[-1]["summary"]}

    store = RunStore(home)
    manager = JobManager(store=store, trainer=replay, save_models=False)
    t = time.perf_counter()
    run_id = manager.submit(config).run_id
    while manager.snapshot(run_id).probes_count < 101:
        time.sleep(0.01)
    written = time.perf_counter() - t
    live_snap = _timed(lambda: manager.snapshot(run_id), 300)
    end = manager.snapshot(run_id).cursor
    live_changes = _timed(lambda: manager.changes(run_id, end), 300)
    last_epoch = (end.batches - 10, end.epochs - 1, end.probes - 1)
    live_tail = _timed(lambda: manager.changes(run_id, last_epoch), 300)
    gate.set()
    manager.wait(run_id)
    manager.shutdown()

    store._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = sum(p.stat().st_size for p in home.glob("runs.db*"))
    reader = JobManager(store=RunStore(home), trainer=replay)  # a fresh process's view: nothing cached
    t = time.perf_counter()
    reader.snapshot(run_id)
    first = time.perf_counter() - t
    stored_snap = _timed(lambda: reader.snapshot(run_id), 300)
    stored_changes = _timed(lambda: reader.changes(run_id, end), 300)
    record = _timed(lambda: reader.store.get_record(run_id), 3)

    print(f"stored 100-epoch run (10 blocks x 7 positions x 64 bins, 101 probes, 1000 batch points): "
          f"database file {size / 1e6:.2f} MB, written event by event in {written:.1f} s")
    print(f"  poll a live 100-epoch run (in memory): snapshot {_ms(live_snap)}; "
          f"changes, nothing new {_ms(live_changes)}; changes, last epoch {_ms(live_tail)}")
    print(f"  poll a finished run (store + cache): snapshot {_ms(stored_snap)}; "
          f"changes, nothing new {_ms(stored_changes)}")
    print(f"  first read of a finished run in a process (decode all 101 probes): {first * 1e3:.0f} ms "
          f"(RunStore.get_record: {statistics.median(record) * 1e3:.0f} ms)")


def train_once(manager: JobManager, config: ExperimentConfig, pollers: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    done = threading.Event()
    run_id = manager.submit(config, fresh=True).run_id
    t0 = time.perf_counter()

    def poll() -> None:
        cursor = None
        while not done.is_set():
            t = time.perf_counter()
            manager.snapshot(run_id)
            _, cursor = manager.changes(run_id, cursor)
            with lock:
                latencies.append(time.perf_counter() - t)
            done.wait(1.0)

    threads = [threading.Thread(target=poll, daemon=True) for _ in range(pollers)]
    for i, thread in enumerate(threads):
        thread.start()
        time.sleep(1.0 / max(1, pollers) * (i > 0))  # spread the pollers over the second
    info = manager.wait(run_id)
    wall = time.perf_counter() - t0
    done.set()
    for thread in threads:
        thread.join()
    assert info is not None and info.state == "succeeded", info
    return wall, latencies


def bench_training(home: Path, epochs: int, pollers: int, repeats: int) -> None:
    config = ExperimentConfig.from_dict({
        "dataset": {"name": "circles", "n_train": 4000, "n_test": 1000},
        "model": {"hidden": [64, 64, 64], "norm": {"placement": "before"}},
        "training": {"optimizer": "adam", "batch_size": 32, "epochs": epochs},
        "instrument": {"probe_size": 256, "log_every": 5},
    })
    manager = JobManager(store=RunStore(home))
    train_once(manager, config, 0)  # warm-up: TF start-up and first-run costs are not what we measure
    alone, polled, latencies = [], [], []
    for _ in range(repeats):  # interleaved, to even out drift
        alone.append(train_once(manager, config, 0)[0])
        wall, lat = train_once(manager, config, pollers)
        polled.append(wall)
        latencies += lat
    manager.shutdown()
    a, p = statistics.median(alone), statistics.median(polled)
    print(f"training circles n=4000, MLP 3x64 BN-before, batch 32, {epochs} epochs "
          f"({epochs * 125} steps, TF threads {manager.tf_threads}), median of {repeats} interleaved runs:")
    print(f"  alone {a:.2f} s; with {pollers} pollers at 1 Hz {p:.2f} s; ratio {p / a:.3f} "
          f"(runs: alone {_list(alone)}; polled {_list(polled)})")
    print(f"  poll (snapshot + changes) while training: {_ms(latencies)} over {len(latencies)} polls; "
          f"all polls together took {sum(latencies):.3f} s = {sum(latencies) / sum(polled):.2%} "
          f"of the polled runs' wall time")
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
