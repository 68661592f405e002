"""Experiment configuration: one validated, JSON-serializable object per experiment.

Everything a run depends on lives here, so a config is the unit that gets stored,
compared, de-duplicated and shared in a URL. Validation happens once, at the edge:
nothing invalid ever reaches Keras.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bnviz.data import registry as datasets
from bnviz.errors import UserError
from bnviz.norm_config import NORMALIZATIONS as NORMALIZATIONS
from bnviz.norm_config import PLACEMENTS as PLACEMENTS
from bnviz.norm_config import Normalization as Normalization
from bnviz.norm_config import NormConfig, group_count
from bnviz.norm_config import Placement as Placement
from bnviz.settings import DEFAULT_BACKEND, Backend

Activation = Literal["relu", "sigmoid", "tanh", "elu", "selu", "gelu", "leaky_relu", "linear"]
Family = Literal["mlp", "cnn", "mnist_cnn_a", "mnist_cnn_b", "cifar10_cnn"]
Initializer = Literal[
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal", "lecun_uniform"
]
Optimizer = Literal["sgd", "momentum", "adam", "rmsprop"]
Loss = Literal["auto", "binary_crossentropy", "sparse_categorical_crossentropy", "categorical_crossentropy"]
Preprocessing = Literal["auto", "unit", "standardize", "raw"]
Validation = Literal["test", "split", "none"]
Augmentation = Literal["none", "shear_zoom_flip"]

ACTIVATIONS: tuple[str, ...] = Activation.__args__
FAMILIES: tuple[str, ...] = Family.__args__
OPTIMIZERS: tuple[str, ...] = Optimizer.__args__
INITIALIZERS: tuple[str, ...] = Initializer.__args__

TUTORIAL_FAMILIES = ("mnist_cnn_a", "mnist_cnn_b", "cifar10_cnn")
# NormConfig fields added after runs were stored; left out of the fingerprint at their default, so
# configs from before keep their fingerprint (and identical-run reuse still finds their runs).
_LATER_NORM_DEFAULTS = {"groups": 2, "noise": 0.0}
_LATER_INSTRUMENT_DEFAULTS = {"landscape": False}  # the same for instrument fields


class ConfigError(UserError):
    """A configuration was rejected; the message names the field, the value and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class DatasetConfig(_Strict):
    name: str = Field("circles", description="a dataset of the registry (bnviz.data.registry)")
    n_train: int | None = Field(None, ge=1, le=1_000_000, description="training examples (None = dataset default)")
    n_test: int | None = Field(None, ge=1, le=1_000_000, description="test examples (None = dataset default)")
    noise: float = Field(0.1, ge=0.0, le=2.0, description="noise of the 2-D generators")
    n_classes: int = Field(3, ge=2, le=10, description="classes of the blobs generator")
    seed: int = Field(1, ge=0, le=2**31 - 1, description="seed of the data generator / split")
    preprocessing: Preprocessing = "auto"
    augmentation: Augmentation = "none"
    path: str | None = Field(None, max_length=1024, description="file for npz/csv datasets")
    label_column: str = Field("label", min_length=1, max_length=128)

    @field_validator("name", mode="before")
    @classmethod
    def _registered(cls, value: Any) -> Any:
        if not isinstance(value, str) or value not in datasets.REGISTRY:  # said like every fixed choice
            allowed = [repr(n) for n in datasets.names()]
            expected = f"{', '.join(allowed[:-1])} or {allowed[-1]}" if len(allowed) > 1 else "".join(allowed)
            raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
        return value

    @model_validator(mode="after")
    def _path_matches_name(self) -> DatasetConfig:
        is_file = datasets.get(self.name).is_file
        if is_file and not self.path:
            raise ValueError(f"dataset {self.name!r} needs a path to a .{self.name} file")
        if not is_file and self.path:
            files = " and ".join(datasets.names(lambda e: e.is_file))
            raise ValueError(f"path is only used by the {files} datasets, not {self.name!r}")
        return self


