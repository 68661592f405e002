"""What does `bnviz.watch` cost a user's own fit()? The tutorials' code with and without the callback.

    python bench/bench_watch.py [--models circles mnist] [--backends tensorflow jax] [--repeats 3]

Two of the tutorials' models, as their authors wrote them (tests/watch_checks.py): the two-circles MLP
with BN after the activation (tutorial 001: 500 points, 100 epochs, batch 32, validation on the other 500)
and the MNIST CNN with BN (tutorial 002: 8,000 digits of ../shared/datasets/mnist, batch 16, 3 epochs,
validation on 2,000; random pixels of the same shape when the digits are missing). Each arm runs in its
own process on the backend named, plain `fit` or the same `fit` with `callbacks=[bnviz.watch(...,
probe=(x[:256], y[:256]))]` at its default settings (probe_every="auto": every epoch while probing takes
at most 3 % of fit's time, its first compile included; a batch point every 10 batches)
recording into a store that already exists, as the dashboard's does. Only `fit` is timed; imports,
data and model building are not. fit() returns before a short fit's last probes are written (they wait
for the first epoch, whose compile they would slow): the time until the run is completely recorded
(`callback.wait()`) is printed too, as "recorded". Arms alternate (plain, watch, plain, ...) so machine noise hits both;
the medians are compared. Target: watch / plain <= 1.05. CPU time (all threads) is printed too: on a
shared machine it says what the callback costs when no core is free for its background threads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
MNIST = REPO.parent / "shared" / "datasets" / "mnist"
EPOCHS = {"circles": 100, "mnist": 3}


def circles(epochs: int):
    """Tutorial 001's data and its BN-after model."""
    from sklearn.datasets import make_circles

    from tests.watch_checks import tutorial_001

    x, y = make_circles(n_samples=1000, noise=0.1, random_state=1)
    x = x.astype("float32")
    train_x, test_x, train_y, test_y = x[:500], x[500:], y[:500], y[500:]
    model, _, _, _ = tutorial_001("after")
    return model, train_x, train_y, {"validation_data": (test_x, test_y), "epochs": epochs}


def mnist(epochs: int):
    """Tutorial 002's CNN with BN on 8,000 raw-pixel digits (random pixels without the real ones)."""
    import numpy as np
    from keras.utils import to_categorical

    from tests.watch_checks import tutorial_002

    images, labels = MNIST / "t10k-images-idx3-ubyte.gz", MNIST / "t10k-labels-idx1-ubyte.gz"
    if images.is_file() and labels.is_file():
        from bnviz.data.loading import read_idx_gz

        x, y = read_idx_gz(images).astype("float32").reshape(-1, 28, 28, 1), read_idx_gz(labels)
    else:
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, 256, (10_000, 28, 28, 1)).astype("float32"), rng.integers(0, 10, 10_000)
    y = to_categorical(y, 10)
    model, _, _, _ = tutorial_002(True)
    return model, x[:8000], y[:8000], {"validation_data": (x[8000:], y[8000:]), "epochs": epochs, "batch_size": 16}


def run_arm(arm: str, model_name: str, epochs: int, probe_every: str = "auto") -> dict:
    import keras

    import bnviz
    from bnviz.watcher import callback  # noqa: F401  (imports happen before the clock, as keras' do)

    keras.utils.set_random_seed(0)
    model, x, y, fit_kwargs = {"circles": circles, "mnist": mnist}[model_name](epochs)
    callbacks = []
    start, cpu = time.perf_counter(), time.process_time()
    if arm == "watch":
        every = probe_every if probe_every == "auto" else int(probe_every)
        callbacks = [bnviz.watch(name=f"bench {model_name}", probe=(x[:256], y[:256]), probe_every=every)]
    history = model.fit(x, y, verbose=0, callbacks=callbacks, **fit_kwargs)
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    if callbacks:
        callbacks[0].wait()  # the last probes and the run's end, written after fit() returned
    recorded, recorded_cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu_s": cpu_s, "recorded_s": recorded, "recorded_cpu_s": recorded_cpu,
            "backend": keras.config.backend(),
            "val_accuracy": history.history["val_accuracy"][-1]}


def spawn(arm: str, model: str, backend: str, epochs: int, home: str, probe_every: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO),
           "BNVIZ_HOME": home}
    done = subprocess.run([sys.executable, __file__, "--arm", arm, "--models", model, "--epochs", str(epochs),
                           "--probe-every", str(probe_every)],
                          env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{arm} {model} on {backend} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(EPOCHS), choices=list(EPOCHS))
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, help="override the models' epochs (a quick check)")
    parser.add_argument("--probe-every", default="auto",
                        help="bnviz.watch's probe_every: auto (its default) or a number of epochs")
    parser.add_argument("--arm", choices=("plain", "watch"), help=argparse.SUPPRESS)  # inside a child process
    args = parser.parse_args()
    if args.arm:
        print(json.dumps(run_arm(args.arm, args.models[0], args.epochs, args.probe_every)))
        return

    from bnviz.store import RunStore

    with tempfile.TemporaryDirectory() as home:
        RunStore(home).close()  # the store exists, as the dashboard's does
        print(f"{os.cpu_count()} CPU cores; each arm in its own process; {args.repeats} repeat(s); only fit() timed;"
              f" probe_every={args.probe_every}")
        summary = []
        for backend in args.backends:
            for model in args.models:
                epochs = args.epochs or EPOCHS[model]
                times: dict[str, list[float]] = {"plain": [], "watch": []}
                cpu: dict[str, list[float]] = {"plain": [], "watch": []}
                recorded: dict[str, list[float]] = {"plain": [], "watch": []}
                for repeat in range(args.repeats):
                    for arm in ("plain", "watch") if repeat % 2 == 0 else ("watch", "plain"):
                        r = spawn(arm, model, backend, epochs, home, args.probe_every)
                        times[arm].append(r["seconds"])
                        cpu[arm].append(r["cpu_s"])
                        recorded[arm].append(r["recorded_s"])
                        print(f"{backend:10s} {model:7s} ({epochs} epochs) repeat {repeat + 1} {arm:5s}: "
                              f"{r['seconds']:7.2f}s, CPU {r['cpu_s']:7.2f}s, recorded {r['recorded_s']:7.2f}s "
                              f"(val. acc. {r['val_accuracy']:.3f})", flush=True)
                plain, watched = statistics.median(times["plain"]), statistics.median(times["watch"])
                plain_cpu, watched_cpu = statistics.median(cpu["plain"]), statistics.median(cpu["watch"])
                done = statistics.median(recorded["watch"])
                summary.append(f"{backend:10s} {model:7s} ({epochs} epochs): plain {plain:.2f}s, watch {watched:.2f}s,"
                               f" ratio {watched / plain:.3f} (target <= 1.05); CPU time ratio "
                               f"{watched_cpu / plain_cpu:.3f}; until recorded {done:.2f}s, ratio {done / plain:.3f}")
        print("\nmedians:")
        print("\n".join(summary))


if __name__ == "__main__":
    main()
