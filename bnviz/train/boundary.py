"""The decision boundary of a model on 2-D data: its predicted class over a fixed grid.

Recorded with every probe of a run on 2-D inputs (circles, moons, spirals, blobs, two-column
uploads), so the boundary can be watched forming epoch by epoch. The grid is fixed for the
run (the data's range plus a margin, `GRID` x `GRID` cell centres), and the model is called
in inference mode through `stateless_call`, so recording never changes weights or moving
statistics. Stored compactly as integers: the predicted class and its probability in percent
per cell (row-major, rows along x₂), which the probe codec packs as bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bnviz.train import backends

GRID = 64  # cells per axis, 4,096 predictions (~1.5 ms); at 48 only 93% of the circles tutorial's test
#             points got the class model.predict gives them, at 64 96.8%
MARGIN = 0.15  # share of the data's extent added on each side
CONFIDENCE_SCALE = 100  # confidence is stored as an integer percent


def grid_range(*arrays: np.ndarray, margin: float = MARGIN) -> tuple[tuple[float, float], tuple[float, float]]:
    """(x₁ range, x₂ range) covering every point of `arrays` plus `margin` of the extent on each side."""
    points = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1, 2) for a in arrays])
    points = points[np.isfinite(points).all(axis=1)]
    if not len(points):
        return (-1.0, 1.0), (-1.0, 1.0)
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = np.maximum((hi - lo) * margin, 1e-3)
    return ((_round(lo[0] - pad[0]), _round(hi[0] + pad[0])),
            (_round(lo[1] - pad[1]), _round(hi[1] + pad[1])))


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def grid_points(x_range, y_range, size: int = GRID) -> np.ndarray:
    """The cell centres, row-major with rows along x₂: shape (size*size, 2), float32."""
    xs = np.linspace(x_range[0], x_range[1], size)
    ys = np.linspace(y_range[0], y_range[1], size)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.reshape(-1), gy.reshape(-1)], axis=1).astype(np.float32)


def classes_and_confidence(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class and its probability from sigmoid (N, 1) or softmax (N, C) outputs."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1 or probs.shape[-1] == 1:
        p1 = probs.reshape(-1)
        cls = (p1 > 0.5).astype(np.int64)
        conf = np.where(cls == 1, p1, 1.0 - p1)
    else:
        cls = probs.argmax(axis=-1)
        conf = probs.max(axis=-1)
    return cls, np.nan_to_num(conf, nan=0.0)


class BoundaryRecorder:
    """Predicts a fixed grid with the model's current weights; returns the probe's `boundary` field."""

    def __init__(self, model, x_range, y_range, size: int = GRID) -> None:
        self.model = model
        self.x_range = (float(x_range[0]), float(x_range[1]))
        self.y_range = (float(y_range[0]), float(y_range[1]))
        self.size = int(size)
        self.points = grid_points(self.x_range, self.y_range, self.size)
        self._predict = backends.compile_function(self._stateless_predict)

    def _stateless_predict(self, trainable, non_trainable, points):
        out, _ = self.model.stateless_call(trainable, non_trainable, points, training=False)
        return out

    def predict(self) -> np.ndarray:
        """Class probabilities on the grid, inference mode, stateless: the model is not touched."""
        from keras import ops

        trainable = [v.value for v in self.model.trainable_variables]
        non_trainable = [v.value for v in self.model.non_trainable_variables]
        return np.asarray(ops.convert_to_numpy(self._predict(trainable, non_trainable, self.points)))

    def __call__(self) -> dict[str, Any]:
        cls, conf = classes_and_confidence(self.predict())
        return {
            "size": self.size,
            "x_range": list(self.x_range),
            "y_range": list(self.y_range),
            "classes": cls.astype(int).tolist(),
            "confidence": np.rint(conf * CONFIDENCE_SCALE).astype(int).tolist(),
        }


def recorder_for(model, *arrays: np.ndarray, size: int = GRID) -> BoundaryRecorder | None:
    """A recorder when the model takes 2-D points (shape (N, 2)), else None."""
    shape = tuple(model.inputs[0].shape[1:])
    if shape != (2,):
        return None
    x_range, y_range = grid_range(*arrays)
    return BoundaryRecorder(model, x_range, y_range, size)


# --- reading a recorded boundary (pure) ----------------------------------------------------------

def is_boundary(value: Any) -> bool:
    """True for a well-formed recorded boundary (old records and non-2-D runs have none)."""
    if not isinstance(value, Mapping):
        return False
    try:
        n = int(value["size"])
        return (n >= 2 and len(value["classes"]) == n * n and len(value["confidence"]) == n * n
                and len(value["x_range"]) == 2 and len(value["y_range"]) == 2)
    except (KeyError, TypeError, ValueError):
        return False


def axes(boundary: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre coordinates along x₁ and x₂."""
    n = int(boundary["size"])
    return (np.linspace(*map(float, boundary["x_range"]), n), np.linspace(*map(float, boundary["y_range"]), n))


def class_grid(boundary: Mapping[str, Any]) -> np.ndarray:
    """Predicted classes as an (n, n) array indexed [x₂ row, x₁ column]."""
    n = int(boundary["size"])
    return np.asarray(boundary["classes"], dtype=np.int64).reshape(n, n)


def confidence_grid(boundary: Mapping[str, Any]) -> np.ndarray:
    """Probability of the predicted class (0.5..1 for two classes) as an (n, n) array."""
    n = int(boundary["size"])
    return np.asarray(boundary["confidence"], dtype=np.float64).reshape(n, n) / CONFIDENCE_SCALE


def nearest_cells(boundary: Mapping[str, Any], points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of the grid cell nearest to each point; points outside are clipped to the edge."""
    n = int(boundary["size"])
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    cols, rows = [], []
    for axis, (lo, hi), out in ((0, boundary["x_range"], cols), (1, boundary["y_range"], rows)):
        step = (float(hi) - float(lo)) / (n - 1)
        out.append(np.clip(np.rint((pts[:, axis] - float(lo)) / step), 0, n - 1).astype(np.int64))
    return rows[0], cols[0]


def predicted_at(boundary: Mapping[str, Any], points: np.ndarray) -> np.ndarray:
    """The recorded grid's predicted class at the cell nearest to each point."""
    rows, cols = nearest_cells(boundary, points)
    return class_grid(boundary)[rows, cols]


def points_for(config: Mapping[str, Any]) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], tuple[str, ...]] | None:
    """The run's train and test points and class names for drawing on a boundary; None when the
    data cannot be loaded here (an upload that was removed) or is not 2-D."""
    from bnviz.config import DatasetConfig
    from bnviz.data.loading import load_dataset

    try:
        data = load_dataset(DatasetConfig.model_validate((config or {}).get("dataset") or {}), allow_download=False)
    except (ValueError, OSError):  # DatasetError and pydantic's ValidationError are ValueErrors
        return None
    if data.input_shape != (2,):
        return None
    return {"train": (data.x_train, data.y_train), "test": (data.x_test, data.y_test)}, data.class_names