class ModelConfig(_Strict):
    family: Family = "mlp"
    hidden: list[int] = Field(default_factory=lambda: [50], description="dense layer widths (MLP, CNN head)")
    filters: list[int] = Field(default_factory=lambda: [32, 64], description="conv block widths (CNN)")
    kernel_size: int = Field(3, ge=1, le=11)
    activation: Activation = "relu"
    norm: NormConfig = Field(default_factory=NormConfig)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    initializer: Initializer = "glorot_uniform"
    weight_scale: float = Field(1.0, gt=0.0, le=1000.0, description="multiplies every initial kernel")

    @field_validator("hidden", "filters")
    @classmethod
    def _widths(cls, value: list[int]) -> list[int]:
        if len(value) > 32:
            raise ValueError(f"at most 32 layers, got {len(value)}")
        bad = [w for w in value if not 1 <= w <= 4096]
        if bad:
            raise ValueError(f"layer widths must be between 1 and 4096, got {bad[0]}")
        return value

    @model_validator(mode="after")
    def _shape(self) -> ModelConfig:
        if self.family == "mlp" and not self.hidden:
            raise ValueError("an MLP needs at least one hidden layer")
        if self.family == "cnn" and not self.filters:
            raise ValueError("a CNN needs at least one conv block")
        blocks = self.n_blocks
        bad = [k for k in self.norm.per_layer if k > blocks]
        if bad:
            raise ValueError(f"norm.per_layer names block {bad[0]}, but this model has {blocks} blocks")
        if self.norm.kind == "group" and self.family in ("mlp", "cnn"):  # the tutorials' widths: layer_plan
            widths = self.hidden if self.family == "mlp" else [*self.filters, *self.hidden]
            for number, width in enumerate(widths, 1):
                if self.norm.placement_for(number) != "none":
                    group_count(self.norm, width, f"block {number}")
        return self

    @property
    def n_blocks(self) -> int:
        """Blocks whose BN placement can be chosen (linear layer + activation)."""
        return {
            "mlp": len(self.hidden),
            "cnn": len(self.filters) + len(self.hidden),
            "mnist_cnn_a": 3,
            "mnist_cnn_b": 3,
            "cifar10_cnn": 5,
        }[self.family]


class TrainingConfig(_Strict):
    optimizer: Optimizer = "adam"
    learning_rate: float = Field(0.001, gt=0.0, le=100.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="used by the momentum optimizer")
    batch_size: int = Field(32, ge=1, le=65536)
    epochs: int = Field(10, ge=1, le=10000)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    loss: Loss = "auto"
    validation: Validation = Field("test", description="validate on the test set, a split of train, or not")
    validation_split: float = Field(0.2, gt=0.0, lt=1.0)
    backend: Backend = Field(DEFAULT_BACKEND, description="the Keras backend that trains it (one per process)")


# With `instrument.landscape`, the step sizes η along the gradient, as multiples of the learning rate
# (bnviz.train.landscape): Santurkar et al.'s Fig. 4 looks up to 0.4 ×; we look further, up to 4 × the
# step SGD takes, where a rough landscape shows most.
LANDSCAPE_MULTIPLIERS = (0.05, 0.1, 0.2, 0.4, 1.0, 2.0, 4.0)


class InstrumentConfig(_Strict):
    """How much the run records. None of it changes what the model learns."""

    probe_size: int = Field(256, ge=8, le=4096, description="examples in the fixed probe batch")
    log_every: int = Field(10, ge=1, le=100000, description="record training loss every N batches")
    bins: int = Field(64, ge=8, le=256, description="histogram bins per position")
    gradients: bool = True
    landscape: bool = Field(False, description="with every probe, the loss and gradient a few steps along the "
                                               "gradient (Santurkar et al.'s landscape, bnviz.train.landscape)")


class ExperimentConfig(_Strict):
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    instrument: InstrumentConfig = Field(default_factory=InstrumentConfig)

    @model_validator(mode="after")
    def _model_fits_data(self) -> ExperimentConfig:
        image_family = self.model.family != "mlp"
        images = datasets.names(lambda e: e.may_be_image)  # images, or a file that may hold them
        if image_family and self.dataset.name not in images:
            raise ValueError(
                f"model family {self.model.family!r} needs an image dataset "
                f"({', '.join(images)}), not {self.dataset.name!r}; use the mlp family for it"
            )
        if self.dataset.augmentation != "none" and self.dataset.name not in images:
            raise ValueError(f"augmentation only applies to image datasets, not {self.dataset.name!r}")
        return self

    # --- conversions -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Any) -> ExperimentConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc)) from None

    @classmethod
    def from_json(cls, text: str) -> ExperimentConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        return cls.from_dict(data)

    def with_updates(self, updates: dict[str, Any]) -> ExperimentConfig:
        """A copy with dotted keys changed, e.g. {"training.epochs": 5}; validated."""
        data = self.to_dict()
        for dotted, value in updates.items():
            _set_dotted(data, dotted, value)
        return ExperimentConfig.from_dict(data)

    def fingerprint(self) -> str:
        """Stable hash of everything that determines the result: equal configs train identically.

        The default backend (and norm and instrument fields added later, at their defaults) are left out, so configs
        from before `training.backend` existed keep their fingerprint (and identical-run reuse still finds
        their runs)."""
        import hashlib

        data = self.to_dict()
        if data["training"]["backend"] == DEFAULT_BACKEND:
            del data["training"]["backend"]
        for key, default in _LATER_NORM_DEFAULTS.items():  # fields added later, at their default: as before
            if data["model"]["norm"].get(key) == default:
                del data["model"]["norm"][key]
        for key, default in _LATER_INSTRUMENT_DEFAULTS.items():
            if data["instrument"].get(key) == default:
                del data["instrument"][key]
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def encode(self) -> str:
        return encode_config(self)

    @classmethod
    def decode(cls, token: str) -> ExperimentConfig:
        return decode_config(token)


