"""Every `BNVIZ_*` environment variable, read and validated in one place.

`settings()` is the one reader: each field below is one variable (`BNVIZ_` + the field's name in
capitals), with its default, its bounds and the sentence the README's table shows. A bad value
fails with a `SettingsError` naming the variable, what it got and what is allowed; nothing falls
back silently. The environment is read again when it changes (tests and the CLI set variables at
run time), and parsed once per distinct environment.

Importing this module changes nothing: no variable is set, no framework is imported.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bnviz.errors import UserError

PREFIX = "BNVIZ_"
# The Keras backends bnviz trains on, in preference order, with the names people know them by: the one table
# that config validation, the CLI's choices and the pages' titles read.
BACKENDS: dict[str, str] = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
DEFAULT_BACKEND = "tensorflow"  # what a config without training.backend (every older record) was trained on
Backend = Literal[tuple(BACKENDS)]  # type: ignore[valid-type]


class SettingsError(UserError):
    """An environment variable with a value bnviz does not accept."""


class Settings(BaseSettings):
    """The server's settings; a field's description is its row in the README's table."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore", env_ignore_empty=True,
                                      validate_default=True,
                                      case_sensitive=False)

    home: Path = Field(Path("~/.bnviz"), description="run store (SQLite), saved models, uploads")
    database_url: str | None = Field(
        None, description="where runs are stored: `sqlite:///PATH` or `postgresql://USER:PASSWORD@HOST:PORT/DATABASE` "
        "(several servers and workers share it; see PostgreSQL above); unset: `sqlite:///$BNVIZ_HOME/runs.db`")
    data_dir: Path | None = Field(
        None, description="local dataset files: `mnist/` and `fashion_mnist/` with the original IDX `.gz` files, "
        "`cifar10/cifar-10-batches-py/` or `cifar-10-python.tar.gz`")
    offline: bool = Field(False, description="`1`: never download; missing datasets give a message saying which "
                          "files to put where")
    max_jobs: int = Field(1, ge=1, le=64, description="trainings that run at once (= worker processes the dashboard "
                          "starts); the rest wait in the queue, where owners take turns (see "
                          "[Fair queue](#fair-queue))")
    executor: Literal["local", "ray", "none"] = Field(
        "local", description="`local`: the dashboard starts and supervises its workers; `ray`: runs train as Ray "
        "tasks (`RAY_ADDRESS`, else a local Ray instance; needs `pip install ray`; see "
        "[docs/deploy.md](docs/deploy.md)); `none`: it starts none (run `python -m bnviz worker`)")
    ray_cpus_per_job: float = Field(1.0, ge=0, le=64, description="with `BNVIZ_EXECUTOR=ray`: CPUs each run asks "
                                    "Ray for")
    ray_gpu_backends: str = Field("", description="with `BNVIZ_EXECUTOR=ray`: backends whose runs ask Ray for a "
                                  "GPU, comma-separated (e.g. `jax`)")
    ray_gpus_per_job: float = Field(1.0, ge=0, le=64, description="GPUs such a run asks for; `0.25` lets four small "
                                    "runs share one GPU")
    worker_timeout_s: int = Field(120, ge=5, le=86_400, description="a worker with no heartbeat for this long is "
                                  "killed and its run marked interrupted (with PostgreSQL, also a worker on another "
                                  "machine); a dashboard's worker whose run records nothing for this long is killed "
                                  "and the run fails")
    worker_cpus: Literal["rest", "all"] = Field(
        "rest", description="`rest`: local workers train on every core but the first, which stays the web server's "
        "(a classroom cannot slow training, and training cannot slow the pages); `all`: no pinning (faster alone on "
        "2 cores, slower with a full room)")
    max_queued_per_owner: int = Field(3, ge=1, le=1000, description="runs one person (browser or signed-in user) "
                                      "may have waiting (classroom fairness)")
    admin_key: str | None = Field(None, description="the teacher/admin key: entered in a browser (guesses are "
                                  "throttled), it allows cancelling, renaming and deleting every run there until "
                                  "Lock or the session ends; changing it ends every session. Unset: nobody is admin")
    teacher_session_hours: float = Field(12.0, ge=0.1, le=720, description="how long a teacher's unlock lasts in one "
                                         "browser (a random token kept on the server; Lock ends it sooner)")
    # --- limits: what one visitor may cost the server (issue: a server you can give a whole class) -----------
    who_may_train: Literal["everyone", "signed_in", "teachers"] = Field(
        "everyone", description="who may start runs from the dashboard: `everyone`, `signed_in` (users signed in "
        "with `st.login`) or `teachers` (whoever entered `BNVIZ_ADMIN_KEY`: a lecture where students only watch)")
    max_queued: int = Field(30, ge=1, le=100_000, description="runs waiting in the queue, server-wide (a full "
                            "queue refuses new runs with a message)")
    max_upload_mb: int = Field(50, ge=1, le=10_000, description="an uploaded file's size in MB, as sent "
                               "(also Streamlit's `server.maxUploadSize`)")
    max_unpacked_mb: int = Field(256, ge=1, le=100_000, description="an upload's arrays once unpacked, in MB "
                                 "(checked in the archive's directory before anything is unpacked)")
    max_rows: int = Field(200_000, ge=1, le=100_000_000, description="rows (examples) of an uploaded file")
    max_columns: int = Field(4_096, ge=1, le=1_000_000, description="columns of an uploaded CSV, or features per "
                             "example of an upload")
    max_params: int = Field(5_000_000, ge=1, le=10_000_000_000, description="a model's parameters, counted "
                            "from the config before anything is built")
    max_activation_mb: int = Field(1_024, ge=1, le=1_000_000, description="a model's activations for one batch "
                                   "in MB (float32, forward pass), estimated from the config")
    max_run_work: int = Field(100_000_000, ge=1, le=10**15, description="a run's work: epochs × training "
                              "examples (e.g. 100 epochs of 60,000 digits = 6,000,000)")
    max_run_seconds: int = Field(3_600, ge=1, le=10**7, description="a run's wall time: at the limit the worker "
                                 "stops it, keeping every epoch, with the reason on its page")
    worker_memory_mb: int = Field(6_144, ge=256, le=10**7, description="a training worker's memory (resident, "
                                  "watched by the dashboard that started it): over it, the worker dies alone, its "
                                  "run fails as out of memory and a fresh worker takes the next run")
    helper_memory_mb: int = Field(2_048, ge=256, le=10**7, description="the memory of the helper that builds "
                                  "models for the Experiment page's summary (replaced when it dies)")
    dashboard_url: str = Field("http://localhost:8501", min_length=1, max_length=2000,
                               description="the dashboard's address, for the link `bnviz.watch` prints when a "
                               "script starts recording a run (`<address>/?run=<id>`)")
    backend: Backend = Field(DEFAULT_BACKEND, description="the Keras backend of a new config that does not name one: "
                             "`tensorflow`, `jax` or `torch` (see [Backends](#backends))")
    tf_threads: int | None = Field(None, ge=1, le=256, description="a worker's intra-op threads (TensorFlow, "
                                   "PyTorch; JAX: `1` makes it single-threaded); unset: cores − 1, which leaves a "
                                   "core to the web server")

    @field_validator("home", "data_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("worker_cpus", "executor", "backend", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("admin_key")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value if value and value.strip() else None

    @field_validator("ray_gpu_backends")
    @classmethod
    def _known_backends(cls, value: str) -> str:
        unknown = sorted({n.strip() for n in value.split(",") if n.strip()} - set(BACKENDS))
        if unknown:
            raise ValueError(f"a comma-separated list of {', '.join(BACKENDS)} ({', '.join(unknown)}: no such backend)")
        return value

    @property
    def gpu_backends(self) -> frozenset[str]:
        """BNVIZ_RAY_GPU_BACKENDS as a set of backend names."""
        return frozenset(n.strip() for n in self.ray_gpu_backends.split(",") if n.strip())


def variable(field: str) -> str:
    """The environment variable of a settings field: `max_jobs` -> `BNVIZ_MAX_JOBS`."""
    return PREFIX + field.upper()


def settings() -> Settings:
    """The settings of the current environment, validated; a bad value raises a `SettingsError`."""
    return _parse(tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(PREFIX))))


