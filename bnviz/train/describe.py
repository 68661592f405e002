"""What a config will build, without training it: input shape, classes, layer table.

The web server shows this for every form change but must not load a training framework
(TensorFlow's import alone costs seconds and memory, and Keras being imported makes
Streamlit clear Keras' session, with a full garbage collection, after every rerun). So the
dashboard asks a small helper process that builds the model on Keras' numpy backend. The helper
is contained: capped at BNVIZ_HELPER_MEMORY_MB, killed when it hangs, and replaced when it dies, so
one visitor's huge model costs that visitor an error message, not everyone's summaries.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from bnviz.config import ExperimentConfig
from bnviz.data import registry
from bnviz.data.source import short
from bnviz.errors import UserError
from bnviz.settings import settings


def data_shape(config: ExperimentConfig) -> tuple[tuple[int, ...], int]:
    """Input shape and number of classes from the dataset's registry entry; the data is read only
    when the entry cannot say (your own npz/csv files)."""
    known = registry.get(config.dataset.name).known_shape(config.dataset)
    if known is not None:
        return known
    from bnviz.data.loading import load_dataset

    data = load_dataset(config.dataset)
    return data.input_shape, data.n_classes


def model_summary(config: ExperimentConfig) -> dict[str, Any]:
    """The Keras model summary as data: layers with output shapes and parameters, and totals."""
    from bnviz.train import models

    shape, classes = data_shape(config)
    model = models.build_model(config, shape, classes)
    return {"layers": models.layer_table(model), "params": models.param_counts(model),
            "blocks": [b.__dict__ for b in models.blocks(model)], "input_shape": list(shape),
            "n_classes": classes, "loss": models.resolve_loss(config, classes)}


class SummaryUnavailable(UserError):
    """The helper could not build a summary in its memory or time; it was replaced for the next one."""


@dataclass(frozen=True)
class _Helper:
    pool: ProcessPoolExecutor
    pid: int  # its one process, killed when it hangs
    memory_mb: int


_helper: _Helper | None = None
_helper_lock = threading.Lock()
START_S = 60.0  # a fresh helper's start (Python, numpy, bnviz), before any summary


def _start_helper(memory_mb: int) -> None:
    """The helper builds and counts models on Keras' numpy backend (it never trains), in at most
    `memory_mb` of memory, and leaves Ctrl-C in the server's terminal to the server: it ends with its
    parent's pool, without a traceback of its own.

    The cap is RLIMIT_DATA (heap and private mappings), not RLIMIT_AS: the address space that JAX's
    libraries and every thread's stack reserve without using grows with the cores and would make a
    fixed address-space cap fail on a large server, while what is really allocated does not."""
    import resource

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    os.environ["KERAS_BACKEND"] = "numpy"


def _summary_of(config_json: str) -> str:
    return json.dumps(model_summary(ExperimentConfig.from_json(config_json)))


def helper_pid() -> int | None:
    """The helper process's pid, while one runs (for tests and for an operator's `ps`)."""
    helper = _helper
    return helper.pid if helper is not None else None


def stop_helper() -> None:
    """Stop the helper now (the next summary starts a fresh one)."""
    _retire(_helper)


def model_summary_isolated(config: ExperimentConfig, timeout: float = 120.0) -> dict[str, Any]:
    """`model_summary`, computed in a helper process (started on first use, then kept warm).

    The helper may use BNVIZ_HELPER_MEMORY_MB. One that died (out of memory, killed) is replaced
    and the summary asked again once; one that hangs past `timeout` is killed and replaced. Either
    way every visitor's next summary works without a server restart. `SummaryUnavailable` says
    why this one could not be built."""
    memory_mb = settings().helper_memory_mb
    attempt = 0
    while True:
        attempt, helper = attempt + 1, None
        try:
            helper = _running_helper(memory_mb)
            return json.loads(helper.pool.submit(_summary_of, config.to_json()).result(timeout=timeout))
        except BrokenProcessPool:
            _retire(helper)
            if attempt == 2:
                raise SummaryUnavailable(f"the helper that builds model summaries stopped twice while building "
                                         f"this model (out of memory? it may use {memory_mb:,} MB); a smaller "
                                         f"model or input fits") from None
        except FutureTimeout:
            _retire(helper)
            raise SummaryUnavailable(f"building this model's summary took more than {timeout:g} s, so it was "
                                     f"stopped; a smaller model or input is faster") from None
        except ValueError:
            raise  # the config or the data, said in one line for the visitor: the helper itself is fine
        except Exception as exc:  # running out shows as MemoryError, ImportError, SystemError...: start afresh
            _retire(helper)
            if isinstance(exc, MemoryError) or _out_of_memory(exc):
                raise SummaryUnavailable(f"building this model's summary needs more memory than the helper may "
                                         f"use ({memory_mb:,} MB); a smaller model or input fits") from None
            raise SummaryUnavailable(f"building this model's summary failed ({short(exc)}); the helper, which "
                                     f"may use {memory_mb:,} MB, was restarted for the next one") from None


def _out_of_memory(exc: BaseException) -> bool:
    """A library that could not be loaded under the cap says so in words, not with a MemoryError."""
    text = str(exc).lower()
    return "memory" in text or "failed to map" in text


def _running_helper(memory_mb: int) -> _Helper:
    """The warm helper, or a fresh one (also when the memory limit changed)."""
    import multiprocessing

    global _helper
    with _helper_lock:
        if _helper is not None and _helper.memory_mb == memory_mb:
            return _helper
        old, _helper = _helper, None
    _retire(old)
    with _helper_lock:
        if _helper is None:
            pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_start_helper, initargs=(memory_mb,))
            try:
                pid = pool.submit(os.getpid).result(timeout=START_S)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            _helper = _Helper(pool, pid, memory_mb)
        return _helper


def _retire(helper: _Helper | None) -> None:
    """Kill a dead, hung or outdated helper and forget it; the next summary starts a fresh one."""
    global _helper
    if helper is None:
        return
    with _helper_lock:
        if _helper is helper:
            _helper = None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(helper.pid, signal.SIGKILL)
    helper.pool.shutdown(wait=False, cancel_futures=True)
