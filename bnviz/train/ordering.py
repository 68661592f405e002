"""The order in which a run sees its training examples: a new one every epoch, from the run's seed.

Keras' `fit(shuffle=True)` does not reshuffle every epoch on every backend: on TensorFlow, after
`keras.utils.set_random_seed`, each epoch sees the same batch order (JAX reshuffles). bnviz
therefore draws each epoch's order itself, with a numpy Generator seeded from the run's seed, and
hands `fit` data that serves each epoch's batches in that epoch's order (`epoch_batches`): every
backend sees the same orders, every epoch a new one, and a run with the same seed sees the same
orders again. Epochs end where the examples end, so fused steps (`steps_per_execution`) and
validation work as with arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ORDER_STREAM = 0x0BDE5  # keeps this stream apart from any other numpy stream seeded with the run's seed


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order of `range(n)` in epoch `epoch` (0-based) of a run seeded with `seed`: it depends on
    nothing else, so a run's orders can be drawn one epoch at a time (memory: n indices)."""
    return np.random.default_rng([ORDER_STREAM, int(seed), int(epoch)]).permutation(n).astype("int32")


def split_validation(x, y, fraction: float) -> tuple[tuple, tuple]:
    """Keras' `validation_split`, done before shuffling as Keras does: the last `fraction` of the
    examples (`int(n * fraction)` of them) validate, the rest train."""
    n_fit = len(x) - int(len(x) * fraction)
    return (x[:n_fit], y[:n_fit]), (x[n_fit:], y[n_fit:])


def epoch_batches(x, y, *, batch_size: int, seed: int, backend: str) -> tuple[Any, Any]:
    """(data for `fit`, a callback for `fit`): each epoch serves the examples in that epoch's order
    (`epoch_order`), in batches of `batch_size` (the last one may be smaller). The callback draws the
    order when Keras begins an epoch, before Keras starts reading that epoch's batches."""
    n = len(x)
    steps = math.ceil(n / batch_size)
    import keras

    if backend == "tensorflow":  # a tf.data pipeline: no Python per batch
        import tensorflow as tf

        x_t, y_t = tf.constant(x), tf.constant(y)
        order = tf.Variable(epoch_order(n, seed, 0), trainable=False)
        data = (tf.data.Dataset.range(1)
                .flat_map(lambda _: tf.data.Dataset.from_tensor_slices(order.read_value()))
                .batch(batch_size)
                .map(lambda i: (tf.gather(x_t, i), tf.gather(y_t, i)))
                .apply(tf.data.experimental.assert_cardinality(steps))
                .prefetch(tf.data.AUTOTUNE))
        return data, keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda epoch, logs=None: order.assign(epoch_order(n, seed, epoch)))

    class Ordered(keras.utils.PyDataset):
        order = epoch_order(n, seed, 0)

        def __len__(self) -> int:
            return steps

        def __getitem__(self, i: int):
            index = self.order[i * batch_size:(i + 1) * batch_size]
            return x[index], y[index]

    data = Ordered()

    def begin(epoch: int, logs=None) -> None:
        data.order = epoch_order(n, seed, epoch)

    return data, keras.callbacks.LambdaCallback(on_epoch_begin=begin)
