"""The order in which a run sees its training examples: a new one every epoch, from the run's seed.

Keras' `fit(shuffle=True)` does not reshuffle every epoch on every backend: on TensorFlow, after
`keras.utils.set_random_seed`, each epoch sees the same batch order (JAX reshuffles). bnviz
therefore draws each epoch's order itself, with a numpy Generator seeded from the run's seed, and
hands `fit` data that serves each epoch's batches in that epoch's order (`epoch_batches`): every
backend sees the same orders, every epoch a new one, and a run with the same seed sees the same
orders again. Epochs end where the examples end, so fused steps (`steps_per_execution`) and
validation work as with arrays. All orders together hold epochs x examples indices, which
`bnviz.limits` already bounds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

ORDER_STREAM = 0x0BDE5  # keeps this stream apart from any other numpy stream seeded with the run's seed


def epoch_orders(n: int, seed: int) -> Iterator[np.ndarray]:
    """Endless permutations of `range(n)`, one per epoch (the first for epoch 1)."""
    rng = np.random.default_rng([ORDER_STREAM, int(seed)])
    while True:
        yield rng.permutation(n)


def split_validation(x, y, fraction: float) -> tuple[tuple, tuple]:
    """Keras' `validation_split`, done before shuffling as Keras does: the last `fraction` of the
    examples (`int(n * fraction)` of them) validate, the rest train."""
    n_fit = len(x) - int(len(x) * fraction)
    return (x[:n_fit], y[:n_fit]), (x[n_fit:], y[n_fit:])


def epoch_batches(x, y, *, epochs: int, batch_size: int, seed: int, backend: str) -> tuple[Any, Any]:
    """(data for `fit`, a callback for `fit`): each epoch serves the examples in that epoch's order,
    in batches of `batch_size` (the last one may be smaller). The callback tells the data which
    epoch begins; Keras calls it before it starts reading that epoch's batches."""
    n = len(x)
    orders = epoch_orders(n, seed)
    order = np.stack([next(orders) for _ in range(max(1, epochs))]).astype("int32")
    steps = math.ceil(n / batch_size)
    import keras

    if backend == "tensorflow":  # a tf.data pipeline: no Python per batch
        import tensorflow as tf

        x_t, y_t, order_t = tf.constant(x), tf.constant(y), tf.constant(order)
        current = tf.Variable(0, dtype="int32", trainable=False)
        data = (tf.data.Dataset.range(1)
                .flat_map(lambda _: tf.data.Dataset.from_tensor_slices(tf.gather(order_t, current.read_value())))
                .batch(batch_size)
                .map(lambda i: (tf.gather(x_t, i), tf.gather(y_t, i)))
                .apply(tf.data.experimental.assert_cardinality(steps))
                .prefetch(tf.data.AUTOTUNE))
        return data, keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs=None: current.assign(epoch))

    class Ordered(keras.utils.PyDataset):
        epoch = 0

        def __len__(self) -> int:
            return steps

        def __getitem__(self, i: int):
            index = order[self.epoch][i * batch_size:(i + 1) * batch_size]
            return x[index], y[index]

    data = Ordered()

    def begin(epoch: int, logs=None) -> None:
        data.epoch = epoch

    return data, keras.callbacks.LambdaCallback(on_epoch_begin=begin)
