"""The probe's compiled program kept on disk, for fits that did not turn on JAX's own cache.

A user's script watched by `bnviz.watch` compiles bnviz's probe afresh in every process: on a
small model (the circles MLP) that one compile costs more than a tenth of the whole fit. bnviz's
own training turns on JAX's persistent compilation cache for everything (bnviz.train.backends);
a user's script is left as its author configured it, so only the probe's program is kept, here:
looked up by a hash of the lowered program, the JAX and jaxlib versions, the compiler options
and the device, under BNVIZ_HOME/jax-probes. A file that cannot be read is compiled again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

KEEP = 64  # programs kept; the least recently used go first


def cached_jit(fn: Callable, compiler_options: dict[str, Any], folder: Path) -> Callable:
    """`jax.jit(fn)`, whose compiled program for each argument shape is read from `folder` when a
    previous process compiled it, and written there when this one does."""
    import jax

    jitted = jax.jit(fn, compiler_options=compiler_options)
    programs: dict[tuple, Callable] = {}
    lock = threading.Lock()

    def call(*args):
        leaves, tree = jax.tree_util.tree_flatten(args)
        signature = (tree, tuple((getattr(a, "shape", ()), str(getattr(a, "dtype", type(a)))) for a in leaves))
        program = programs.get(signature)
        if program is None:
            with lock:
                program = programs.get(signature) or _load_or_compile(jitted.lower(*args), compiler_options, folder)
                programs[signature] = program
        return program(*args)

    return call


def _load_or_compile(lowered, compiler_options: dict[str, Any], folder: Path) -> Callable:
    import jax
    import jaxlib
    from jax.experimental import serialize_executable

    device = jax.devices()[0]
    key = hashlib.sha256("\n".join([
        lowered.as_text(), jax.__version__, jaxlib.__version__, repr(sorted(compiler_options.items())),
        device.platform, device.device_kind]).encode()).hexdigest()[:40]
    path = folder / f"{key}.xla"
    try:
        program = serialize_executable.deserialize_and_load(path.read_bytes(), lowered.in_tree, lowered.out_tree)
        os.utime(path)  # recently used
        return program
    except Exception:  # absent, or written by something else: compile it
        pass
    compiled = lowered.compile()
    try:
        _write(path, serialize_executable.serialize(compiled)[0])
    except Exception:  # a read-only or full disk: this process still has its program
        pass
    return compiled


def _write(path: Path, data: bytes) -> None:
    """Write atomically (another process may read it at the same moment), then keep the newest KEEP."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, path)
    kept = sorted(path.parent.glob("*.xla"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in kept[KEEP:]:
        stale.unlink(missing_ok=True)
