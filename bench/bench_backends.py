"""Plain Keras vs bnviz, on TensorFlow and on JAX, each run in its own process (one backend per process).

    python bench/bench_backends.py [--presets seed001-circles-after seed002-mnist-bn] [--epochs N] [--repeats R]

Arms, per preset: (a) plain-tf: the tutorial's model trained by plain `model.fit()` +
`evaluate()` on TensorFlow (as bench/bench_instrumentation.py builds it: the same layers,
seed, data, batch size and epochs, no callbacks); (b) bnviz-tf: `bnviz.train.training.train` on
TensorFlow (probes every epoch, batch logging, stop checks); (c) bnviz-jax, with an empty JAX
compilation cache (a fresh BNVIZ_HOME); bnviz-jax-warm, the same again with the programs the
previous arm cached (what a repeated preset costs); plain-jax, so bnviz's own cost can be
given per backend; and plain-jax-xla, plain-jax with the XLA settings bnviz's JAX workers use on a
CPU (bnviz.train.backends._JAX_CPU_TUNING), which separates what those settings gain from what the
instrumentation costs. Each arm is timed inside its process from model
build to the end of evaluation (imports and data loading excluded; the whole process's wall
time and the CPU time of the timed part are printed too; on a busy machine, compare CPU times).
Arms alternate within a repeat; medians are compared.
Targets: (c)/(a) <= 0.3 on circles; bnviz/plain <= 1.05 on each backend.
MNIST comes from the MNIST test set's IDX files (bench/prepare_mnist.py --source) (8,000/2,000 split).
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

ARMS = {"plain-tf": ("plain", "tensorflow"), "bnviz-tf": ("bnviz", "tensorflow"),
        "bnviz-jax": ("bnviz", "jax"), "bnviz-jax-warm": ("bnviz", "jax"), "plain-jax": ("plain", "jax"),
        "plain-jax-xla": ("plain", "jax")}
DEFAULT_EPOCHS = {"seed001-circles-after": 100, "seed002-mnist-bn": 3}


def run_arm(kind: str, preset: str, epochs: int | None) -> dict:
    """Inside the arm's process: load the data, then time one training."""
    import keras

    from bnviz.data.loading import load_dataset
    from bnviz.presets import get_preset

    backend = keras.config.backend()
    config = get_preset(preset).config.with_updates({
        "training.backend": backend, "training.epochs": epochs or DEFAULT_EPOCHS.get(preset) or 1})
    data = load_dataset(config.dataset)
    keras.utils.set_random_seed(0)  # its first call imports TensorFlow when installed, on any backend: an import
    cpu_start = time.process_time()
    if kind == "plain":
        sys.path.insert(0, str(REPO / "bench"))
        from bench_instrumentation import plain_fit

        from bnviz.train import backends

        seconds = plain_fit(config, data)  # no bnviz set-up (threads, compilation cache): the tutorial's code
        gpus = backends.list_gpus()
        device, accuracy = f"GPU ({gpus[0]})" if gpus else "CPU", None
    else:
        from bnviz.train import boundary, callback, probes  # noqa: F401  (imports happen before the clock, as keras' do)
        from bnviz.train.training import train

        start = time.perf_counter()
        record = train(config, dataset=data)
        seconds = time.perf_counter() - start
        assert record["status"] == "succeeded", record["summary"]
        device, accuracy = record["summary"]["device"], record["summary"]["final"].get("test_accuracy")
    return {"seconds": seconds, "cpu_s": time.process_time() - cpu_start, "backend": backend, "device": device,
            "test_accuracy": accuracy,
            "epochs": config.training.epochs}


def spawn(arm: str, preset: str, epochs: int | None, data_dir: str | None, home: str) -> dict:
    kind, backend = ARMS[arm]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO),
           "BNVIZ_HOME": home}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    if arm == "plain-jax-xla":
        from bnviz.train import backends

        env["XLA_FLAGS"] = backends.with_xla_flags(env.get("XLA_FLAGS", ""), list(backends._jax_cpu_tuning()[0]))
    if data_dir:
        env["BNVIZ_DATA_DIR"] = data_dir
    cmd = [sys.executable, __file__, "--arm", kind, "--presets", preset]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{arm} on {preset} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(DEFAULT_EPOCHS))
    parser.add_argument("--epochs", type=int, help="override every preset's epochs (a quick check)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--arm", choices=("plain", "bnviz"), help=argparse.SUPPRESS)  # inside a child process
    args = parser.parse_args()
    if args.arm:
        print(json.dumps(run_arm(args.arm, args.presets[0], args.epochs)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = None
        if any("mnist" in p for p in args.presets):
            from prepare_mnist import prepare

            data_dir = str(prepare(Path(tmp)))
        print(f"{os.cpu_count()} CPU cores; arms in their own processes, {args.repeats} repeat(s)")
        for preset in args.presets:
            times: dict[str, list[float]] = {arm: [] for arm in args.arms}
            cpu: dict[str, list[float]] = {arm: [] for arm in args.arms}
            for repeat in range(args.repeats):
                home = tempfile.mkdtemp(dir=tmp)  # bnviz-jax: a cold compilation cache; bnviz-jax-warm reuses it
                for arm in args.arms:
                    r = spawn(arm, preset, args.epochs, data_dir, home)
                    times[arm].append(r["seconds"])
                    cpu[arm].append(r["cpu_s"])
                    acc = f", test acc. {r['test_accuracy']:.3f}" if r["test_accuracy"] is not None else ""
                    print(f"{preset} ({r['epochs']} epochs) repeat {repeat + 1} {arm:9s}: {r['seconds']:7.2f}s "
                          f"(CPU {r['cpu_s']:.2f}s, process {r['process_s']:.1f}s) on {r['device']}{acc}", flush=True)
            med = {arm: statistics.median(v) for arm, v in times.items()}
            med_cpu = {arm: statistics.median(v) for arm, v in cpu.items()}
            ratios = [("bnviz-jax / plain-tf (c)/(a), target <= 0.3 on circles", "bnviz-jax", "plain-tf"),
                      ("bnviz-jax-warm / plain-tf (compiled programs cached by an earlier run)", "bnviz-jax-warm",
                       "plain-tf"),
                      ("bnviz-tf / plain-tf, target <= 1.05", "bnviz-tf", "plain-tf"),
                      ("bnviz-jax / plain-jax, target <= 1.05", "bnviz-jax", "plain-jax"),
                      ("bnviz-jax-warm / plain-jax", "bnviz-jax-warm", "plain-jax"),
                      ("bnviz-jax / plain-jax-xla (the instrumentation alone)", "bnviz-jax", "plain-jax-xla"),
                      ("plain-jax-xla / plain-jax (bnviz's XLA settings alone)", "plain-jax-xla", "plain-jax"),
                      ("plain-jax / plain-tf", "plain-jax", "plain-tf")]
            print(f"{preset}: medians " + ", ".join(f"{a} {s:.2f}s" for a, s in med.items()))
            for label, num, den in ratios:
                if num in med and den in med:
                    print(f"  {label}: {med[num] / med[den]:.3f} (CPU time: {med_cpu[num] / med_cpu[den]:.3f})")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "bench"))
    main()