@functools.lru_cache(maxsize=8)
def _parse(environment: tuple[tuple[str, str], ...]) -> Settings:
    try:
        return Settings(_env_file=None)
    except ValidationError as exc:
        raise SettingsError(_message(exc, dict(environment))) from None


def _message(exc: ValidationError, environment: dict[str, str]) -> str:
    """One sentence per bad variable: its name, what is allowed, what it got."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0])
        name = variable(field)
        got = next((v for k, v in environment.items() if k.upper() == name), "")
        lines.append(f"{name} must be {_allowed(field, error)}, got {got!r}")
    return "; ".join(lines)


def _allowed(field: str, error: dict) -> str:
    """What a field accepts, in words: 'a whole number from 1 to 64', 'one of local, ray, none'."""
    info = Settings.model_fields[field]
    low = next((m.ge for m in info.metadata if getattr(m, "ge", None) is not None), None)
    high = next((m.le for m in info.metadata if getattr(m, "le", None) is not None), None)
    bounds = f" from {low:g} to {high:g}" if low is not None and high is not None else ""
    kind = error["type"]
    if kind.startswith("int") or (kind in ("greater_than_equal", "less_than_equal") and info.annotation in (int,
                                                                                                        int | None)):
        return f"a whole number{bounds}"
    if kind.startswith("float") or kind in ("greater_than_equal", "less_than_equal"):
        return f"a number{bounds}"
    if kind == "literal_error":
        return "one of " + ", ".join(str(v) for v in error["ctx"]["expected"].replace("'", "").split(" or "))
    if kind.startswith("bool"):
        return "1 or 0 (true/false, yes/no, on/off also work)"
    return str(error["msg"]).removeprefix("Value error, ")


def table() -> str:
    """The README's table of environment variables, in Markdown, made from the fields above."""
    rows = ["| variable | default | what it does |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        rows.append(f"| `{variable(name)}` | {_shown(field.default)} | {field.description} |")
    return "\n".join(rows)


def _shown(default: object) -> str:
    if default in (None, "", False):
        return "unset"
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    return f"`{default}`"
