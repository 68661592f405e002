"""Compile a function with whatever Keras backend is active, for the small extra probe passes.

Eager calls pay Python dispatch for every op, several times the work itself for a tiny MLP.
The backend's own compiler (tf.function, jax.jit) removes that; other backends run eagerly.
Compiled functions must take the model's variable values as arguments (stateless), so every
call sees the current weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def compiled(fn: Callable[..., Any]) -> Callable[..., Any]:
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, reduce_retracing=True)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn
