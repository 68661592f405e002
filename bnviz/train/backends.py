"""What truly differs between the Keras backends, one function per backend where it differs.

A process runs Keras on one backend, chosen by KERAS_BACKEND before keras is first
imported; `activate` does that (or says clearly why it cannot). The rest of the engine is
written on `keras.ops` and `Model.stateless_call` and never names a framework. Here live:
which backends are installed, GPU listing and the device's name, thread settings, taking
gradients of the probe loss, compiling the probe function, and copying results to numpy.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from bnviz.errors import UserError
from bnviz.settings import BACKENDS, settings


def has_nvidia_driver() -> bool:
    """Whether this machine has an NVIDIA driver: known before any framework starts (CPU-only settings)."""
    return os.path.exists("/proc/driver/nvidia")


_lock = threading.Lock()
_devices: dict[str, str] = {}


class BackendError(UserError):
    """A backend that is unknown, not installed, or not the one this process already runs."""


# --- which backend -----------------------------------------------------------------------

def available_backends() -> tuple[str, ...]:
    """The backends installed here, in preference order, found without importing them."""
    return tuple(name for name in BACKENDS if importlib.util.find_spec(name) is not None)


def default_backend() -> str:
    """BNVIZ_BACKEND, the backend for a new config that does not say; tensorflow when unset."""
    return require(settings().backend)


def require(name: str) -> str:
    """`name` if it is a backend installed here, else a one-line error naming the installed ones."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; one of {', '.join(BACKENDS)}")
    installed = available_backends()
    if name not in installed:
        raise BackendError(f"backend {name!r} is not installed here; installed: {', '.join(installed) or 'none'}"
                           f" (pip install {name})")
    return name


def loaded_backend() -> str | None:
    """The backend Keras runs on in this process, or None while keras is not imported yet."""
    if "keras" not in sys.modules:
        return None
    import keras

    return keras.config.backend()


def activate(name: str) -> str:
    """Make `name` this process's Keras backend; must happen before keras is imported.

    A process cannot switch: if keras already runs on another backend this raises a
    BackendError instead of silently training on the wrong one."""
    require(name)
    current = loaded_backend()
    if current is None:
        os.environ["KERAS_BACKEND"] = name
        if name == "tensorflow":
            # TensorFlow's C++ log from here on: warnings off, and errors too where there is no NVIDIA
            # driver, as its CUDA probe then logs "failed call to cuInit: ... (303)" on every start. With a
            # GPU, errors (out of memory, cuDNN) stay in the worker's log.
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if has_nvidia_driver() else "3")
        with native_stderr_silenced(name == "tensorflow"):
            import keras  # noqa: F401  (the backend's start-up lines go nowhere)
        return name
    if current != name:
        raise BackendError(f"this process already runs Keras on {current}, so it cannot train on {name}: "
                           f"a process holds one backend (start it in its own process, e.g. python -m bnviz train)")
    return name


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Send what native code writes to stderr nowhere while TensorFlow starts: its oneDNN notice, CUDA
    probe and absl's "log messages before InitializeLog" lines are written before TF_CPP_MIN_LOG_LEVEL is
    read, twice per process, into the CLI's output and every worker's log. Python errors still surface."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def seed_everything(seed: int, backend: str | None = None) -> None:
    """`keras.utils.set_random_seed`, without importing TensorFlow into a JAX or PyTorch run.

    Keras seeds TensorFlow whenever it is installed (for tf.data pipelines, which bnviz does not
    use); that import alone costs a JAX run about 3 s. Hiding the module while Keras seeds makes
    it skip TensorFlow, exactly as on a machine without it."""
    import keras

    if (backend or current_backend()) == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    sys.modules["tensorflow"] = None  # type: ignore[assignment]  # `import tensorflow` now fails: Keras skips it
    try:
        keras.utils.set_random_seed(seed)
    finally:
        del sys.modules["tensorflow"]


def current_backend() -> str:
    """The backend Keras uses or will use in this process."""
    return loaded_backend() or os.environ.get("KERAS_BACKEND") or default_backend()


# --- device and threads ----------------------------------------------------------------------

def configure(threads: int | None = None, backend: str | None = None) -> str:
    """Set the backend up once per process (threads, GPU memory) and name its device.

    `threads` (or env BNVIZ_TF_THREADS) caps the intra-op pool, so the dashboard keeps a core
    for the web server. Returns "CPU" or "GPU (<name>)"."""
    backend = backend or current_backend()
    with _lock:
        if backend not in _devices:
            threads = threads or settings().tf_threads
            _devices[backend] = _SETUP[backend](threads)
        return _devices[backend]


