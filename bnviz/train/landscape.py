"""The loss landscape along the gradient (Santurkar et al. 2018, "How does batch normalization help
optimization?", §3.1 and Fig. 4), measured on the fixed probe batch.

With `instrument.landscape` on, every probe takes the training-mode gradient g of the probe batch's
loss at the current weights w and looks a few steps along it, at w − η·g for η = each of `MULTIPLIERS`
× the learning rate (1 × is the step plain SGD would take on this batch):

* the loss there: how much it varies over η is the band of Fig. 4(a);
* the gradient there: ‖∇L(w) − ∇L(w − η·g)‖ is Fig. 4(b) (how well the gradient predicts itself);
* the "effective β-smoothness" of Fig. 4(c): the largest ‖∇L(w) − ∇L(w − η·g)‖ / ‖η·g‖ over η.

Every pass is `Model.stateless_call` in training mode (BN on batch statistics, as the optimizer sees
it); the moved weights are new tensors and the moving statistics each pass hands back are dropped,
so measuring never changes the model. One compiled function per run (bnviz.train.backends).
"""

from __future__ import annotations

import math
from typing import Any

from keras import ops

from bnviz.config import LANDSCAPE_MULTIPLIERS
from bnviz.train import backends
from bnviz.train.probes import rounded

MULTIPLIERS = LANDSCAPE_MULTIPLIERS  # η as multiples of the learning rate


def _norm(tensors: list) -> Any:
    """The l2 norm of a list of tensors taken as one vector."""
    return ops.sqrt(sum((ops.sum(ops.square(t)) for t in tensors), ops.convert_to_tensor(0.0)))


class LandscapeRecorder:
    """Measures the probe's `landscape` field on one fixed batch, for the model's current weights."""

    def __init__(self, model, x, y, loss_fn, learning_rate: float, multipliers=MULTIPLIERS) -> None:
        self.model = model
        self.x = ops.convert_to_tensor(x)
        self.y = ops.convert_to_tensor(y)
        self.loss_fn = loss_fn
        self.learning_rate = float(learning_rate)
        self.steps = tuple(float(m) * self.learning_rate for m in multipliers)
        self._grad = backends.value_and_grad(self._loss)
        self._compiled = None

    def _loss(self, trainable, non_trainable, x, y):
        # training mode, as the optimizer sees it; the updated moving statistics are dropped
        out, _ = self.model.stateless_call(trainable, non_trainable, x, training=True)
        return ops.mean(self.loss_fn(y, out)), []

    def _gradient(self, trainable, non_trainable, x, y):
        loss, _, grads = self._grad(trainable, non_trainable, x, y)
        return loss, [ops.zeros_like(w) if g is None else g for w, g in zip(trainable, grads)]

    def _measure(self, trainable, non_trainable, x, y):
        """Loss and gradient at w, then at w − η·g for every η: all in one compiled call."""
        loss, grads = self._gradient(trainable, non_trainable, x, y)
        losses, changes = [], []
        for eta in self.steps:
            moved = [w - ops.cast(eta, w.dtype) * g for w, g in zip(trainable, grads)]
            loss_at, grads_at = self._gradient(moved, non_trainable, x, y)
            losses.append(ops.cast(loss_at, "float32"))
            changes.append(ops.cast(_norm([a - b for a, b in zip(grads, grads_at)]), "float32"))
        return {"loss": ops.cast(loss, "float32"), "grad_norm": ops.cast(_norm(grads), "float32"),
                "losses": ops.stack(losses), "grad_changes": ops.stack(changes)}

    def values(self) -> tuple[list, list]:
        """The model's variable values now (the backend's own, no copies)."""
        return ([v.value for v in self.model.trainable_variables],
                [v.value for v in self.model.non_trainable_variables])

    def measure(self, values: tuple[list, list] | None = None) -> dict[str, Any]:
        """The numbers as plain floats (None where not finite), for the weights now or `values`."""
        if self._compiled is None:
            self._compiled = backends.compile_function(self._measure)
        trainable, non_trainable = values or self.values()
        out = backends.to_numpy(self._compiled(trainable, non_trainable, self.x, self.y))
        return {key: [float(v) for v in ops.convert_to_numpy(value).reshape(-1)] for key, value in out.items()}

    def __call__(self) -> dict[str, Any]:
        """The probe's `landscape` field (docs/run-record.md)."""
        out = self.measure()
        grad_norm = out["grad_norm"][0]
        ratios = [c / (eta * grad_norm) for eta, c in zip(self.steps, out["grad_changes"])
                  if grad_norm > 0 and math.isfinite(c) and math.isfinite(grad_norm)]
        return {
            "learning_rate": rounded(self.learning_rate),
            "steps": [rounded(eta) for eta in self.steps],
            "loss": rounded(out["loss"][0]),
            "grad_norm": rounded(grad_norm),
            "losses": [rounded(v) for v in out["losses"]],
            "grad_changes": [rounded(v) for v in out["grad_changes"]],
            "beta": rounded(max(ratios)) if len(ratios) == len(self.steps) else None,
        }


def recorder_for(config, model, x, y, loss_fn) -> LandscapeRecorder | None:
    """The recorder when the config asks for it (`instrument.landscape`), else None."""
    if not config.instrument.landscape:
        return None
    return LandscapeRecorder(model, x, y, loss_fn, config.training.learning_rate)
