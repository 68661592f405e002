"""What does instrumentation cost? A preset trained through bnviz vs the same model by plain fit().

    python bench/bench_instrumentation.py [--preset seed001-circles-after] [--repeats 3] [--data-dir DIR]

Both sides build the same model from the same config and seed and train on the same data
with the same batch size and epochs; bnviz adds its callback (probes every epoch, batch
logging, stop/divergence checks). Runs alternate (plain, bnviz, plain, ...) so machine
noise hits both, and the medians are compared. Target: ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def plain_fit(config, data) -> float:
    """The model bnviz would build, trained by model.fit() with no callbacks."""
    import keras

    from bnviz.train import models
    from bnviz.train.training import prepare_labels

    t = config.training
    loss = models.resolve_loss(config, data.n_classes)
    y_train = prepare_labels(data.y_train, loss, data.n_classes)
    y_test = prepare_labels(data.y_test, loss, data.n_classes)
    start = time.perf_counter()
    keras.utils.set_random_seed(t.seed)
    model = models.build_model(config, data.input_shape, data.n_classes)
    model.compile(optimizer=models.make_optimizer(config), loss=loss, metrics=["accuracy"])
    kwargs = {"validation_data": (data.x_test, y_test)} if t.validation == "test" else {}
    if t.validation == "split":
        kwargs = {"validation_split": t.validation_split}
    model.fit(data.x_train, y_train, batch_size=t.batch_size, epochs=t.epochs, verbose=0, **kwargs)
    model.evaluate(data.x_test, y_test, batch_size=max(t.batch_size, 256), verbose=0)
    return time.perf_counter() - start


def bnviz_fit(config, data) -> float:
    from bnviz.train.training import train

    start = time.perf_counter()
    record = train(config, dataset=data)
    assert record["status"] == "succeeded", record["summary"]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="seed001-circles-after")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, help="override the preset's epochs")
    parser.add_argument("--data-dir", help="BNVIZ_DATA_DIR for MNIST presets")
    args = parser.parse_args()
    if args.data_dir:
        os.environ["BNVIZ_DATA_DIR"] = args.data_dir

    from bnviz.data.loading import load_dataset
    from bnviz.presets import get_preset
    from bnviz.train import backends

    print(f"device: {backends.configure()}")
    config = get_preset(args.preset).config
    if args.epochs:
        config = config.with_updates({"training.epochs": args.epochs})
    data = load_dataset(config.dataset)
    plain_fit(config.with_updates({"training.epochs": 1}), data)  # warm up TensorFlow once for both
    plain, instrumented = [], []
    for i in range(args.repeats):
        plain.append(plain_fit(config, data))
        instrumented.append(bnviz_fit(config, data))
        print(f"repeat {i + 1}: plain {plain[-1]:.2f}s  bnviz {instrumented[-1]:.2f}s")
    p, b = statistics.median(plain), statistics.median(instrumented)
    print(f"preset {args.preset}, {config.training.epochs} epochs, probe batch {config.instrument.probe_size}, "
          f"log every {config.instrument.log_every} batches")
    print(f"median plain fit: {p:.2f}s   median bnviz train: {b:.2f}s   ratio: {b / p:.3f}")


if __name__ == "__main__":
    main()
