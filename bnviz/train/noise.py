"""Noisy BN (Santurkar et al. 2018, "How does batch normalization help optimization?", §2.1).

`NormNoise` follows a normalization layer when `model.norm.noise` > 0. In training it shifts and
scales every unit (a conv layer's channel) by a shift drawn from U(-noise, noise) and a scale drawn
from U(1, 1 + noise), drawn afresh at every training step: the distribution of the layer's output has
a non-zero mean and a non-unit variance that change all the time, the "internal covariate shift"
that BN was supposed to remove, put back on purpose. (The paper draws its noise per example too; here
it is per unit and step, which is what moves the distributions that the probes' histograms show.)

In inference it is the identity. It has no weights: its only state is the seed generator's, which
`Model.stateless_call` (the probes' pass) hands back instead of assigning, so probing never changes
the model.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="bnviz")
class NormNoise(keras.layers.Layer):
    """Per-unit shift U(-noise, noise) and scale U(1, 1 + noise), redrawn every training step."""

    def __init__(self, noise: float, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.noise = float(noise)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.noise <= 0:
            return inputs
        units = (inputs.shape[-1],)
        shift = keras.random.uniform(units, -self.noise, self.noise, dtype=inputs.dtype, seed=self.seed_generator)
        scale = keras.random.uniform(units, 1.0, 1.0 + self.noise, dtype=inputs.dtype, seed=self.seed_generator)
        return inputs * ops.cast(scale, inputs.dtype) + ops.cast(shift, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "noise": self.noise, "seed": self.seed}
