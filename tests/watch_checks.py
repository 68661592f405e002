"""`bnviz.watch` on the four Keras BN tutorials' own model code, in whatever backend this process has.

pytest runs these in its own (TensorFlow) process by importing this module, and on JAX in a
subprocess (a process holds one Keras backend):

    KERAS_BACKEND=jax BNVIZ_HOME=DIR python tests/watch_checks.py   # prints the results as JSON

Each model below is the tutorial's code as its text writes it (../shared/tutorials/, imports
included), only trained a few steps on small random data of the tutorial's shapes.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


# --- the tutorials' model code ---------------------------------------------------------------------

def tutorial_000(bn: bool):
    """000: Hands-On Guide To Implement Batch Normalization (MNIST CNN, with and without BN)."""
    import tensorflow
    from tensorflow.keras.layers import BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D
    from tensorflow.keras.models import Sequential

    input_shape, no_classes = (28, 28, 1), 10
    if not bn:
        model = Sequential()
        model.add(Conv2D(32, kernel_size=(3, 3), activation='relu', input_shape=input_shape))
        model.add(MaxPooling2D(pool_size=(2, 2)))
        model.add(Conv2D(64, kernel_size=(3, 3), activation='relu'))
        model.add(MaxPooling2D(pool_size=(2, 2)))
        model.add(Flatten())
        model.add(Dense(256, activation='relu'))
        model.add(Dense(no_classes, activation='softmax'))
    else:
        model = Sequential()
        model.add(Conv2D(32, kernel_size=(3, 3), activation='relu', input_shape=input_shape))
        model.add(BatchNormalization())
        model.add(MaxPooling2D(pool_size=(2, 2)))
        model.add(BatchNormalization())
        model.add(Conv2D(64, kernel_size=(3, 3), activation='relu'))
        model.add(BatchNormalization())
        model.add(MaxPooling2D(pool_size=(2, 2)))
        model.add(BatchNormalization())
        model.add(Flatten())
        model.add(Dense(256, activation='relu'))
        model.add(BatchNormalization())
        model.add(Dense(no_classes, activation='softmax'))
    model.compile(loss=tensorflow.keras.losses.sparse_categorical_crossentropy,
                  optimizer=tensorflow.keras.optimizers.Adam(),
                  metrics=['accuracy'])
    rng = np.random.default_rng(0)
    return model, rng.random((64, 28, 28, 1), dtype="float32"), rng.integers(0, 10, 64), {"batch_size": 16}


def tutorial_001(arm: str):
    """001: How to Accelerate Learning of Deep Neural Networks With Batch Normalization (two circles):
    the case study without and with BN after the activation, and the snippet with BN before it."""
    from keras.layers import Activation, BatchNormalization, Dense
    from keras.models import Sequential
    from keras.optimizers import SGD

    if arm == "none":
        model = Sequential()
        model.add(Dense(50, input_dim=2, activation='relu', kernel_initializer='he_uniform'))
        model.add(Dense(1, activation='sigmoid'))
    elif arm == "after":
        model = Sequential()
        model.add(Dense(50, input_dim=2, activation='relu', kernel_initializer='he_uniform'))
        model.add(BatchNormalization())
        model.add(Dense(1, activation='sigmoid'))
    else:  # "Use Before or After the Activation Function": BN between Dense(32) and its relu
        model = Sequential()
        model.add(Dense(32, input_dim=2))
        model.add(BatchNormalization())
        model.add(Activation('relu'))
        model.add(Dense(1, activation='sigmoid'))
    opt = SGD(learning_rate=0.01, momentum=0.9)  # the tutorial's `lr=` is `learning_rate=` in Keras 3
    model.compile(loss='binary_crossentropy', optimizer=opt, metrics=['accuracy'])
    rng = np.random.default_rng(1)
    x = rng.normal(size=(128, 2)).astype("float32")
    return model, x, (np.hypot(x[:, 0], x[:, 1]) < 1).astype("int64"), {}


def tutorial_002(bn: bool):
    """002: Understanding Batch Normalization with Keras in Python (MNIST subset, raw pixels)."""
    from keras.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    from keras.models import Sequential
    from keras.optimizers import RMSprop
    from keras.utils import to_categorical

    model= Sequential()
    model.add(Conv2D(32, (3,3), activation="relu", input_shape=(28,28,1)))
    model.add(Conv2D(64, (3,3), activation="relu"))
    if(bn):
        model.add(BatchNormalization())
    model.add(MaxPooling2D((2,2)))
    model.add(Dropout(0.2))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dropout(0.2))
    if(bn):
        model.add(BatchNormalization())
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer=RMSprop(),
        metrics=["accuracy"])
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (48, 28, 28, 1)).astype("float32")  # raw pixels, as the tutorial trains
    return model, x, to_categorical(rng.integers(0, 10, 48), 10), {"batch_size": 16}


def tutorial_003(batch_normalization: bool, activation: str = "sigmoid"):
    """003: Batch Normalization TensorFlow Keras Example (CIFAR-10, sigmoid CNN with and without BN)."""
    from keras.layers import BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D
    from keras.models import Sequential
    from keras.utils import to_categorical

    model = Sequential()
    model.add(Conv2D(32, 3, activation = activation, padding = 'same', input_shape = (32, 32, 3)))
    if batch_normalization: model.add(BatchNormalization())  # noqa: E701
    model.add(Conv2D(32, 3, activation = activation, padding = 'same', kernel_initializer = 'he_uniform'))
    if batch_normalization: model.add(BatchNormalization())  # noqa: E701
    model.add(MaxPooling2D())
    model.add(Conv2D(64, 3, activation = activation, padding = 'same', kernel_initializer = 'he_uniform'))
    if batch_normalization: model.add(BatchNormalization())  # noqa: E701
    model.add(Conv2D(64, 3, activation = activation, padding = 'same', kernel_initializer = 'he_uniform'))
    if batch_normalization: model.add(BatchNormalization())  # noqa: E701
    model.add(MaxPooling2D())
    model.add(Flatten())
    model.add(Dense(128, activation = activation, kernel_initializer = 'he_uniform'))
    model.add(Dense(10, activation = 'softmax'))
    model.compile(
    optimizer = 'rmsprop',
    loss = 'categorical_crossentropy',
    metrics = ['accuracy']
    )
    rng = np.random.default_rng(3)
    return model, rng.random((48, 32, 32, 3), dtype="float32"), to_categorical(rng.integers(0, 10, 48), 10), {
        "batch_size": 16}


def residual_model():
    """Not a tutorial: a functional model with a residual add, a nested Sequential holding a BN layer,
    a LayerNormalization and a GroupNormalization."""
    import keras
    from keras import layers

    block = keras.Sequential([layers.Dense(16, name="inner_dense"), layers.BatchNormalization(name="inner_bn"),
                              layers.Activation("relu", name="inner_relu")], name="block")
    inputs = keras.Input((8,))
    x = layers.Dense(16, activation="relu", name="stem")(inputs)
    h = block(x)
    h = layers.Add(name="residual")([h, x])
    h = layers.LayerNormalization(name="ln")(h)
    h = layers.Reshape((4, 4), name="to_groups")(h)
    h = layers.GroupNormalization(groups=2, name="gn")(h)
    h = layers.Flatten()(h)
    outputs = layers.Dense(3, activation="softmax", name="head")(h)
    model = keras.Model(inputs, outputs, name="residual")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(4)
    return model, (rng.normal(size=(96, 8)) * 3 + 1).astype("float32"), rng.integers(0, 3, 96), {"batch_size": 32}


CASES = {
    "000-none": lambda: tutorial_000(False), "000-bn": lambda: tutorial_000(True),
    "001-none": lambda: tutorial_001("none"), "001-after": lambda: tutorial_001("after"),
    "001-before": lambda: tutorial_001("before"),
    "002-none": lambda: tutorial_002(False), "002-bn": lambda: tutorial_002(True),
    "003-none": lambda: tutorial_003(False), "003-bn": lambda: tutorial_003(True),
    "residual": residual_model,
}


# --- one case: train with bnviz.watch, read the stored run back, check it against the model ------------

def _values(model) -> list[np.ndarray]:
    return [np.array(v.numpy(), copy=True) for v in model.variables]


def _own_bn_numbers(model, layer, x) -> dict:
    """The BN layer's training-mode input and output on the probe batch, computed here without bnviz."""
    import keras
    from keras import ops

    sub = keras.Model(model.inputs, [layer.input, layer.output])
    (inp, out), _ = sub.stateless_call([v.value for v in sub.trainable_variables],
                                       [v.value for v in sub.non_trainable_variables], ops.convert_to_tensor(x),
                                       training=True)
    inp, out = (np.asarray(ops.convert_to_numpy(t), dtype=np.float64) for t in (inp, out))
    inp, out = inp.reshape(-1, inp.shape[-1]), out.reshape(-1, out.shape[-1])
    gamma, beta = np.asarray(layer.gamma.numpy()), np.asarray(layer.beta.numpy())
    x_hat = (out - beta) / gamma  # BN's output before γ/β
    variance = inp.var(axis=0)
    return {"x_hat_mean_abs": float(np.abs(x_hat.mean(axis=0)).max()),
            "x_hat_std_error": float(np.abs(x_hat.std(axis=0) - np.sqrt(variance / (variance + layer.epsilon))).max()),
            "out_mean": float(out.mean()), "out_std": float(out.std()), "mean": inp.mean(axis=0).tolist(),
            "dense": len(layer.input.shape) == 2}