def list_gpus(backend: str | None = None) -> list[str]:
    """Names of the GPUs the backend can use (empty on a CPU-only machine)."""
    return _GPUS[backend or current_backend()]()


def _device_name(gpus: list[str]) -> str:
    return f"GPU ({gpus[0]})" if gpus else "CPU"


def _tensorflow_setup(threads: int | None) -> str:
    with native_stderr_silenced(not has_nvidia_driver()):  # the CUDA probe's cuInit error, without a driver
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")

    try:
        if threads:
            # Only the intra-op pool: an inter-op pool of 1 deadlocks fit()'s tf.data input pipeline.
            tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # TensorFlow was already initialised by someone else; keep its pools
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass
    return _device_name(_tensorflow_gpus())


def _tensorflow_gpus() -> list[str]:
    import tensorflow as tf

    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name") or gpu.name.split(":", 1)[-1])
    return names


def _jax_setup(threads: int | None) -> str:
    # Read when JAX starts its runtime: no 75 % GPU pre-allocation (several workers may share a GPU),
    # and Eigen single-threaded when one thread is asked for (XLA has no finer CPU thread setting).
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    wanted = [*_jax_cpu_tuning()[0], *(["--xla_cpu_multi_thread_eigen=false"] if threads == 1 else [])]
    flags = with_xla_flags(os.environ.get("XLA_FLAGS", ""), wanted)
    if flags:
        os.environ["XLA_FLAGS"] = flags
    _jax_compilation_cache()
    return _device_name(_jax_gpus())


# XLA settings for JAX on a CPU, per jaxlib series they were measured on (python bench/bench_backends.py;
# README "Backends"). A flag a jaxlib does not know aborts the process, so other series keep XLA's defaults.
# - Process-wide: YNNPACK keeps its reductions and matrix products but not convolutions, which XLA's own
#   kernels run faster here (tutorial 002's CNN in plain Keras: 3 epochs in 23.6 s instead of 37.8 s);
#   backend optimisation level 1 compiles about 15 % faster and trains no slower.
# - The probe program alone: the older fusion emitters, which compile it about a third faster (it runs
#   about as fast; Keras' train step keeps the new ones, which run the CNN faster).
_JAX_CPU_TUNING: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "0.10": (("--xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_REDUCE,LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT",
              "--xla_backend_optimization_level=1"),
             {"xla_backend_optimization_level": 1, "xla_cpu_use_fusion_emitters": False}),
}


def with_xla_flags(flags: str, wanted: list[str]) -> str:
    """`flags` (an XLA_FLAGS value) plus each of `wanted` that it does not set already: the user's own
    setting of a flag wins."""
    present = {token.split("=")[0] for token in flags.split()}
    return " ".join([*flags.split(), *(flag for flag in wanted if flag.split("=")[0] not in present)])


def _jax_cpu_tuning() -> tuple[tuple[str, ...], dict[str, Any]]:
    """(XLA_FLAGS additions, probe compiler options) for this jaxlib on a CPU-only machine."""
    from importlib.metadata import PackageNotFoundError, version

    if has_nvidia_driver():
        return (), {}
    try:
        series = ".".join(version("jaxlib").split(".")[:2])
    except PackageNotFoundError:
        return (), {}
    return _JAX_CPU_TUNING.get(series, ((), {}))


def _jax_compilation_cache() -> None:
    """Keep XLA's compiled programs on disk (BNVIZ_HOME/jax-cache, or JAX_COMPILATION_CACHE_DIR).

    Every run builds a new model, so JAX compiles its train step, evaluation and probe afresh, which
    on a classroom model takes longer than the training itself; the same preset again (the
    common case) then loads them instead (circles, 100 epochs: about 3 s less)."""
    import jax

    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        jax.config.update("jax_compilation_cache_dir", str(settings().home / "jax-cache"))
    if not os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    if not os.environ.get("JAX_COMPILATION_CACHE_MAX_SIZE"):
        jax.config.update("jax_compilation_cache_max_size", 1 << 30)  # least recently used go first


def _jax_gpus() -> list[str]:
    import jax

    return [d.device_kind for d in jax.devices() if d.platform == "gpu"]


def _torch_setup(threads: int | None) -> str:
    import torch

    if threads:
        torch.set_num_threads(threads)
    return _device_name(_torch_gpus())


def _torch_gpus() -> list[str]:
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


