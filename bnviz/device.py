"""TensorFlow start-up: quiet logs, GPU memory growth, thread pools sized for the machine."""

from __future__ import annotations

import os
import threading

# Without an NVIDIA driver TensorFlow's CUDA probe logs "failed call to cuInit: ... (303)" as an
# error on every start: on such machines C++ errors are silenced (warnings already are).
_NO_GPU_DRIVER = not os.path.exists("/proc/driver/nvidia")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3" if _NO_GPU_DRIVER else "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

_lock = threading.Lock()
_device: str | None = None


def configure(threads: int | None = None) -> str:
    """Set TensorFlow up once per process and say which device training will use.

    `threads` (or env BNVIZ_TF_THREADS) caps TensorFlow's intra-op pool; the dashboard
    leaves a core to the web server so pages stay responsive while a job trains.
    """
    global _device
    with _lock:
        if _device is not None:
            return _device
        import tensorflow as tf

        threads = threads or env_int("BNVIZ_TF_THREADS", high=256)
        try:
            if threads:
                # Only the intra-op pool: an inter-op pool of 1 deadlocks fit()'s tf.data input pipeline.
                tf.config.threading.set_intra_op_parallelism_threads(threads)
        except RuntimeError:
            pass  # TensorFlow was already initialised by someone else; keep its pools
        gpus = tf.config.list_physical_devices("GPU")
        for gpu in gpus:
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                pass
        _device = f"GPU ({gpus[0].name.split(':', 1)[-1]})" if gpus else "CPU"
        return _device


def env_int(name: str, default: int | None = None, low: int = 1, high: int = 1024) -> int | None:
    """A whole-number setting from the environment, or `default`; a bad value says what is allowed."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value