def run_case(name: str, epochs: int = 2) -> dict:
    import keras

    import bnviz
    from bnviz.store import RunStore

    keras.utils.set_random_seed(0)
    model, x, y, fit_kwargs = CASES[name]()
    probe = (x[:32], y[:32])
    callback = bnviz.watch(name=f"watch {name}", probe=probe, probe_every=1)  # every epoch, not a time budget
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        history = model.fit(x, y, epochs=epochs, validation_split=0.25, verbose=0, callbacks=[callback],
                            **fit_kwargs)
    assert callback.wait(timeout=300), "the run's last probes were not written within 5 minutes"
    before = _values(model)
    callback.prober.probe(99)  # a probe after training: must change nothing
    unchanged = all(np.array_equal(a, b) for a, b in zip(before, _values(model)))
    with RunStore() as store:
        record = store.get_record(callback.run_id)
    norm_layers = [layer for layer in _all_layers(model)
                   if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.LayerNormalization,
                                         keras.layers.GroupNormalization))]
    bn_layers = [layer for layer in norm_layers if isinstance(layer, keras.layers.BatchNormalization)]
    first, last = record["probes"][0], record["probes"][-1]
    own = {layer.name: _own_bn_numbers(model, layer, probe[0]) for layer in bn_layers if name != "residual"}
    return {
        "backend": keras.config.backend(), "printed": printed.getvalue(), "run_id": callback.run_id,
        "status": record["status"], "origin": record["origin"], "history": history.history,
        "stored_history": record["history"], "probe_epochs": [p["epoch"] for p in record["probes"]],
        "unchanged": unchanged, "norm_layers": [layer.name for layer in norm_layers],
        "bn_layers": [layer.name for layer in bn_layers], "config": record["config"], "summary": record["summary"],
        "first": first, "last": last, "own": own,
    }


def _all_layers(model) -> list:
    found = []
    for layer in model.layers:
        found += _all_layers(layer) if hasattr(layer, "layers") and layer.layers else [layer]
    return found


def run_all(names=None) -> dict:
    return {name: run_case(name) for name in (names or CASES)}


if __name__ == "__main__":
    print(json.dumps(run_all(sys.argv[1:] or None)))