_SETUP: dict[str, Callable[[int | None], str]] = {
    "tensorflow": _tensorflow_setup, "jax": _jax_setup, "torch": _torch_setup}
_GPUS: dict[str, Callable[[], list[str]]] = {
    "tensorflow": _tensorflow_gpus, "jax": _jax_gpus, "torch": _torch_gpus}


def fuses_steps(backend: str | None = None) -> bool:
    """Whether Keras runs several training steps per execution on the backend (steps_per_execution
    > 1): TensorFlow and JAX do, PyTorch refuses it."""
    return (backend or current_backend()) != "torch"


# --- gradients and compilation of the probe --------------------------------------------------

LossFn = Callable[..., tuple[Any, Any]]  # (trainable values, *args) -> (scalar loss, aux)


def value_and_grad(fn: LossFn, backend: str | None = None) -> Callable[..., tuple[Any, Any, list]]:
    """`fn(trainable, *args) -> (loss, aux)` becomes `g(trainable, *args) -> (loss, aux, grads)`,
    grads with respect to the list `trainable` (None for a value the loss does not depend on)."""
    return _VALUE_AND_GRAD[backend or current_backend()](fn)


def _tensorflow_value_and_grad(fn: LossFn):
    import tensorflow as tf

    def run(trainable, *args):
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            loss, aux = fn(trainable, *args)
        return loss, aux, tape.gradient(loss, trainable)

    return run


def _jax_value_and_grad(fn: LossFn):
    import jax

    grad_fn = jax.value_and_grad(fn, has_aux=True)

    def run(trainable, *args):
        (loss, aux), grads = grad_fn(list(trainable), *args)
        return loss, aux, grads

    return run


def _torch_value_and_grad(fn: LossFn):
    import torch

    def run(trainable, *args):
        leaves = [t.detach().requires_grad_(True) for t in trainable]
        loss, aux = fn(leaves, *args)
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        detach = lambda t: t.detach() if isinstance(t, torch.Tensor) else t  # noqa: E731
        return loss.detach(), [detach(a) for a in aux], list(grads)

    return run


_VALUE_AND_GRAD = {"tensorflow": _tensorflow_value_and_grad, "jax": _jax_value_and_grad,
                   "torch": _torch_value_and_grad}


def compile_function(fn: Callable, backend: str | None = None) -> Callable:
    """`fn` compiled once for repeated calls with same-shaped arguments (the probe runs every epoch).

    tf.function and jax.jit fuse the probe's forward, backward and summary ops into one program.
    torch.compile is left out: its first compile costs more than a whole run of small-model probes."""
    return _COMPILE[backend or current_backend()](fn)


def _tensorflow_compile(fn: Callable) -> Callable:
    import tensorflow as tf

    return tf.function(fn, reduce_retracing=True, autograph=False)  # keras.ops code: no Python control flow on tensors


def _jax_compile(fn: Callable) -> Callable:
    import jax

    # On a CPU the probe is compiled with _JAX_CPU_TUNING's options: tutorial 002's CNN probe in about
    # 1.0 s instead of 1.9 s, running as fast (a run compiles it once and runs it every epoch).
    options = {} if _jax_gpus() else _jax_cpu_tuning()[1]
    if jax.config.jax_compilation_cache_dir is None:  # a user's script (bnviz.watch): keep the probe's alone
        from bnviz.train.probe_cache import cached_jit

        return cached_jit(fn, options, settings().home / "jax-probes")
    return jax.jit(fn, compiler_options=options)


def _torch_compile(fn: Callable) -> Callable:
    return fn


_COMPILE = {"tensorflow": _tensorflow_compile, "jax": _jax_compile, "torch": _torch_compile}


def to_numpy(tree: Any, backend: str | None = None) -> Any:
    """The arrays of a (nested) result as host numpy arrays."""
    return _TO_NUMPY[backend or current_backend()](tree)


def _tensorflow_to_numpy(tree: Any) -> Any:
    import tensorflow as tf

    return tf.nest.map_structure(lambda t: None if t is None else t.numpy(), tree)


def _jax_to_numpy(tree: Any) -> Any:
    import jax

    return jax.device_get(tree)  # one transfer for all leaves


def _torch_to_numpy(tree: Any) -> Any:
    import keras

    return keras.tree.map_structure(lambda t: None if t is None else t.detach().cpu().numpy(), tree)


_TO_NUMPY = {"tensorflow": _tensorflow_to_numpy, "jax": _jax_to_numpy, "torch": _torch_to_numpy}