# --- dotted keys (CLI --set, URL overrides) ------------------------------

def flat_settings(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A config dict as {"model.norm.placement": "after", ...}, the keys `with_updates` takes.

    `per_layer` stays one value (a dict of block -> placement)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "per_layer":
            flat.update(flat_settings(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node or not isinstance(node[part], dict):
            raise ConfigError(f"unknown setting {dotted!r}: {'.'.join(parts[: i + 1])!r} is not a section")
        node = node[part]
    leaf = parts[-1]
    if not isinstance(node, dict) or (leaf not in node and parts[-2:-1] != ["per_layer"]):
        allowed = ", ".join(sorted(node)) if isinstance(node, dict) else ""
        raise ConfigError(f"unknown setting {dotted!r}; allowed here: {allowed}")
    node[leaf] = value


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse a CLI `key=value`; the value is read as JSON when it can be (numbers, lists, true)."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set expects key=value, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def allowed_range(loc: Sequence[Any] | str) -> str | None:
    """The allowed range of a numeric setting, e.g. "1 to 10000" for ("training", "epochs")."""
    parts = loc.split(".") if isinstance(loc, str) else list(loc)
    model: Any = ExperimentConfig
    info = None
    for part in parts:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        info = fields[part]
        model = info.annotation
    if info is None:
        return None
    low = high = None
    low_open = high_open = False
    for rule in info.metadata:
        if getattr(rule, "ge", None) is not None:
            low = rule.ge
        if getattr(rule, "gt", None) is not None:
            low, low_open = rule.gt, True
        if getattr(rule, "le", None) is not None:
            high = rule.le
        if getattr(rule, "lt", None) is not None:
            high, high_open = rule.lt, True
    if low is None and high is None:
        return None

    def n(v: Any) -> str:
        return f"{v:,}" if isinstance(v, int) else f"{v:g}"

    if high is None:
        return f"{'above' if low_open else 'from'} {n(low)}"
    if low is None:
        return f"{'below' if high_open else 'up to'} {n(high)}"
    return f"{'above ' if low_open else ''}{n(low)} to {n(high)}" + (f" (not {n(high)} itself)" if high_open else "")


def describe_validation_error(exc: ValidationError) -> str:
    """One readable line per problem: field path, the bad value, what is allowed."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        if err["type"] == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            msg = f"must be one of {expected}"
        value = err.get("input")
        allowed = allowed_range(err["loc"]) if err["type"] in _RANGE_ERRORS else None
        if allowed:
            msg = f"allowed {allowed}"
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        if err["type"] in ("missing",) or where == "config":
            lines.append(f"{where}: {msg}")
        else:
            lines.append(f"{where}: {msg} (got {shown})")
    return "; ".join(lines)


# --- compact URL encoding --------------------------------------------------

_PREFIX = "1"  # version of the encoding, so old links keep decoding
MAX_TOKEN_LENGTH = 4000


def encode_config(config: ExperimentConfig) -> str:
    """Non-default fields as compact JSON, deflated, base64url without padding."""
    payload = config.model_dump(mode="json", exclude_defaults=True)
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    packed = zlib.compress(raw, 9)
    return _PREFIX + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode_config(token: str) -> ExperimentConfig:
    """Exact inverse of encode_config; any malformed token raises ConfigError."""
    return ExperimentConfig.from_dict(decode_config_data(token))


def decode_config_data(token: str) -> dict[str, Any]:
    """The settings a config link carries, not yet validated (a form can show bad values and
    say what is wrong with them); a token that cannot be read at all raises ConfigError."""
    if not isinstance(token, str) or not token:
        raise ConfigError("the config link is empty")
    if len(token) > MAX_TOKEN_LENGTH:
        raise ConfigError(f"the config link is too long ({len(token)} characters, at most {MAX_TOKEN_LENGTH})")
    if token[0] != _PREFIX:
        raise ConfigError("the config link is not a bnviz config (unknown version)")
    body = token[1:]
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        raw = zlib.decompressobj().decompress(packed, 64_000)
        data = json.loads(raw)
    except (ValueError, zlib.error, UnicodeDecodeError):
        raise ConfigError("the config link is damaged and cannot be read") from None
    if not isinstance(data, dict):
        raise ConfigError("the config link does not hold a config")
    return data
